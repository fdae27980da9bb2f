// Connection caps: total, per address, pre-login, and the pre-login deadline.
#include "server/net/connection_limits.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace mailgate::net;

TEST(connection_limits, caps_per_address_total_and_prelogin) {
    connection_limits limits({.sessions = 5,
                              .sessions_per_address = 2,
                              .prelogin_sessions = 3,
                              .login_deadline = std::chrono::seconds(60)});
    cap_reached why{};
    std::vector<connection_slot> slots;
    slots.push_back(*limits.admit("192.0.2.1", why));
    slots.push_back(*limits.admit("192.0.2.1", why));
    EXPECT_FALSE(limits.admit("192.0.2.1", why));
    EXPECT_EQ(why, cap_reached::per_address);
    slots.push_back(*limits.admit("192.0.2.2", why));
    EXPECT_FALSE(limits.admit("192.0.2.3", why));
    EXPECT_EQ(why, cap_reached::prelogin); // three strangers at once
    for (auto& s : slots) s.logged_in();
    EXPECT_EQ(limits.prelogin(), 0u);
    slots.push_back(*limits.admit("192.0.2.3", why));
    slots.push_back(*limits.admit("192.0.2.4", why));
    EXPECT_FALSE(limits.admit("192.0.2.5", why));
    EXPECT_EQ(why, cap_reached::sessions);
    EXPECT_EQ(limits.active(), 5u);
    slots.clear();
    EXPECT_EQ(limits.active(), 0u);
    EXPECT_EQ(limits.prelogin(), 0u);
    EXPECT_TRUE(limits.admit("192.0.2.1", why));
}

TEST(connection_limits, step_limit_keeps_to_the_login_deadline_until_login) {
    connection_limits limits({.sessions = 5,
                              .sessions_per_address = 5,
                              .prelogin_sessions = 5,
                              .login_deadline = std::chrono::seconds(10)});
    cap_reached why{};
    auto slot = limits.admit("192.0.2.1", why);
    ASSERT_TRUE(slot);
    EXPECT_LE(slot->step_limit(std::chrono::seconds(60)), std::chrono::seconds(10));
    EXPECT_EQ(slot->step_limit(std::chrono::seconds(3)), std::chrono::seconds(3));
    slot->logged_in();
    slot->logged_in(); // twice is harmless
    EXPECT_EQ(slot->step_limit(std::chrono::seconds(60)), std::chrono::seconds(60));
    EXPECT_EQ(limits.prelogin(), 0u);
}

TEST(connection_limits, slots_are_numbered_and_shutdown_hears_when_the_last_one_goes) {
    connection_limits limits({.sessions = 5,
                              .sessions_per_address = 5,
                              .prelogin_sessions = 5,
                              .login_deadline = std::chrono::seconds(60)});
    int drained = 0;
    limits.when_drained([&] { ++drained; });
    EXPECT_EQ(drained, 1); // nothing was open: at once
    cap_reached why{};
    std::vector<connection_slot> slots;
    slots.push_back(*limits.admit("192.0.2.1", why));
    slots.push_back(*limits.admit("192.0.2.2", why));
    EXPECT_NE(slots[0].id(), slots[1].id());
    EXPECT_GT(slots[1].id(), slots[0].id());
    limits.when_drained([&] { ++drained; });
    slots.pop_back();
    EXPECT_EQ(drained, 1); // one still open
    slots.pop_back();
    EXPECT_EQ(drained, 2);
    slots.push_back(*limits.admit("192.0.2.3", why));
    slots.pop_back();
    EXPECT_EQ(drained, 2); // called once per when_drained()
}
