// Failed-login throttling: free failures, growing delays, unchecked refusal, parallel attempts, per-user delays.
#include "server/proxy/login_throttle.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace mailgate::proxy;
using result = login_throttle::result;
using std::chrono::milliseconds;

namespace {

throttle_policy policy() {
    return {.free_failures = 3,
            .max_failures = 6,
            .window = std::chrono::seconds(60),
            .first_delay = milliseconds(1000),
            .max_delay = milliseconds(4000)};
}

void fail(login_throttle& t, const char* address, const char* user) {
    auto a = t.begin(address, user);
    ASSERT_FALSE(a.refused());
    a.finish(result::failure);
}

} // namespace

TEST(login_throttle, delays_grow_after_the_free_failures_then_refuses_unchecked) {
    login_throttle t(policy());
    std::vector<long> delays;
    for (int i = 0; i < 6; ++i) {
        auto a = t.begin("192.0.2.1", "user" + std::to_string(i)); // a different user each time: per address
        ASSERT_FALSE(a.refused()) << i;
        delays.push_back(static_cast<long>(a.delay().count()));
        a.finish(result::failure);
    }
    EXPECT_EQ(delays, (std::vector<long>{0, 0, 0, 1000, 2000, 4000}));
    auto refused = t.begin("192.0.2.1", "alice");
    EXPECT_TRUE(refused.refused());
    EXPECT_TRUE(refused.first_refusal());
    auto again = t.begin("192.0.2.1", "alice");
    EXPECT_TRUE(again.refused());
    EXPECT_FALSE(again.first_refusal()); // logged once
    // Another address is not affected.
    auto other = t.begin("192.0.2.2", "alice");
    EXPECT_FALSE(other.refused());
    EXPECT_EQ(other.delay(), milliseconds(0));
}

TEST(login_throttle, refusal_ends_when_failures_leave_the_window) {
    auto p = policy();
    p.window = std::chrono::seconds(1);
    login_throttle t(p);
    for (int i = 0; i < 6; ++i) fail(t, "192.0.2.1", "bob");
    EXPECT_TRUE(t.begin("192.0.2.1", "bob").refused());
    std::this_thread::sleep_for(milliseconds(1100));
    EXPECT_FALSE(t.begin("192.0.2.1", "bob").refused());
}

TEST(login_throttle, parallel_attempts_count_before_they_finish) {
    login_throttle t(policy());
    std::vector<login_throttle::attempt> running;
    for (int i = 0; i < 6; ++i) {
        running.push_back(t.begin("192.0.2.1", "x"));
        ASSERT_FALSE(running.back().refused());
    }
    EXPECT_TRUE(t.begin("192.0.2.1", "x").refused()); // the seventh in parallel is never checked
    for (auto& a : running) a.finish(result::success);
    EXPECT_FALSE(t.begin("192.0.2.1", "x").refused()); // successes do not count
}

TEST(login_throttle, many_parallel_logins_from_a_clean_address_pass_when_so_configured) {
    auto p = policy();
    p.in_flight_counts_when_clean = false;
    login_throttle t(p);
    // An office behind one address: 100 clients log in at once; none is delayed or refused.
    std::vector<login_throttle::attempt> running;
    for (int i = 0; i < 100; ++i) {
        running.push_back(t.begin("192.0.2.1", "user" + std::to_string(i % 7)));
        ASSERT_FALSE(running.back().refused()) << i;
        EXPECT_EQ(running.back().delay(), milliseconds(0)) << i;
    }
    for (auto& a : running) a.finish(result::success);
    // Once the address has failed, parallel attempts count again.
    fail(t, "192.0.2.1", "x");
    for (int i = 0; i < 5; ++i) {
        running.push_back(t.begin("192.0.2.1", "x"));
        ASSERT_FALSE(running.back().refused()) << i;
    }
    EXPECT_TRUE(t.begin("192.0.2.1", "x").refused());
}

TEST(login_throttle, repeated_failures_and_unchecked_attempts_do_not_count) {
    login_throttle t(policy());
    for (int i = 0; i < 20; ++i) {
        auto a = t.begin("192.0.2.1", "printer");
        ASSERT_FALSE(a.refused()) << i;
        EXPECT_EQ(a.delay(), milliseconds(0));
        a.finish(i % 2 ? result::repeated_failure : result::not_checked);
    }
    { auto dropped = t.begin("192.0.2.1", "printer"); } // destroyed unfinished: released, not counted
    EXPECT_EQ(t.begin("192.0.2.1", "printer").delay(), milliseconds(0));
}

TEST(login_throttle, per_user_delay_only_for_addresses_that_failed_before) {
    login_throttle t(policy());
    // Guesses at alice from five addresses, one each: no address is throttled, but alice has 5 failures.
    for (int i = 1; i <= 5; ++i) fail(t, ("198.51.100." + std::to_string(i)).c_str(), "alice");
    // The real alice from a clean address: no delay, never locked out.
    auto real = t.begin("192.0.2.50", "alice");
    EXPECT_FALSE(real.refused());
    EXPECT_EQ(real.delay(), milliseconds(0));
    real.finish(result::success);
    // A guesser that already failed once pays alice's delay.
    auto guesser = t.begin("198.51.100.1", "alice");
    EXPECT_FALSE(guesser.refused());
    EXPECT_EQ(guesser.delay(), milliseconds(4000));
}

TEST(login_throttle, ipv6_is_throttled_per_64) {
    EXPECT_EQ(throttle_key("2001:db8:1:2:aaaa::1"), throttle_key("2001:db8:1:2:bbbb::2"));
    EXPECT_NE(throttle_key("2001:db8:1:2::1"), throttle_key("2001:db8:1:3::1"));
    EXPECT_EQ(throttle_key("192.0.2.7"), "192.0.2.7");
    login_throttle t(policy());
    for (int i = 0; i < 6; ++i) fail(t, ("2001:db8::" + std::to_string(i + 1)).c_str(), "u");
    EXPECT_TRUE(t.begin("2001:db8::ffff", "u").refused());
}

TEST(login_throttle, memory_is_bounded_under_a_flood_of_addresses) {
    auto p = policy();
    p.max_tracked = 100;
    login_throttle t(p);
    for (int i = 0; i < 1000; ++i)
        fail(t, ("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250)).c_str(), "u");
    EXPECT_LE(t.tracked_addresses(), 100u);
    EXPECT_GT(t.tracked_addresses(), 0u);
}

TEST(login_throttle, refusal_is_reported_once_even_when_parallel_attempts_end_unchecked) {
    login_throttle t(policy());
    for (int i = 0; i < 3; ++i) fail(t, "192.0.2.9", "u");
    std::vector<login_throttle::attempt> running;
    for (int i = 0; i < 3; ++i) running.push_back(t.begin("192.0.2.9", "u"));
    auto first = t.begin("192.0.2.9", "u");
    EXPECT_TRUE(first.refused());
    EXPECT_TRUE(first.first_refusal());
    for (auto& a : running) a.finish(result::not_checked); // e.g. the KDF queue was full
    auto admitted = t.begin("192.0.2.9", "u");
    EXPECT_FALSE(admitted.refused());
    admitted.finish(result::failure);
    for (int i = 0; i < 2; ++i) fail(t, "192.0.2.9", "u");
    auto again = t.begin("192.0.2.9", "u");
    EXPECT_TRUE(again.refused());
    EXPECT_FALSE(again.first_refusal());
}
