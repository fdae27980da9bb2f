// SMTP submission server codec transcripts, DATA (RFC 5321 §4.1.1.4, 2920 PIPELINING; SMTP smuggling,
// CVE-2023-51764) and provider failures mid-transaction: each run whole, split at every offset, byte by byte.
#include "tests/protocols/smtp_server_script.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols::smtp {
namespace {

using namespace transcripts;

// ---- DATA ----

const std::string message = "From: a@example.org\r\nSubject: hi\r\n\r\n..dot-stuffed\r\n..\r\nlast\r\n.\r\n";

TEST(smtp_server_data, data_is_streamed_unchanged_and_the_verdict_relayed) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), in_data() +
                                           script{feed(message), expect_upstream_data(message),
                                                  expect_upstream_command("", queued), expect_write(queued)} +
                                           quit()));
}

TEST(smtp_server_data, data_arriving_in_several_reads) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        in_data() + script{feed("Subject: hi\r\n"), feed("\r\nbody"), feed("\r\n."), feed("\r\n"),
                           expect_upstream_data("Subject: hi\r\n\r\nbody\r\n.\r\n"),
                           expect_upstream_command("", queued), expect_write(queued)}));
}

TEST(smtp_server_data, empty_message) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(), in_data() + script{feed(".\r\n"), expect_upstream_data(".\r\n"),
                                           expect_upstream_command("", queued), expect_write(queued)}));
}

TEST(smtp_server_data, provider_refusing_the_message_is_relayed) {
    const std::string refused = "554 5.7.1 Spam\r\n";
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               in_data() +
                                   script{feed(message), expect_upstream_data(message),
                                          expect_upstream_command("", refused), expect_write(refused)} +
                                   mail_from()));
}

TEST(smtp_server_data, provider_refusing_data_keeps_commands_flowing) {
    const std::string refused = "554 5.5.1 No valid recipients\r\n";
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               logged_in() + mail_from() + rcpt_to() +
                                   script{feed("DATA\r\n"), expect_upstream_command("DATA\r\n", refused),
                                          expect_write(refused), feed("RSET\r\n"),
                                          expect_upstream_command("RSET\r\n", "250 2.0.0 Ok\r\n"),
                                          expect_write("250 2.0.0 Ok\r\n")}));
}

TEST(smtp_server_data, commands_pipelined_after_the_data_are_answered_in_order) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        in_data() + script{feed_whole(message + "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nQUIT\r\n"),
                           expect_upstream_data(message), expect_upstream_command("", queued),
                           expect_write(queued), expect_upstream_command("MAIL FROM:<a@b>\r\n", mail_ok),
                           expect_write(mail_ok), expect_upstream_command("RCPT TO:<c@d>\r\n", rcpt_ok),
                           expect_write(rcpt_ok), expect_write(goodbye),
                           expect_close(session_errc::client_quit)}));
}

TEST(smtp_server_data, a_whole_pipelined_transaction) {
    // RFC 2920: MAIL, RCPT and DATA in one packet; the data follows the 354.
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() + script{feed_whole("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n"),
                             expect_upstream_command("MAIL FROM:<a@b>\r\n", mail_ok), expect_write(mail_ok),
                             expect_upstream_command("RCPT TO:<c@d>\r\n", rcpt_ok), expect_write(rcpt_ok),
                             expect_upstream_command("RCPT TO:<e@f>\r\n", rcpt_ok), expect_write(rcpt_ok),
                             expect_upstream_command("DATA\r\n", go_ahead), expect_write(go_ahead),
                             feed(message), expect_upstream_data(message),
                             expect_upstream_command("", queued), expect_write(queued)}));
}

TEST(smtp_server_data, two_messages_in_one_session) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               in_data() +
                                   script{feed(message), expect_upstream_data(message),
                                          expect_upstream_command("", queued), expect_write(queued)} +
                                   mail_from() + rcpt_to() + data_accepted() +
                                   script{feed("x\r\n.\r\n"), expect_upstream_data("x\r\n.\r\n"),
                                          expect_upstream_command("", queued), expect_write(queued)}));
}

TEST(smtp_server_data, client_eof_in_data_closes) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               in_data() + script{feed("half a line"), expect_upstream_data("half a line"),
                                                  feed_eof(), expect_close(session_errc::client_closed)}));
}

TEST(smtp_server_data, data_state_is_visible_to_the_driver) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(), logged_in() + mail_from() + rcpt_to() + script{check<server>([](server& s) {
                            EXPECT_FALSE(s.in_data());
                            EXPECT_TRUE(s.has_open_transaction());
                        })} +
                            data_accepted() +
                            script{check<server>([](server& s) { EXPECT_TRUE(s.in_data()); }), feed(message),
                                   expect_upstream_data(message), expect_upstream_command("", queued),
                                   expect_write(queued), check<server>([](server& s) {
                                       EXPECT_FALSE(s.in_data());
                                       EXPECT_FALSE(s.has_open_transaction());
                                   })}));
}

// ---- SMTP smuggling (CVE-2023-51764 and friends) ----

TEST(smtp_server_data, smuggled_end_of_data_is_refused) {
    const std::string smuggled = "MAIL FROM:<ceo@corp.example>\r\nRCPT TO:<victim@x.example>\r\nDATA\r\n"
                                 "From: ceo@corp.example\r\n\r\nPay now\r\n.\r\n";
    struct c {
        std::string marker;
        std::string clean; // how much of the marker may have gone out before the bare CR/LF is seen
    };
    for (const auto& k : {c{"\r.\r", ""}, c{"\r.\r\n", ""}, c{"\r\n.\r", "\r\n."}, c{"\n", ""}, c{"\r", ""},
                          c{"\n\n\r\r.\n", ""}}) {
        SCOPED_TRACE(mailgate::test::escape_bytes(k.marker));
        const std::string before = "Subject: t\r\n\r\nhello";
        EXPECT_TRUE(run_transcript(implicit_tls(),
                                   in_data() +
                                       script{feed(before + k.marker + smuggled), expect_upstream_abort(),
                                              expect_upstream_data_prefix(before + k.clean),
                                              expect_write(smuggling_refused),
                                              // The smuggled MAIL was never a command; the session goes on,
                                              // and the next message is not disturbed by the refused one.
                                              feed("NOOP\r\n"), expect_write("250 2.0.0 OK\r\n")} +
                                       mail_from() + rcpt_to() + data_accepted() +
                                       script{feed(message), expect_upstream_data(message),
                                              expect_upstream_command("", queued), expect_write(queued)} +
                                       quit()));
    }
}

TEST(smtp_server_data, an_lf_only_end_of_data_is_refused_at_once_and_closes) {
    // A lone dot between line ends of which one is a bare LF: what an LF-only client sends as its end, and what a
    // smuggler hides in a message. The client hears 554 at once (not after smtp.data_timeout), and the session
    // closes: the bytes after it, a smuggled transaction here, are never read as commands.
    const std::string smuggled = "MAIL FROM:<ceo@corp.example>\r\nRCPT TO:<victim@x.example>\r\nDATA\r\n";
    struct c {
        std::string marker;
        std::string clean;
    };
    for (const auto& k : {c{"\n.\n", ""}, c{"\n.\r\n", ""}, c{"\r\n.\n", "\r\n."}}) {
        SCOPED_TRACE(mailgate::test::escape_bytes(k.marker));
        const std::string before = "Subject: t\r\n\r\nhello";
        EXPECT_TRUE(run_transcript(
            implicit_tls(),
            in_data() + script{feed_whole(before + k.marker + smuggled), expect_upstream_abort(),
                               expect_upstream_data_prefix(before + k.clean), expect_write(bare_lf_refused),
                               expect_close(session_errc::garbage)}));
    }
    // A whole LF-only message, as an old scanner sends it.
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        in_data() + script{feed("Subject: scan\n\nsee attachment\n.\n"), expect_upstream_abort(),
                           expect_upstream_data_prefix("Subject: scan"), expect_write(bare_lf_refused),
                           expect_close(session_errc::garbage)}));
}

TEST(smtp_server_data, smuggling_split_across_reads) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), in_data() +
                                           script{feed("hello\r\n"), expect_upstream_data("hello\r\n"),
                                                  feed("\r.\r"), feed("MAIL FROM:<x@y>\r\n"), feed(".\r\n"),
                                                  expect_upstream_abort(), expect_write(smuggling_refused)} +
                                           mail_from()));
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               in_data() + script{feed("hello\r\n"), expect_upstream_data("hello\r\n"),
                                                  feed("\n."), feed_whole("\nMAIL FROM:<x@y>\r\n"),
                                                  expect_upstream_abort(), expect_write(bare_lf_refused),
                                                  expect_close(session_errc::garbage)}));
}

TEST(smtp_server_data, a_nul_line_is_data) {
    // "\r\n\0.\r\n" ends nothing and is no bare line end: the text after it is message content.
    const char raw[] = "hello\r\n\0.\r\nMAIL FROM:<x@y>\r\n.\r\n";
    const std::string data(raw, sizeof raw - 1);
    EXPECT_TRUE(run_transcript(implicit_tls(), in_data() + script{feed(data), expect_upstream_data(data),
                                                                  expect_upstream_command("", queued),
                                                                  expect_write(queued)}));
}

TEST(smtp_server_data, oversize_message_is_refused_after_its_end) {
    std::string big;
    for (int i = 0; i < 10; ++i) big += "0123456789\r\n";
    big += ".\r\n";
    auto codec = make({.tls_active = true, .max_message_size = 64});
    EXPECT_TRUE(run_transcript(
        codec, script{expect_write(greeting)} + ehlo({.size = 64}) +
                   script{feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                          expect_authenticate("alice", "s3cret", login_outcome::ok, full_provider),
                          expect_write(authenticated)} +
                   mail_from() + rcpt_to() + data_accepted() +
                   script{feed(big), expect_upstream_abort(), expect_upstream_data_prefix(big.substr(0, 64)),
                          expect_write(too_big)} +
                   mail_from() + rcpt_to() + data_accepted() +
                   script{feed(big.substr(60)), expect_upstream_data(big.substr(60)),
                          expect_upstream_command("", queued), expect_write(queued)}));
}

// ---- Provider failures during a transaction ----

TEST(smtp_server_data, provider_lost_at_mail_or_rcpt) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() +
            script{feed("MAIL FROM:<a@b>\r\n"), expect_upstream_command_fails("MAIL FROM:<a@b>\r\n"),
                   expect_write(provider_lost)} +
            mail_from() +
            script{feed("RCPT TO:<c@d>\r\n"), expect_upstream_command_fails("RCPT TO:<c@d>\r\n"),
                   expect_write(provider_lost), feed("RCPT TO:<c@d>\r\n"),
                   expect_write("503 5.5.1 Need MAIL before RCPT\r\n")} +
            mail_from()));
}

TEST(smtp_server_data, provider_lost_while_streaming) {
    EXPECT_TRUE(run_transcript(implicit_tls(), in_data() +
                                                   script{fail_upstream_data(), feed("line one\r\n"),
                                                          feed("MAIL FROM:<x@y>\r\n"), feed(".\r\n"),
                                                          expect_write(provider_lost_in_data)} +
                                                   mail_from() + quit()));
}

TEST(smtp_server_data, provider_lost_just_before_the_end_marker) {
    // The chunk that fails may end in "\r\n." with its CR held back: the LF that follows still ends the data.
    EXPECT_TRUE(run_transcript(implicit_tls(), in_data() +
                                                   script{fail_upstream_data(), feed("line\r\n.\r"),
                                                          feed("\n"), expect_write(provider_lost_in_data)} +
                                                   mail_from()));
}

TEST(smtp_server_data, provider_lost_with_the_last_chunk) {
    EXPECT_TRUE(run_transcript(implicit_tls(), in_data() +
                                                   script{fail_upstream_data(), feed_whole(message),
                                                          expect_write(provider_lost_after_end)} +
                                                   mail_from()));
}

TEST(smtp_server_data, provider_lost_before_the_verdict) {
    EXPECT_TRUE(run_transcript(implicit_tls(), in_data() +
                                                   script{feed(message), expect_upstream_data(message),
                                                          expect_upstream_command_fails(""),
                                                          expect_write(provider_lost_after_end)} +
                                                   mail_from()));
}

TEST(smtp_server_data, provider_lost_at_data_or_rset) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() + mail_from() + rcpt_to() +
            script{feed("DATA\r\n"), expect_upstream_command_fails("DATA\r\n"), expect_write(provider_lost)} +
            mail_from() +
            script{feed("RSET\r\n"), expect_upstream_command_fails("RSET\r\n"), expect_write(provider_lost)} +
            mail_from()));
}

TEST(smtp_server_data, provider_lost_at_the_rset_of_an_ehlo_still_answers_the_ehlo) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               logged_in() + mail_from() +
                                   script{feed("EHLO pc.lan\r\n"), expect_upstream_command_fails("RSET\r\n"),
                                          expect_write(ehlo_reply()), feed("RCPT TO:<c@d>\r\n"),
                                          expect_write("503 5.5.1 Need MAIL before RCPT\r\n"),
                                          feed("HELO pc.lan\r\n"), expect_write("250 gw.lan\r\n")} +
                                   mail_from() +
                                   script{feed("HELO pc.lan\r\n"), expect_upstream_command_fails("RSET\r\n"),
                                          expect_write("250 gw.lan\r\n")}));
}

} // namespace
} // namespace mailgate::protocols::smtp
