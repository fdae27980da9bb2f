// IMAP mailbox commands after login (imap/mailbox_client.hpp): each provider transcript is fed whole, in 7-byte
// pieces and byte by byte, and must give the same commands, body bytes and outcome.
#include "protocols/imap/fetch_response.hpp"
#include "protocols/imap/mailbox_client.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace mailgate::protocols::imap {
namespace {

struct outcome {
    std::string written; // every command the codec sent
    std::string body;    // every message_chunk, concatenated
    std::string end;     // "done", "failed", or "read" when it wants more than the transcript has
    bool operator==(const outcome&) const = default;
    friend void PrintTo(const outcome& o, std::ostream* os) {
        *os << "{written: \"" << o.written << "\", body: \"" << o.body << "\", end: " << o.end << "}";
    }
};

// An IMAP literal of `bytes`: its marker line end and the bytes.
std::string literal(std::string_view bytes) {
    return "{" + std::to_string(bytes.size()) + "}\r\n" + std::string(bytes);
}

outcome run(mailbox_client& c, std::string_view provider, std::size_t piece) {
    outcome out;
    for (;;) {
        auto a = c.next();
        if (auto* w = std::get_if<write_output>(&a)) {
            out.written += w->bytes;
            c.wrote();
        } else if (auto* m = std::get_if<message_chunk>(&a)) {
            out.body += m->bytes;
        } else if (std::holds_alternative<read_input>(a)) {
            if (provider.empty()) {
                out.end = "read";
                return out;
            }
            auto n = std::min(piece, provider.size());
            c.received(provider.substr(0, n));
            provider.remove_prefix(n);
        } else if (auto* s = std::get_if<client_step>(&a)) {
            out.end = *s == client_step::done ? "done" : "failed";
            return out;
        } else {
            out.end = "start_tls?";
            return out;
        }
    }
}

// Starts `begin` on a fresh codec and feeds `provider`, in every piece size; all must agree. Returns the codec
// of the whole-transcript run for further checks.
std::unique_ptr<mailbox_client> expect_run(const std::function<void(mailbox_client&)>& begin,
                                           std::string_view provider, const outcome& expected,
                                           std::vector<std::string> caps = {"IMAP4rev1", "UIDPLUS"}) {
    std::unique_ptr<mailbox_client> whole;
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, provider.size() + 1}) {
        auto c = std::make_unique<mailbox_client>(caps);
        begin(*c);
        EXPECT_EQ(run(*c, provider, piece), expected) << "in pieces of " << piece;
        whole = std::move(c);
    }
    return whole;
}

TEST(imap_mailbox_client, select_reads_uidvalidity_and_exists) {
    auto c = expect_run([](mailbox_client& c) { c.select("INBOX"); },
                        "* FLAGS (\\Answered \\Seen \\Deleted)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n"
                        "* OK [UIDVALIDITY 1712345678] UIDs valid\r\n* OK [UIDNEXT 9] Predicted next UID\r\n"
                        "m1 OK [READ-WRITE] Select completed.\r\n",
                        {"m1 SELECT \"INBOX\"\r\n", "", "done"});
    EXPECT_EQ(c->uidvalidity(), 1712345678u);
    EXPECT_EQ(c->exists(), 3u);
}

TEST(imap_mailbox_client, select_without_uidvalidity_or_refused_fails) {
    expect_run([](mailbox_client& c) { c.select("INBOX"); }, "* 3 EXISTS\r\nm1 OK done\r\n",
               {"m1 SELECT \"INBOX\"\r\n", "", "failed"});
    auto c = expect_run([](mailbox_client& c) { c.select("Nope"); },
                        "m1 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n",
                        {"m1 SELECT \"Nope\"\r\n", "", "failed"});
    EXPECT_EQ(c->error(), upstream_errc::command_refused);
    EXPECT_NE(c->diagnostics().find("NONEXISTENT"), std::string::npos);
}

TEST(imap_mailbox_client, sizes_in_uid_order_without_deleted_messages) {
    auto c = expect_run(
        [](mailbox_client& c) {
            c.select("INBOX");
            run(c, "* 3 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\nm1 OK\r\n", 1000);
            c.fetch_sizes();
        },
        "* 1 FETCH (UID 4 RFC822.SIZE 120 FLAGS (\\Seen))\r\n"
        "* 2 FETCH (FLAGS (\\Deleted) UID 6 RFC822.SIZE 99)\r\n"
        "* 3 FETCH (RFC822.SIZE 5000 UID 9 FLAGS ())\r\n"
        "* 2 FETCH (FLAGS (\\Seen))\r\n" // unsolicited, no UID: ignored
        "m2 OK Fetch completed.\r\n",
        {"m2 UID FETCH 1:* (UID RFC822.SIZE FLAGS)\r\n", "", "done"});
    ASSERT_EQ(c->entries().size(), 2u);
    EXPECT_EQ(c->entries()[0].uid, 4u);
    EXPECT_EQ(c->entries()[0].size, 120u);
    EXPECT_EQ(c->entries()[1].uid, 9u);
    EXPECT_EQ(c->entries()[1].size, 5000u);
}

TEST(imap_mailbox_client, empty_folder_sends_no_fetch) {
    mailbox_client c({});
    c.fetch_sizes();
    EXPECT_EQ(run(c, "", 1), (outcome{"", "", "done"}));
    EXPECT_TRUE(c.entries().empty());
}

TEST(imap_mailbox_client, message_ids_from_header_field_literals_in_any_item_order) {
    auto c = expect_run(
        [](mailbox_client& c) {
            c.fetch_message_ids({3, 4, 5, 9});
        },
        "* 1 FETCH (UID 3 BODY[HEADER.FIELDS (MESSAGE-ID)] " + literal("Message-ID: <a@b.test>\r\n\r\n") +
            ")\r\n* 2 FETCH (BODY[HEADER.FIELDS (\"MESSAGE-ID\")] " +
            literal("Message-id:\r\n  <folded@b.test>\r\n\r\n") + " UID 4)\r\n" +
            "* 3 FETCH (UID 5 BODY[HEADER.FIELDS (MESSAGE-ID)] " + literal("\r\n") + ")\r\nm1 OK done\r\n",
        {"m1 UID FETCH 3:5,9 (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])\r\n", "", "done"});
    EXPECT_EQ(c->message_ids().at(3), "<a@b.test>");
    EXPECT_EQ(c->message_ids().at(4), "<folded@b.test>");
    EXPECT_EQ(c->message_ids().at(5), "");
    EXPECT_FALSE(c->message_ids().contains(9));
}

// max_response holds one untagged response with all its small literals: each literal kept counts against it, so
// that a response of many literals just under the limit cannot make the codec hold them all.
TEST(imap_mailbox_client, small_literals_count_together_against_max_response) {
    mailbox_limits limits;
    limits.max_response = 200;
    std::string filler(120, 'x');
    std::string id = "Message-ID: <a@b.test>\r\n\r\n";
    std::string filler_first = "* 1 FETCH (UID 4 X-FILLER " + literal(filler) +
                               " BODY[HEADER.FIELDS (MESSAGE-ID)] " + literal(id) + ")\r\nm1 OK\r\n";
    std::string id_first = "* 1 FETCH (UID 4 BODY[HEADER.FIELDS (MESSAGE-ID)] " + literal(id) + " X-FILLER " +
                           literal(filler) + ")\r\nm1 OK\r\n";
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
        mailbox_client c({}, limits);
        c.fetch_message_ids({4});
        EXPECT_EQ(run(c, filler_first, piece).end, "done") << "in pieces of " << piece;
        EXPECT_EQ(c.message_ids().at(4), "") << "in pieces of " << piece; // over the limit: read as empty
        mailbox_client d({}, limits);
        d.fetch_message_ids({4});
        EXPECT_EQ(run(d, id_first, piece).end, "done") << "in pieces of " << piece;
        EXPECT_EQ(d.message_ids().at(4), "<a@b.test>") << "in pieces of " << piece;
    }
}

TEST(imap_mailbox_client, message_body_streams_as_chunks) {
    std::string body = "From: a@b\r\nSubject: x\r\n\r\nline one\r\n.dot line\r\n";
    auto c = expect_run([](mailbox_client& c) { c.fetch_message(12, 48, std::nullopt, false); },
                        "* 5 FETCH (UID 12 BODY[] {" + std::to_string(body.size()) + "}\r\n" + body +
                            ")\r\nm1 OK Fetch completed.\r\n",
                        {"m1 UID FETCH 12 BODY.PEEK[]\r\n", body, "done"});
    EXPECT_TRUE(c->message_found());
}

TEST(imap_mailbox_client, mark_seen_fetches_body_and_accepts_the_flags_update) {
    expect_run([](mailbox_client& c) { c.fetch_message(12, 3, std::nullopt, true); },
               "* 5 FETCH (UID 12 BODY[] {3}\r\nabc FLAGS (\\Seen))\r\nm1 OK\r\n",
               {"m1 UID FETCH 12 BODY[]\r\n", "abc", "done"});
}

TEST(imap_mailbox_client, a_vanished_message_is_not_found) {
    auto c = expect_run([](mailbox_client& c) { c.fetch_message(12, 3, std::nullopt, false); },
                        "m1 OK Fetch completed.\r\n", {"m1 UID FETCH 12 BODY.PEEK[]\r\n", "", "done"});
    EXPECT_FALSE(c->message_found());
}

TEST(imap_mailbox_client, top_of_a_long_message_fetches_header_and_a_partial_text) {
    expect_run([](mailbox_client& c) { c.fetch_message(7, 100000, 2, true); },
               "* 1 FETCH (UID 7 BODY[HEADER] {6}\r\nA: b\r\n BODY[TEXT]<0> {4}\r\n\r\nxy)\r\nm1 OK\r\n",
               {"m1 UID FETCH 7 (BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.2000>)\r\n", "A: b\r\n\r\nxy", "done"});
    expect_run([](mailbox_client& c) { c.fetch_message(7, 100000, 0, false); },
               "* 1 FETCH (UID 7 BODY[HEADER] \"A: b\")\r\nm1 OK\r\n",
               {"m1 UID FETCH 7 BODY.PEEK[HEADER]\r\n", "A: b", "done"});
    // Short messages are fetched whole (never marked seen by TOP).
    expect_run([](mailbox_client& c) { c.fetch_message(7, 900, 1, true); },
               "* 1 FETCH (UID 7 BODY[] {0}\r\n)\r\nm1 OK\r\n",
               {"m1 UID FETCH 7 BODY.PEEK[]\r\n", "", "done"});
}

TEST(imap_mailbox_client, provider_closing_mid_body_fails_after_the_bytes_it_sent) {
    expect_run([](mailbox_client& c) { c.fetch_message(12, 100, std::nullopt, false); },
               "* 5 FETCH (UID 12 BODY[] {100}\r\npartial",
               {"m1 UID FETCH 12 BODY.PEEK[]\r\n", "partial", "read"});
    mailbox_client c({});
    c.fetch_message(12, 100, std::nullopt, false);
    auto first = run(c, "* 5 FETCH (UID 12 BODY[] {100}\r\npartial", 1000);
    c.received("");
    EXPECT_EQ(run(c, "", 1).end, "failed");
    EXPECT_EQ(c.error(), upstream_errc::closed);
}

TEST(imap_mailbox_client, delete_with_uidplus_stores_then_uid_expunges) {
    expect_run(
        [](mailbox_client& c) {
            c.delete_messages({9, 3, 4});
        },
        "m1 OK Store completed.\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 4 EXPUNGE\r\nm2 OK Expunge completed.\r\n",
        {"m1 UID STORE 3:4,9 +FLAGS.SILENT (\\Deleted)\r\nm2 UID EXPUNGE 3:4,9\r\n", "", "done"});
}

TEST(imap_mailbox_client, delete_without_uidplus_expunges_only_when_all_deleted_are_ours) {
    auto c = expect_run(
        [](mailbox_client& c) {
            c.delete_messages({3, 4});
        },
        "m1 OK\r\n* SEARCH 3 4\r\nm2 OK\r\nm3 OK\r\n",
        {"m1 UID STORE 3:4 +FLAGS.SILENT (\\Deleted)\r\nm2 UID SEARCH DELETED\r\nm3 EXPUNGE\r\n", "", "done"},
        {"IMAP4rev1"});
    EXPECT_FALSE(c->expunge_deferred());
    c = expect_run(
        [](mailbox_client& c) {
            c.delete_messages({3, 4});
        },
        "m1 OK\r\n* SEARCH 2 3 4\r\nm2 OK\r\n",
        {"m1 UID STORE 3:4 +FLAGS.SILENT (\\Deleted)\r\nm2 UID SEARCH DELETED\r\n", "", "done"},
        {"IMAP4rev1"});
    EXPECT_TRUE(c->expunge_deferred());
}

TEST(imap_mailbox_client, long_uid_sets_are_split_over_commands) {
    std::vector<std::uint32_t> uids;
    for (std::uint32_t i = 1; i <= 2000; ++i) uids.push_back(i * 2); // no ranges: 2000 single UIDs
    mailbox_client c({"UIDPLUS"});
    c.delete_messages(uids);
    std::string provider;
    auto out = run(c, "", 1);
    EXPECT_EQ(out.end, "read");
    EXPECT_LE(out.written.size(), 4100u);
    std::size_t commands = 1;
    for (int i = 1; i < 20; ++i) {
        auto more = run(c, "m" + std::to_string(i) + " OK\r\n", 100);
        if (more.end == "done") break;
        ++commands;
        EXPECT_LE(more.written.size(), 4100u);
    }
    EXPECT_GT(commands, 4u); // several STOREs and several UID EXPUNGEs
}

TEST(imap_mailbox_client, append_waits_for_the_continuation_then_the_tagged_ok) {
    mailbox_client c({});
    c.append("Sent", 5);
    EXPECT_EQ(run(c, "+ OK\r\n", 100), (outcome{"m1 APPEND \"Sent\" (\\Seen) {5}\r\n", "", "done"}));
    c.literal_written();
    EXPECT_EQ(run(c, "m1 OK [APPENDUID 7 12] Append completed.\r\n", 3), (outcome{"\r\n", "", "done"}));
    mailbox_client refused({});
    refused.append("Sent", 5);
    EXPECT_EQ(run(refused, "m1 NO [TRYCREATE] no such mailbox\r\n", 100).end, "failed");
}

// Found by fuzz_imap_mailbox_client: a tagged OK before the "+" was taken for the invitation, and the caller
// wrote the message onto the connection as if it were the literal.
TEST(imap_mailbox_client, append_completed_without_the_continuation_fails) {
    auto c = expect_run([](mailbox_client& c) { c.append("Sent", 5); },
                        "m1 OK [APPENDUID 7 12] Append completed.\r\n",
                        {"m1 APPEND \"Sent\" (\\Seen) {5}\r\n", "", "failed"});
    EXPECT_EQ(c->error(), upstream_errc::malformed_reply);
}

TEST(imap_mailbox_client, bye_or_junk_fails) {
    expect_run([](mailbox_client& c) { c.fetch_sizes(); }, "", {"", "", "done"});
    expect_run([](mailbox_client& c) { c.delete_messages({1}); }, "* BYE going away\r\n",
               {"m1 UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n", "", "failed"});
    expect_run([](mailbox_client& c) { c.delete_messages({1}); }, "m9 OK\r\n",
               {"m1 UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n", "", "failed"});
    expect_run([](mailbox_client& c) { c.fetch_message(1, 1, std::nullopt, false); },
               "* 1 FETCH (UID 1 BODY[] \r\n", {"m1 UID FETCH 1 BODY.PEEK[]\r\n", "", "failed"});
    expect_run([](mailbox_client& c) { c.logout(); }, "* BYE Logging out\r\nm1 OK Logout completed.\r\n",
               {"m1 LOGOUT\r\n", "", "done"});
}

TEST(imap_fetch_response, message_id_of_header_blocks) {
    EXPECT_EQ(message_id_of("Message-ID: <x@y>\r\n\r\n"), "<x@y>");
    EXPECT_EQ(message_id_of("MESSAGE-ID:\t<x@y> \r\n\r\n"), "<x@y>");
    EXPECT_EQ(message_id_of("\r\n"), "");
    EXPECT_EQ(message_id_of("Message-ID: <\x01@y>\r\n"), "");
    EXPECT_EQ(trailing_literal("BODY[] {42}"), 42u);
    EXPECT_EQ(trailing_literal("BODY[] {42+}"), 42u);
    EXPECT_EQ(trailing_literal("BODY[] {x}"), std::nullopt);
    EXPECT_EQ(trailing_literal("BODY[] 42"), std::nullopt);
}

} // namespace
} // namespace mailgate::protocols::imap
