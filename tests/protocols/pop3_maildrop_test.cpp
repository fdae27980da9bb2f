// POP3 maildrop codec transcripts (RFC 1939 TRANSACTION and UPDATE states, RFC 2449 CAPA): a logged-in client
// served from a folder snapshot, with the messages streamed in by the test as the provider would, every client
// feed and every message run whole, split at every offset and byte by byte.
#include "protocols/pop3/maildrop.hpp"
#include "tests/protocols/maildrop_transcript.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols::pop3 {
namespace {

using namespace mailgate::test::maildrop_transcript;
using mailgate::test::maildrop_transcript::check;
using mailgate::test::maildrop_transcript::step;

// Three messages as the provider sends them; their sizes are what RETR sends (CRLF, before dot-stuffing).
const std::string one = "Subject: one\r\n\r\nHello\r\n";
const std::string two = "Subject: two\r\n\r\n.hidden\r\n..two dots\r\nend\r\n";
const std::string three = "From: x\r\n\r\nbody\r\n";
const std::string two_sent = "Subject: two\r\n\r\n..hidden\r\n...two dots\r\nend\r\n.\r\n";

std::vector<maildrop_message> three_messages() { return {{23, "uid-1"}, {42, "uid-2"}, {17, "uid-3"}}; }

const std::string signing_off = "+OK mailgate POP3 signing off\r\n";

std::vector<step> operator+(std::vector<step> a, const std::vector<step>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<step> quit() {
    return {feed("QUIT\r\n"), expect_write(signing_off), expect_close(session_errc::client_quit)};
}

// One command and its one-write reply.
std::vector<step> ask(std::string command, std::string reply) {
    return {feed(std::move(command)), expect_write(std::move(reply))};
}

// ---- STAT, LIST, UIDL ----

TEST(pop3_maildrop, stat_list_and_uidl_cover_the_snapshot) {
    EXPECT_TRUE(run_transcript(
        three_messages(), ask("STAT\r\n", "+OK 3 82\r\n") +
                              ask("LIST\r\n", "+OK 3 messages (82 octets)\r\n1 23\r\n2 42\r\n3 17\r\n.\r\n") +
                              ask("UIDL\r\n", "+OK unique-id listing follows\r\n1 uid-1\r\n2 uid-2\r\n"
                                              "3 uid-3\r\n.\r\n") +
                              ask("LIST 2\r\n", "+OK 2 42\r\n") + ask("UIDL 3\r\n", "+OK 3 uid-3\r\n") +
                              ask("list 1\r\n", "+OK 1 23\r\n") + ask("uidl 01\r\n", "+OK 1 uid-1\r\n") +
                              quit()));
}

TEST(pop3_maildrop, an_empty_maildrop) {
    EXPECT_TRUE(run_transcript({}, ask("STAT\r\n", "+OK 0 0\r\n") +
                                       ask("LIST\r\n", "+OK 0 messages (0 octets)\r\n.\r\n") +
                                       ask("UIDL\r\n", "+OK unique-id listing follows\r\n.\r\n") +
                                       ask("RETR 1\r\n", "-ERR no such message\r\n") + quit()));
}

TEST(pop3_maildrop, bad_message_numbers_and_arguments_are_refused) {
    EXPECT_TRUE(run_transcript(
        three_messages(),
        ask("LIST 0\r\n", "-ERR no such message\r\n") + ask("LIST 4\r\n", "-ERR no such message\r\n") +
            ask("UIDL 99999999999999999999999\r\n", "-ERR no such message\r\n") +
            ask("RETR x\r\n", "-ERR Invalid message number\r\n") +
            ask("RETR -1\r\n", "-ERR Invalid message number\r\n") +
            ask("RETR +1\r\n", "-ERR Invalid message number\r\n") +
            ask("RETR 1x\r\n", "-ERR Invalid message number\r\n") +
            ask("RETR\r\n", "-ERR Message number required\r\n") +
            ask("DELE\r\n", "-ERR Message number required\r\n") +
            ask("RETR 1 2\r\n", "-ERR Too many arguments\r\n") +
            ask("LIST 1 2\r\n", "-ERR Too many arguments\r\n") +
            ask("STAT 1\r\n", "-ERR Too many arguments\r\n") +
            ask("NOOP x\r\n", "-ERR Too many arguments\r\n") +
            ask("QUIT now\r\n", "-ERR Too many arguments\r\n") +
            ask("TOP 1\r\n", "-ERR TOP needs a message number and a line count\r\n") +
            ask("TOP 1 x\r\n", "-ERR Invalid line count\r\n") +
            ask("TOP 1 -1\r\n", "-ERR Invalid line count\r\n") +
            ask("TOP 9 1\r\n", "-ERR no such message\r\n") +
            ask("TOP 1 2 3\r\n", "-ERR Too many arguments\r\n") +
            // RFC 1939 §3: a single space between arguments; none at the end.
            ask("RETR  1\r\n", "-ERR Arguments are separated by a single space\r\n") +
            ask("STAT \r\n", "-ERR Arguments are separated by a single space\r\n") +
            ask("LIST 1 \r\n", "-ERR Arguments are separated by a single space\r\n") +
            ask("RETR\t1\r\n", "-ERR Unknown command\r\n") + ask("STAT\r\n", "+OK 3 82\r\n") + quit()));
}

TEST(pop3_maildrop, unknown_and_authorization_commands_get_err) {
    EXPECT_TRUE(run_transcript(three_messages(), ask("XYZZY\r\n", "-ERR Unknown command\r\n") +
                                                     ask("\r\n", "-ERR Unknown command\r\n") +
                                                     ask("USER alice\r\n", "-ERR Already logged in\r\n") +
                                                     ask("PASS x\r\n", "-ERR Already logged in\r\n") +
                                                     ask("AUTH PLAIN\r\n", "-ERR Already logged in\r\n") +
                                                     ask("STLS\r\n", "-ERR Already logged in\r\n") +
                                                     ask("APOP a b\r\n", "-ERR Already logged in\r\n") +
                                                     ask("NOOP\r\n", "+OK\r\n") + quit()));
}

TEST(pop3_maildrop, capa_lists_what_works_after_login) {
    EXPECT_TRUE(run_transcript(three_messages(),
                               ask("CAPA\r\n", "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                                               "PIPELINING\r\nIMPLEMENTATION mailgate\r\n.\r\n") +
                                   quit()));
}

// ---- RETR ----

TEST(pop3_maildrop, retr_sends_the_size_the_message_and_a_final_dot) {
    EXPECT_TRUE(run_transcript(
        three_messages(),
        std::vector<step>{feed("RETR 1\r\n"),
                          expect_retrieve(0, std::nullopt, one, "+OK 23 octets\r\n" + one + ".\r\n"),
                          check([](maildrop& m) { EXPECT_FALSE(m.size_mismatch()); })} +
            quit()));
}

TEST(pop3_maildrop, retr_dot_stuffs_lines_starting_with_a_dot) {
    EXPECT_TRUE(run_transcript(
        three_messages(),
        std::vector<step>{
            feed("RETR 2\r\n"), expect_retrieve(1, std::nullopt, two, "+OK 42 octets\r\n" + two_sent),
            check([](maildrop& m) { EXPECT_FALSE(m.size_mismatch()); }),
            // A message that is a lone "." line, and one whose first byte is a dot.
            feed("RETR 1\r\n"), expect_retrieve(0, std::nullopt, ".\r\n", "+OK 23 octets\r\n..\r\n.\r\n"),
            feed("RETR 1\r\n"),
            expect_retrieve(0, std::nullopt, ".a\n.", "+OK 23 octets\r\n..a\r\n..\r\n.\r\n")} +
            quit()));
}

TEST(pop3_maildrop, retr_normalises_bare_lf_and_bare_cr_to_crlf) {
    // Every split offset of the message puts a chunk boundary inside each CRLF and after each lone CR once.
    std::vector<maildrop_message> messages{{21, "u"}};
    EXPECT_TRUE(run_transcript(
        messages,
        std::vector<step>{feed("RETR 1\r\n"),
                          expect_retrieve(0, std::nullopt, "a\nb\rc\r\nd\r\r\n\n\re\r\n",
                                          "+OK 21 octets\r\na\r\nb\r\nc\r\nd\r\n\r\n\r\n\r\ne\r\n.\r\n"),
                          check([](maildrop& m) { EXPECT_FALSE(m.size_mismatch()); })} +
            quit()));
}

TEST(pop3_maildrop, a_message_without_a_final_line_end_gets_one_before_the_dot) {
    std::vector<maildrop_message> messages{{6, "u"}, {7, "v"}, {0, "w"}};
    EXPECT_TRUE(run_transcript(
        messages,
        std::vector<step>{feed("RETR 1\r\n"),
                          expect_retrieve(0, std::nullopt, "a\r\nend", "+OK 6 octets\r\na\r\nend\r\n.\r\n"),
                          // The CRLF before the dot is the terminator's, not the message's: 6 octets.
                          check([](maildrop& m) { EXPECT_FALSE(m.size_mismatch()); }),
                          // A bare CR at the very end is a line end of its own.
                          feed("RETR 2\r\n"),
                          expect_retrieve(1, std::nullopt, "a\r\nbb\r", "+OK 7 octets\r\na\r\nbb\r\n.\r\n"),
                          check([](maildrop& m) { EXPECT_FALSE(m.size_mismatch()); }), feed("RETR 3\r\n"),
                          expect_retrieve(2, std::nullopt, "", "+OK 0 octets\r\n.\r\n")} +
            quit()));
}

TEST(pop3_maildrop, a_size_that_does_not_match_what_was_sent_is_reported) {
    std::vector<maildrop_message> messages{{5, "u"}};
    EXPECT_TRUE(run_transcript(
        messages,
        std::vector<step>{feed("RETR 1\r\n"),
                          // IMAP's RFC822.SIZE of a bare-LF message counts one octet per line end.
                          expect_retrieve(0, std::nullopt, "a\nbb\n", "+OK 5 octets\r\na\r\nbb\r\n.\r\n"),
                          check([](maildrop& m) { EXPECT_TRUE(m.size_mismatch()); })} +
            quit()));
}

TEST(pop3_maildrop, commands_pipelined_after_retr_wait_for_the_message) {
    EXPECT_TRUE(run_transcript(
        three_messages(), {feed_whole("RETR 1\r\nSTAT\r\nRETR 3\r\nQUIT\r\n"),
                           expect_retrieve(0, std::nullopt, one, "+OK 23 octets\r\n" + one + ".\r\n"),
                           expect_write("+OK 3 82\r\n"),
                           expect_retrieve(2, std::nullopt, three, "+OK 17 octets\r\n" + three + ".\r\n"),
                           expect_write(signing_off), expect_close(session_errc::client_quit)}));
}

TEST(pop3_maildrop, replies_pipelined_before_retr_go_out_before_the_retrieve) {
    EXPECT_TRUE(run_transcript(
        three_messages(),
        {feed_whole("NOOP\r\nRETR 3\r\n"), expect_write("+OK\r\n"),
         expect_retrieve(2, std::nullopt, three, "+OK 17 octets\r\n" + three + ".\r\n"), feed("QUIT\r\n"),
         expect_write(signing_off), expect_close(session_errc::client_quit)}));
}

// ---- Provider failures ----

TEST(pop3_maildrop, a_provider_failing_mid_retr_closes_without_the_final_dot) {
    // The client pipelined QUIT after DELE and RETR: none of it is answered and nothing is committed.
    EXPECT_TRUE(
        run_transcript(three_messages(),
                       {feed_whole("DELE 1\r\nRETR 2\r\nQUIT\r\n"), expect_write("+OK message 1 deleted\r\n"),
                        expect_retrieve_failing(1, std::nullopt, "Subject: two\r\n\r\n.hid",
                                                "+OK 42 octets\r\nSubject: two\r\n\r\n..hid"),
                        expect_close(session_errc::upstream_failed)}));
}

TEST(pop3_maildrop, a_failure_right_after_a_cr_drops_the_cr) {
    // The CR may have started a CRLF: it is not turned into a line end that the provider never sent.
    EXPECT_TRUE(run_transcript(
        three_messages(), {feed("RETR 3\r\n"),
                           expect_retrieve_failing(2, std::nullopt, "From: x\r", "+OK 17 octets\r\nFrom: x"),
                           expect_close(session_errc::upstream_failed)}));
}

TEST(pop3_maildrop, a_provider_failing_before_any_byte_gets_the_client_an_err) {
    EXPECT_TRUE(run_transcript(
        three_messages(),
        {feed("TOP 1 0\r\n"),
         expect_retrieve_failing(0, 0, "", "-ERR [SYS/TEMP] The mail provider failed, try again later\r\n"),
         expect_close(session_errc::upstream_failed)}));
}

// ---- TOP ----

TEST(pop3_maildrop, top_sends_the_header_block_and_n_body_lines) {
    const std::string message = "Subject: t\r\nFrom: a\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n";
    const std::string header = "+OK top of message follows\r\nSubject: t\r\nFrom: a\r\n\r\n";
    EXPECT_TRUE(run_transcript(
        {{48, "u"}},
        std::vector<step>{
            feed("TOP 1 0\r\n"), expect_retrieve(0, 0, message, header + ".\r\n"), feed("TOP 1 2\r\n"),
            expect_retrieve(0, 2, message, header + "line 1\r\n..line 2\r\n.\r\n"), feed("TOP 1 3\r\n"),
            expect_retrieve(0, 3, message, header + "line 1\r\n..line 2\r\nline 3\r\n.\r\n"),
            // More lines than the body has: the whole message.
            feed("TOP 1 99\r\n"),
            expect_retrieve(0, 99, message, header + "line 1\r\n..line 2\r\nline 3\r\n.\r\n"),
            feed("TOP 1 99999999999999999999999\r\n"),
            expect_retrieve(0, static_cast<std::size_t>(-1), message,
                            header + "line 1\r\n..line 2\r\nline 3\r\n.\r\n")} +
            quit()));
}

TEST(pop3_maildrop, top_counts_lines_after_normalising_line_ends) {
    // The header block ends at the first empty line, however the provider ends its lines.
    EXPECT_TRUE(run_transcript(
        {{30, "u"}},
        std::vector<step>{feed("TOP 1 1\r\n"),
                          expect_retrieve(0, 1, "A: b\n\rbody 1\r\r\nbody 2\n",
                                          "+OK top of message follows\r\nA: b\r\n\r\nbody 1\r\n.\r\n"),
                          feed("TOP 1 1\r\n"),
                          expect_retrieve(0, 1, "A: b\r\n\r\nbody 1",
                                          "+OK top of message follows\r\nA: b\r\n\r\nbody 1\r\n.\r\n")} +
            quit()));
}

TEST(pop3_maildrop, top_of_a_header_only_message_sends_it_all) {
    EXPECT_TRUE(run_transcript(
        {{21, "u"}, {10, "v"}},
        std::vector<step>{
            feed("TOP 1 5\r\n"),
            expect_retrieve(0, 5, "Subject: h\r\nFrom: a\r\n",
                            "+OK top of message follows\r\nSubject: h\r\nFrom: a\r\n.\r\n"),
            feed("TOP 2 0\r\n"),
            expect_retrieve(1, 0, "Subject: h", "+OK top of message follows\r\nSubject: h\r\n.\r\n")} +
            quit()));
}

// ---- DELE, RSET, QUIT ----

TEST(pop3_maildrop, deleted_messages_are_hidden_and_refused_until_rset) {
    EXPECT_TRUE(
        run_transcript(three_messages(),
                       ask("DELE 2\r\n", "+OK message 2 deleted\r\n") + ask("STAT\r\n", "+OK 2 40\r\n") +
                           ask("LIST\r\n", "+OK 2 messages (40 octets)\r\n1 23\r\n3 17\r\n.\r\n") +
                           ask("UIDL\r\n", "+OK unique-id listing follows\r\n1 uid-1\r\n3 uid-3\r\n.\r\n") +
                           ask("LIST 2\r\n", "-ERR message 2 already deleted\r\n") +
                           ask("UIDL 2\r\n", "-ERR message 2 already deleted\r\n") +
                           ask("RETR 2\r\n", "-ERR message 2 already deleted\r\n") +
                           ask("TOP 2 1\r\n", "-ERR message 2 already deleted\r\n") +
                           ask("DELE 2\r\n", "-ERR message 2 already deleted\r\n") +
                           ask("DELE 1\r\n", "+OK message 1 deleted\r\n") + ask("STAT\r\n", "+OK 1 17\r\n") +
                           ask("RSET\r\n", "+OK maildrop has 3 messages (82 octets)\r\n") +
                           ask("STAT\r\n", "+OK 3 82\r\n") + ask("LIST 2\r\n", "+OK 2 42\r\n") +
                           // After RSET nothing is deleted: QUIT commits nothing.
                           quit()));
}

TEST(pop3_maildrop, quit_after_dele_commits_the_deleted_messages) {
    EXPECT_TRUE(run_transcript(
        three_messages(),
        ask("DELE 3\r\n", "+OK message 3 deleted\r\n") + ask("DELE 1\r\n", "+OK message 1 deleted\r\n") +
            std::vector<step>{feed("QUIT\r\n"), expect_commit({0, 2}, true),
                              expect_write("+OK mailgate POP3 signing off (2 messages deleted)\r\n"),
                              expect_close(session_errc::client_quit)}));
}

TEST(pop3_maildrop, a_failed_commit_says_so_and_closes) {
    EXPECT_TRUE(run_transcript(three_messages(),
                               {feed_whole("DELE 2\r\nQUIT\r\nSTAT\r\n"),
                                expect_write("+OK message 2 deleted\r\n"), expect_commit({1}, false),
                                expect_write("-ERR [SYS/TEMP] some deleted messages not removed\r\n"),
                                expect_close(session_errc::upstream_failed)}));
}

TEST(pop3_maildrop, a_client_closing_without_quit_commits_nothing) {
    EXPECT_TRUE(run_transcript(three_messages(),
                               ask("DELE 1\r\n", "+OK message 1 deleted\r\n") +
                                   std::vector<step>{feed_eof(), expect_close(session_errc::client_closed)}));
    // Also in the middle of a line.
    EXPECT_TRUE(
        run_transcript(three_messages(), ask("DELE 1\r\n", "+OK message 1 deleted\r\n") +
                                             std::vector<step>{feed("QUI"), feed_eof(),
                                                               expect_close(session_errc::client_closed)}));
}

// ---- Line rules ----

TEST(pop3_maildrop, an_over_long_line_closes) {
    // 256 octets with the CRLF, in one read; 255 without a CRLF can never become a valid line.
    EXPECT_TRUE(run_transcript(three_messages(), {feed_whole("LIST " + std::string(249, '1') + "\r\n"),
                                                  expect_write("-ERR Line too long\r\n"),
                                                  expect_close(session_errc::line_too_long)}));
    EXPECT_TRUE(
        run_transcript(three_messages(), {feed(std::string(255, '1')), expect_write("-ERR Line too long\r\n"),
                                          expect_close(session_errc::line_too_long)}));
    // The limit is an option and counts the CRLF.
    EXPECT_TRUE(
        run_transcript(three_messages(),
                       ask("LIST 1\r\n", "+OK 1 23\r\n") +
                           std::vector<step>{feed("LIST 10\r"), expect_write("-ERR Line too long\r\n"),
                                             expect_close(session_errc::line_too_long)},
                       {.max_line = 8}));
}

TEST(pop3_maildrop, bare_lf_and_control_bytes_close) {
    EXPECT_TRUE(
        run_transcript(three_messages(), {feed("STAT\n"), expect_write("-ERR Lines must end with CRLF\r\n"),
                                          expect_close(session_errc::garbage)}));
    EXPECT_TRUE(run_transcript(three_messages(), {feed(std::string("RETR 1\0\r\n", 9)),
                                                  expect_write("-ERR Invalid characters in command\r\n"),
                                                  expect_close(session_errc::garbage)}));
}

// ---- The snapshot ----

TEST(pop3_maildrop, a_uidl_outside_rfc_1939_closes_before_anything_is_sent) {
    const std::string longest(70, '~');
    EXPECT_TRUE(
        run_transcript({{1, longest}, {1, "!"}}, ask("UIDL 1\r\n", "+OK 1 " + longest + "\r\n") + quit()));
    for (std::string bad : {std::string(), std::string(71, 'a'), std::string("a b"), std::string("a\x7f"),
                            std::string("\xc3\xa9"), std::string("a\r\n")}) {
        SCOPED_TRACE("uidl \"" + mailgate::test::escape_bytes(bad) + "\"");
        EXPECT_TRUE(run_transcript({{1, "ok"}, {1, bad}}, {expect_close(session_errc::internal_error)}));
    }
    // RFC 1939 §7: unique within the maildrop.
    EXPECT_TRUE(run_transcript({{1, "same"}, {2, "same"}}, {expect_close(session_errc::internal_error)}));
}

// ---- Streaming ----

TEST(pop3_maildrop, a_large_message_streams_with_bounded_state) {
    // 5 MB with CRLF, bare LF and dotted lines, fed in 64 KiB chunks as a provider connection delivers it.
    std::string message;
    std::uint64_t size = 0;
    std::size_t stuffed = 0;
    for (std::size_t i = 0; message.size() < 5 * 1024 * 1024; ++i) {
        std::string line =
            (i % 7 == 0 ? "." : "") + std::string(60 + i % 50, static_cast<char>('a' + i % 26));
        message += line + (i % 3 == 0 ? "\n" : "\r\n");
        size += line.size() + 2;
        stuffed += i % 7 == 0;
    }
    maildrop codec({{size, "big"}});
    codec.received("RETR 1\r\n");
    auto a = codec.next();
    ASSERT_TRUE(std::holds_alternative<maildrop_step>(a));
    std::uint64_t sent = 0;
    std::string tail; // the last bytes written
    constexpr std::size_t chunk = 64 * 1024;
    std::size_t most_buffered = 0;
    for (std::size_t at = 0; at < message.size(); at += chunk) {
        codec.message_bytes(std::string_view(message).substr(at, chunk));
        // What one chunk can become: twice its size at most (every line a bare LF, or a dot and a bare LF).
        most_buffered = std::max(most_buffered, codec.buffered());
        for (a = codec.next(); std::holds_alternative<write_output>(a); a = codec.next()) {
            auto bytes = std::get<write_output>(a).bytes;
            sent += bytes.size();
            tail = std::string(bytes.substr(bytes.size() - std::min<std::size_t>(bytes.size(), 8)));
            codec.wrote();
        }
        ASSERT_TRUE(std::holds_alternative<maildrop_step>(a)) << "at " << at;
        EXPECT_LE(codec.buffered(), 1u) << "at " << at; // a pending CR at most
    }
    EXPECT_LE(most_buffered, 2 * chunk + 64);
    codec.message_end();
    a = codec.next();
    ASSERT_TRUE(std::holds_alternative<write_output>(a));
    sent += std::get<write_output>(a).bytes.size();
    EXPECT_EQ(std::get<write_output>(a).bytes, ".\r\n");
    codec.wrote();
    EXPECT_FALSE(codec.size_mismatch());
    EXPECT_EQ(sent, std::string("+OK " + std::to_string(size) + " octets\r\n").size() + size + stuffed + 3);
    EXPECT_EQ(codec.buffered(), 0u);
    EXPECT_TRUE(std::holds_alternative<read_input>(codec.next()));
}

} // namespace
} // namespace mailgate::protocols::pop3
