#include "server/spool/queue_item.hpp"
#include "server/spool/spool_directory.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace mailgate::spool {
namespace {

envelope sample() {
    envelope e;
    e.account_id = 7;
    e.account_name = "scanner";
    e.received = 1796240000;
    e.peer = "192.168.1.20";
    e.session = 42;
    e.mail = "MAIL FROM:<scanner@office.test> BODY=8BITMIME";
    e.rcpt = {"RCPT TO:<a@example.test>", "RCPT TO:<b@example.test>"};
    return e;
}

TEST(spool_message, envelope_round_trip_and_rejects_what_is_not_ours) {
    auto e = sample();
    e.id = "001796240000-0123456789abcdef";
    auto text = serialize_envelope(e) + "Subject: x\r\n\r\nbody\r\n.\r\n";
    std::size_t head = 0;
    auto back = parse_envelope(text, head);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->mail, e.mail);
    EXPECT_EQ(back->rcpt, e.rcpt);
    EXPECT_EQ(back->account_id, 7);
    EXPECT_EQ(text.substr(head), "Subject: x\r\n\r\nbody\r\n.\r\n");
    EXPECT_FALSE(parse_envelope("something else\n\n", head));
    EXPECT_FALSE(parse_envelope(serialize_envelope(e).substr(0, 40), head)); // cut short
    e.rcpt.clear();
    EXPECT_FALSE(parse_envelope(serialize_envelope(e), head)); // nobody to deliver to
    EXPECT_EQ(path_address("RCPT TO:<a@example.test> NOTIFY=NEVER"), "a@example.test");
    EXPECT_EQ(path_address("MAIL FROM:<>"), "");
}

TEST(spool_message, state_round_trip_and_retry_now) {
    delivery_state s;
    s.attempts = 3;
    s.next_attempt = 99;
    s.last_error = "451 try\r\nlater"; // kept on one line
    s.set(0, {recipient_outcome::kind::delivered, {}});
    s.set(2, {recipient_outcome::kind::failed, "550 5.1.1 unknown"});
    s.in_doubt = true;
    auto back = parse_state(serialize_state(s));
    EXPECT_EQ(back.attempts, 3u);
    EXPECT_EQ(back.next_attempt, 99);
    EXPECT_EQ(back.last_error, "451 try  later");
    EXPECT_EQ(back.outcome(0), recipient_outcome::kind::delivered);
    EXPECT_EQ(back.outcome(1), recipient_outcome::kind::pending);
    EXPECT_EQ(back.outcome(2), recipient_outcome::kind::failed);
    EXPECT_EQ(back.recipients[2].reply, "550 5.1.1 unknown");
    EXPECT_TRUE(back.in_doubt);
    back.failed = true;
    back.retry_now();
    EXPECT_FALSE(back.failed);
    EXPECT_EQ(back.next_attempt, 0);
    EXPECT_EQ(back.outcome(0), recipient_outcome::kind::delivered); // never sent twice
    EXPECT_EQ(back.outcome(2), recipient_outcome::kind::pending);
}

TEST(spool_directory, a_message_is_queued_only_once_committed) {
    temp_dir tmp;
    spool_directory dir(tmp.path / "spool");
    auto m = dir.begin(sample());
    ASSERT_TRUE(m);
    EXPECT_TRUE(spool_directory::valid_id(m->id()));
    EXPECT_TRUE(m->write("Subject: x\r\n\r\n..dot\r\n"));
    EXPECT_TRUE(m->write(".\r\n"));
    EXPECT_TRUE(dir.list().empty()); // still incoming
    ASSERT_TRUE(m->commit());
    auto id = m->id();
    ASSERT_EQ(dir.list(), std::vector<std::string>{id});
    auto q = dir.read(id);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->data_size, std::string("Subject: x\r\n\r\n..dot\r\n.\r\n").size());
    EXPECT_EQ(dir.headers(id), "Subject: x\r\n");
    auto item = describe(*q, {}, false);
    EXPECT_EQ(item.sender, "scanner@office.test");
    EXPECT_EQ(item.recipients, (std::vector<std::string>{"a@example.test", "b@example.test"}));
    EXPECT_EQ(item.state, "queued");
    EXPECT_EQ(dir.total_bytes(), q->data_offset + q->data_size);
    EXPECT_TRUE(dir.remove(id));
    EXPECT_TRUE(dir.list().empty());
}

TEST(spool_directory, recovery_removes_what_never_got_250) {
    temp_dir tmp;
    spool_directory dir(tmp.path / "spool");
    {
        auto abandoned = dir.begin(sample()); // removed when dropped
        ASSERT_TRUE(abandoned);
    }
    EXPECT_TRUE(std::filesystem::is_empty(tmp.path / "spool" / "incoming"));
    // What a crash leaves: an incoming file, a state without its message, a half-written state.
    std::ofstream(tmp.path / "spool" / "incoming" / "001796240000-0123456789abcdef.tmp") << "partial";
    std::ofstream(tmp.path / "spool" / "queue" / "001796240000-0123456789abcdef.state") << "attempts 1\n";
    std::ofstream(tmp.path / "spool" / "queue" / "001796240000-0123456789abcdef.state.tmp") << "att";
    auto kept = dir.begin(sample());
    kept->write("x\r\n.\r\n");
    ASSERT_TRUE(kept->commit());
    delivery_state s;
    s.attempts = 2;
    ASSERT_TRUE(dir.write_state(kept->id(), s));
    spool_directory again(tmp.path / "spool");
    again.recover();
    EXPECT_TRUE(std::filesystem::is_empty(tmp.path / "spool" / "incoming"));
    EXPECT_EQ(again.list(), std::vector<std::string>{kept->id()});
    EXPECT_EQ(again.read_state(kept->id()).attempts, 2u);
    EXPECT_FALSE(
        std::filesystem::exists(tmp.path / "spool" / "queue" / "001796240000-0123456789abcdef.state"));
    EXPECT_FALSE(spool_directory::valid_id("../../etc/passwd"));
    EXPECT_FALSE(again.read("../x"));
}

} // namespace
} // namespace mailgate::spool
