// The local-login cache: hits only for the same user, password and stored hash, until the entry expires.
#include "server/store/credential_cache.hpp"

#include <gtest/gtest.h>

using mailgate::store::credential_cache;

namespace {

// Time that moves only when the test says so.
struct fake_clock {
    credential_cache::clock::time_point now{std::chrono::hours(1)};
    credential_cache::now_function function() {
        return [this] { return now; };
    }
};

} // namespace

TEST(credential_cache, remembers_exact_triple_only) {
    credential_cache cache;
    EXPECT_FALSE(cache.contains("alice", "pw", "$h1"));
    cache.remember("alice", "pw", "$h1");
    EXPECT_TRUE(cache.contains("alice", "pw", "$h1"));
    EXPECT_TRUE(cache.contains("ALICE", "pw", "$h1")); // local users are case-insensitive
    EXPECT_FALSE(cache.contains("alice", "pw2", "$h1"));
    EXPECT_FALSE(cache.contains("alice", "pw", "$h2")); // password changed -> new hash -> miss
    EXPECT_FALSE(cache.contains("alicep", "w", "$h1"));
    cache.clear();
    EXPECT_FALSE(cache.contains("alice", "pw", "$h1"));
}

TEST(credential_cache, entries_expire) {
    fake_clock clock;
    credential_cache cache(std::chrono::seconds(1), 10000, clock.function());
    cache.remember("bob", "pw", "$h");
    EXPECT_TRUE(cache.contains("bob", "pw", "$h"));
    clock.now += std::chrono::milliseconds(1100);
    EXPECT_FALSE(cache.contains("bob", "pw", "$h"));
}

TEST(credential_cache, bounded_size) {
    constexpr int max_entries = 4;
    credential_cache cache(std::chrono::seconds(60), max_entries);
    auto user = [](int i) { return "user" + std::to_string(i); };
    auto held = [&](int n) {
        int count = 0;
        for (int i = 0; i < n; ++i) count += cache.contains(user(i), "pw", "$h") ? 1 : 0;
        return count;
    };
    // Up to the bound nothing is dropped.
    for (int i = 0; i < max_entries; ++i) cache.remember(user(i), "pw", "$h");
    EXPECT_EQ(held(max_entries), max_entries);
    // Past it, unexpired entries make room: never more than max_entries at once, and the newest is kept.
    for (int i = max_entries; i < 10 * max_entries; ++i) {
        cache.remember(user(i), "pw", "$h");
        EXPECT_LE(held(i + 1), max_entries) << "after remembering " << i + 1 << " users";
        EXPECT_TRUE(cache.contains(user(i), "pw", "$h")) << "user " << i;
    }
}
