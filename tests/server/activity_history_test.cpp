// The dashboard's minute buckets.
#include "server/proxy/activity_history.hpp"

#include <gtest/gtest.h>

namespace mailgate::proxy {
namespace {

TEST(activity_history, an_hour_of_minutes_with_peaks_counts_and_carried_sessions) {
    activity_history h;
    const std::int64_t t0 = 1'800'000'000 - 1'800'000'000 % 60; // a minute start
    h.sessions_changed(t0 + 5, {{"imap", 1}});
    h.sessions_changed(t0 + 6, {{"imap", 3}});
    h.sessions_changed(t0 + 50, {{"imap", 2}});
    h.login(t0 + 7, true);
    h.login(t0 + 8, false);
    h.message(t0 + 9);
    h.upstream_error(t0 + 10, "office");
    h.upstream_error(t0 + 70, "office"); // next minute
    auto hour = h.last_hour(t0 + 5 * 60 + 1);
    ASSERT_EQ(hour.size(), 60u);
    EXPECT_EQ(hour.back().start, t0 + 5 * 60);
    const auto& first = hour[hour.size() - 6];
    EXPECT_EQ(first.start, t0);
    EXPECT_EQ(first.peak_sessions.at("imap"), 3u);
    EXPECT_EQ(first.logins_ok, 1u);
    EXPECT_EQ(first.logins_failed, 1u);
    EXPECT_EQ(first.messages, 1u);
    EXPECT_EQ(first.upstream_errors.at("office"), 1u);
    // Quiet minutes after it show the 2 sessions still open; minutes before it show none.
    EXPECT_EQ(hour[hour.size() - 5].peak_sessions.at("imap"), 2u);
    EXPECT_EQ(hour[hour.size() - 5].upstream_errors.at("office"), 1u);
    EXPECT_EQ(hour.back().peak_sessions.at("imap"), 2u);
    EXPECT_EQ(hour.back().logins_ok, 0u);
    EXPECT_TRUE(hour.front().peak_sessions.empty());
    // Over an hour later the ring slot is reused; the sessions carry on from the last change.
    auto later = h.last_hour(t0 + 3 * 3600);
    ASSERT_EQ(later.size(), 60u);
    EXPECT_EQ(later.front().peak_sessions.at("imap"), 2u);
    EXPECT_EQ(later.back().logins_ok + later.front().logins_ok, 0u);
    h.login(t0 + 3 * 3600, true); // the slot of t0 + 0 is reused, the old counts do not leak in
    EXPECT_EQ(h.last_hour(t0 + 3 * 3600).back().logins_ok, 1u);
    EXPECT_EQ(h.last_hour(t0 + 3 * 3600).back().messages, 0u);
}

} // namespace
} // namespace mailgate::proxy
