// SMTP upstream login codec transcripts (RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 7628 and XOAUTH2 bearer
// logins), each run whole, split at every offset and byte by byte; plus the multi-line reply assembler.
#include "protocols/common/base64.hpp"
#include "protocols/smtp/client.hpp"
#include "protocols/smtp/reply.hpp"
#include "tests/protocols/bearer.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols::smtp {
namespace {

using namespace mailgate::test;
using exts = std::set<std::string>;

constexpr const char* plain_alice = "AGFsaWNlAHMzY3JldA=="; // base64("\0alice\0s3cret")

codec_factory make(upstream_tls tls, upstream_credentials credentials = {"alice", "s3cret"},
                   upstream_limits limits = {}) {
    return [=] { return std::make_unique<client>(tls, credentials, "gw.lan", limits); };
}

step extensions_are(exts expected) {
    return check<client>([expected](client& c) { EXPECT_EQ(c.extensions(), expected); });
}

std::vector<step> operator+(std::vector<step> a, const std::vector<step>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Implicit TLS: greeting, EHLO, and an EHLO reply listing `extension_lines` ("250-..." / "250 ..." lines).
std::vector<step> after_ehlo(std::string ehlo_reply) {
    return {feed("220 mx.example.org ESMTP\r\n"), expect_write("EHLO gw.lan\r\n"),
            feed(std::move(ehlo_reply))};
}

TEST(smtp_client, multi_line_greeting_then_ehlo) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit), {
                                                                 feed("220-mx.example.org ESMTP Postfix\r\n"
                                                                      "220-No UCE\r\n"
                                                                      "220 ready\r\n"),
                                                                 expect_write("EHLO gw.lan\r\n"),
                                                             }));
}

TEST(smtp_client, multi_line_ehlo_then_auth_plain) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               after_ehlo("250-mx.example.org Hello gw.lan\r\n"
                                          "250-SIZE 35882577\r\n"
                                          "250-8BITMIME\r\n"
                                          "250-auth LOGIN plain\r\n"
                                          "250-ENHANCEDSTATUSCODES\r\n"
                                          "250 SMTPUTF8\r\n") +
                                   std::vector<step>{
                                       expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                       extensions_are({"SIZE 35882577", "8BITMIME", "AUTH LOGIN PLAIN",
                                                       "ENHANCEDSTATUSCODES", "SMTPUTF8"}),
                                       check<client>([](client& c) {
                                           EXPECT_TRUE(c.has_extension("SIZE"));
                                           EXPECT_TRUE(c.has_extension("SMTPUTF8"));
                                           EXPECT_FALSE(c.has_extension("SIZ"));
                                           EXPECT_FALSE(c.has_extension("STARTTLS"));
                                       }),
                                       feed("235 2.7.0 Authentication successful\r\n"),
                                       expect_done(),
                                   }));
}

TEST(smtp_client, auth_login_answers_both_prompts_in_base64) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), after_ehlo("250-mx\r\n250 AUTH LOGIN CRAM-MD5\r\n") +
                                                         std::vector<step>{
                                                             expect_write("AUTH LOGIN\r\n"),
                                                             feed("334 VXNlcm5hbWU6\r\n"),
                                                             expect_write("YWxpY2U=\r\n"),
                                                             feed("334 UGFzc3dvcmQ6\r\n"),
                                                             expect_write("czNjcmV0\r\n"),
                                                             feed("235 2.7.0 Authentication successful\r\n"),
                                                             expect_done(),
                                                         }));
}

TEST(smtp_client, auth_login_rejections) {
    // Refused after the user name ...
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), after_ehlo("250-mx\r\n250 AUTH LOGIN\r\n") +
                                                         std::vector<step>{
                                                             expect_write("AUTH LOGIN\r\n"),
                                                             feed("334 VXNlcm5hbWU6\r\n"),
                                                             expect_write("YWxpY2U=\r\n"),
                                                             feed("535 5.7.8 no such user\r\n"),
                                                             expect_close(upstream_errc::auth_rejected),
                                                         }));
    // ... a third prompt is not part of LOGIN.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), after_ehlo("250-mx\r\n250 AUTH LOGIN\r\n") +
                                                         std::vector<step>{
                                                             expect_write("AUTH LOGIN\r\n"),
                                                             feed("334 VXNlcm5hbWU6\r\n"),
                                                             expect_write("YWxpY2U=\r\n"),
                                                             feed("334 UGFzc3dvcmQ6\r\n"),
                                                             expect_write("czNjcmV0\r\n"),
                                                             feed("334 again?\r\n"),
                                                             expect_close(upstream_errc::malformed_reply),
                                                         }));
}

TEST(smtp_client, starttls_then_ehlo_again_with_pre_tls_extensions_forgotten) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::starttls), {
                                                         feed("220 mx ESMTP\r\n"),
                                                         expect_write("EHLO gw.lan\r\n"),
                                                         feed("250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"),
                                                         expect_write("STARTTLS\r\n"),
                                                         feed("220 2.0.0 Ready to start TLS\r\n"),
                                                         expect_start_tls(),
                                                         extensions_are({}),
                                                         expect_write("EHLO gw.lan\r\n"),
                                                         // After TLS only LOGIN: PLAIN must not be used.
                                                         feed("250-mx\r\n250 AUTH LOGIN\r\n"),
                                                         expect_write("AUTH LOGIN\r\n"),
                                                         extensions_are({"AUTH LOGIN"}),
                                                         feed("334 VXNlcm5hbWU6\r\n"),
                                                         expect_write("YWxpY2U=\r\n"),
                                                         feed("334 UGFzc3dvcmQ6\r\n"),
                                                         expect_write("czNjcmV0\r\n"),
                                                         feed("235 ok\r\n"),
                                                         expect_done(),
                                                     }));
}

TEST(smtp_client, starttls_not_offered_is_starttls_unsupported) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls),
                               {
                                   feed("220 mx ESMTP\r\n"),
                                   expect_write("EHLO gw.lan\r\n"),
                                   feed("250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLSX\r\n"),
                                   expect_close(upstream_errc::starttls_unsupported),
                               }));
}

TEST(smtp_client, non_220_to_starttls_is_starttls_refused) {
    for (const char* reply : {"454 4.7.0 TLS not available due to local problem\r\n", "502 5.5.1 no\r\n"}) {
        SCOPED_TRACE(reply);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::starttls), {
                                                             feed("220 mx ESMTP\r\n"),
                                                             expect_write("EHLO gw.lan\r\n"),
                                                             feed("250-mx\r\n250 STARTTLS\r\n"),
                                                             expect_write("STARTTLS\r\n"),
                                                             feed(reply),
                                                             expect_close(upstream_errc::starttls_refused),
                                                         }));
    }
}

TEST(smtp_client, bytes_after_the_starttls_reply_are_an_injection) {
    for (const char* injected : {"250-mx\r\n250 AUTH PLAIN\r\n", "2", "220 again\r\n"}) {
        SCOPED_TRACE(injected);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::starttls), {
                                                             feed("220 mx ESMTP\r\n"),
                                                             expect_write("EHLO gw.lan\r\n"),
                                                             feed("250-mx\r\n250 STARTTLS\r\n"),
                                                             expect_write("STARTTLS\r\n"),
                                                             feed_whole(std::string("220 go\r\n") + injected),
                                                             expect_close(upstream_errc::data_after_starttls),
                                                         }));
    }
}

TEST(smtp_client, reply_535_is_auth_rejected) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        after_ehlo("250-mx\r\n250 AUTH PLAIN\r\n") +
            std::vector<step>{
                expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                feed("535 5.7.8 Error: authentication failed\r\n"),
                expect_close(upstream_errc::auth_rejected, "535 5.7.8 Error: authentication failed"),
                check<client>([](client& c) {
                    EXPECT_EQ(c.diagnostics().find("s3cret"), std::string::npos);
                    EXPECT_EQ(c.diagnostics().find(plain_alice), std::string::npos);
                }),
            }));
}

TEST(smtp_client, transient_reply_to_auth_is_temporarily_unavailable) {
    for (const char* reply :
         {"454 4.7.0 Temporary authentication failure\r\n", "421 4.3.2 shutting down\r\n"}) {
        SCOPED_TRACE(reply);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                                   after_ehlo("250-mx\r\n250 AUTH PLAIN\r\n") +
                                       std::vector<step>{
                                           expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                           feed(reply),
                                           expect_close(upstream_errc::temporarily_unavailable),
                                       }));
    }
}

TEST(smtp_client, no_usable_auth_is_no_usable_mechanism) {
    for (const char* ehlo :
         {"250-mx\r\n250 SIZE 1000\r\n", "250 mx\r\n", "250-mx\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n",
          "250-mx\r\n250 AUTH=PLAIN LOGIN\r\n", "250-mx\r\n250 X-AUTH PLAIN\r\n"}) {
        SCOPED_TRACE(ehlo);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                                   after_ehlo(ehlo) +
                                       std::vector<step>{expect_close(upstream_errc::no_usable_mechanism)}));
    }
}

TEST(smtp_client, malformed_reply_codes_are_malformed_reply) {
    for (const char* greeting : {"2x0 hi\r\n", "22\r\n", "\r\n", "220_hi\r\n", "220hi\r\n", "199 hi\r\n",
                                 "600 hi\r\n", "+OK POP3\r\n", "220 bare lf\n"}) {
        SCOPED_TRACE(escape_bytes(greeting));
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                                   {feed(greeting), expect_close(upstream_errc::malformed_reply)}));
    }
}

TEST(smtp_client, inconsistent_multi_line_codes_are_malformed_reply) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit), {feed("220-mx\r\n250 ready\r\n"),
                                                              expect_close(upstream_errc::malformed_reply)}));
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       after_ehlo("250-mx\r\n251-SIZE\r\n") +
                           std::vector<step>{expect_close(upstream_errc::malformed_reply, "251-SIZE")}));
}

TEST(smtp_client, ehlo_refused_is_malformed_reply) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               after_ehlo("502 5.5.2 Error: command not recognized\r\n") +
                                   std::vector<step>{expect_close(upstream_errc::malformed_reply)}));
}

TEST(smtp_client, non_220_greeting_is_greeting_rejected) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit), {feed("554 5.7.1 no service for you\r\n"),
                                                              expect_close(upstream_errc::greeting_rejected,
                                                                           "554 5.7.1 no service for you")}));
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), {feed("421-busy\r\n421 try later\r\n"),
                                                      expect_close(upstream_errc::greeting_rejected)}));
}

TEST(smtp_client, eof_is_closed) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), {feed_eof(), expect_close(upstream_errc::closed)}));
    // In the middle of a multi-line reply.
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               after_ehlo("250-mx\r\n250-SIZE\r\n") +
                                   std::vector<step>{feed_eof(), expect_close(upstream_errc::closed)}));
}

TEST(smtp_client, line_too_long_with_small_limits) {
    const upstream_limits limits{.max_line = 30};
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", "s3cret"}, limits),
                               after_ehlo("250-mx\r\n250-X-" + std::string(24, 'L')) +
                                   std::vector<step>{expect_close(upstream_errc::line_too_long)}));
}

TEST(smtp_client, nul_in_a_credential_cannot_go_in_auth_plain) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, {"alice", std::string("s3\0cret", 7)}),
                       after_ehlo("250-mx\r\n250 AUTH PLAIN\r\n") +
                           std::vector<step>{expect_close(upstream_errc::credential_unencodable, "")}));
}

TEST(smtp_client, quit_then_221_is_done) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               after_ehlo("250-mx\r\n250 AUTH PLAIN\r\n") +
                                   std::vector<step>{
                                       expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                       feed("235 2.7.0 Authentication successful\r\n"),
                                       expect_done(),
                                       logout(),
                                       expect_write("QUIT\r\n"),
                                       feed("221 2.0.0 Bye\r\n"),
                                       expect_done(),
                                   }));
}

TEST(smtp_reply_assembler, single_line_reply) {
    reply_assembler a;
    ASSERT_EQ(a.feed("250 2.1.0 Ok"), reply_assembler::result::complete);
    reply r = a.take();
    EXPECT_EQ(r.code, 250);
    EXPECT_EQ(r.lines, std::vector<std::string>{"2.1.0 Ok"});
}

TEST(smtp_reply_assembler, code_alone_and_code_with_empty_text) {
    reply_assembler a;
    ASSERT_EQ(a.feed("250"), reply_assembler::result::complete);
    EXPECT_EQ(a.take().lines, std::vector<std::string>{""});
    ASSERT_EQ(a.feed("250-"), reply_assembler::result::more);
    ASSERT_EQ(a.feed("250 "), reply_assembler::result::complete);
    EXPECT_EQ(a.take().lines, (std::vector<std::string>{"", ""}));
}

TEST(smtp_reply_assembler, multi_line_reply_collects_every_line) {
    reply_assembler a;
    EXPECT_EQ(a.feed("250-mx.example.org"), reply_assembler::result::more);
    EXPECT_EQ(a.feed("250-PIPELINING"), reply_assembler::result::more);
    EXPECT_EQ(a.feed("250 AUTH PLAIN"), reply_assembler::result::complete);
    reply r = a.take();
    EXPECT_EQ(r.code, 250);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"mx.example.org", "PIPELINING", "AUTH PLAIN"}));
    // take() starts a fresh reply: another code is fine now.
    EXPECT_EQ(a.feed("354 go ahead"), reply_assembler::result::complete);
    EXPECT_EQ(a.take().code, 354);
}

TEST(smtp_reply_assembler, rejects_bad_codes_and_separators) {
    for (const char* line : {"", "2", "25", "2a0 x", "-250 x", " 250", "199 x", "000 x", "600 x", "999",
                             "250x", "250_x", "250\tx"}) {
        reply_assembler a;
        EXPECT_EQ(a.feed(line), reply_assembler::result::malformed) << '"' << line << '"';
    }
}

TEST(smtp_reply_assembler, rejects_a_code_change_inside_a_multi_line_reply) {
    reply_assembler a;
    ASSERT_EQ(a.feed("250-first"), reply_assembler::result::more);
    EXPECT_EQ(a.feed("251 second"), reply_assembler::result::malformed);
}

} // namespace
} // namespace mailgate::protocols::smtp

namespace mailgate::protocols::smtp {
namespace {

using namespace mailgate::test;

TEST(smtp_client, other_credential_rejections_are_auth_rejected) {
    for (const char* reply :
         {"534 5.7.9 Application-specific password required\r\n",
          "530 5.7.0 Must issue a STARTTLS command first\r\n", "538 5.7.11 Encryption required\r\n"}) {
        SCOPED_TRACE(reply);
        EXPECT_TRUE(run_transcript(
            [] {
                return std::make_unique<client>(upstream_tls::implicit,
                                                upstream_credentials{"alice", "s3cret"}, "gw.lan");
            },
            {feed("220 mx\r\n"), expect_write("EHLO gw.lan\r\n"), feed("250-mx\r\n250 AUTH PLAIN\r\n"),
             expect_write("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"), feed(reply),
             expect_close(upstream_errc::auth_rejected)}));
    }
}

TEST(smtp_client, long_plain_response_waits_for_the_334_prompt) {
    std::string secret(600, 'x'); // RFC 4954 §4: the AUTH line would exceed 512 octets
    auto response = base64_encode(std::string("\0alice\0", 7) + secret);
    EXPECT_TRUE(run_transcript(
        [secret] {
            return std::make_unique<client>(upstream_tls::implicit, upstream_credentials{"alice", secret},
                                            "gw.lan");
        },
        {feed("220 mx\r\n"), expect_write("EHLO gw.lan\r\n"), feed("250-mx\r\n250 AUTH PLAIN\r\n"),
         expect_write("AUTH PLAIN\r\n"), feed("334 \r\n"), expect_write(response + "\r\n"),
         feed("235 2.7.0 ok\r\n"), expect_done()}));
}

TEST(smtp_client, an_echoed_secret_is_redacted_from_diagnostics) {
    EXPECT_TRUE(run_transcript(
        [] {
            return std::make_unique<client>(upstream_tls::implicit, upstream_credentials{"alice", "s3cret"},
                                            "gw.lan");
        },
        {feed("220 mx\r\n"), expect_write("EHLO gw.lan\r\n"), feed("250-mx\r\n250 AUTH PLAIN\r\n"),
         expect_write("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"), feed("535 5.7.8 bad password s3cret\r\n"),
         expect_close(upstream_errc::auth_rejected, "535 5.7.8 bad password ***")}));
}

// ---- transact(): provider transactions after login ----

// Logged in with AUTH PLAIN over implicit TLS.
std::vector<step> logged_in() {
    return after_ehlo("250-mx\r\n250-SIZE 1000\r\n250 AUTH PLAIN\r\n") +
           std::vector<step>{expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                             feed("235 2.7.0 Authentication successful\r\n"), expect_done()};
}

step transact(std::string line) {
    return check<client>([line](client& c) {
        if (line.empty())
            c.await_verdict();
        else
            c.transact(line);
    });
}

step last_reply_is(int code, std::vector<std::string> lines) {
    return check<client>([code, lines](client& c) {
        EXPECT_EQ(c.last_reply().code, code);
        EXPECT_EQ(c.last_reply().lines, lines);
    });
}

TEST(smtp_client, transact_sends_a_command_and_waits_for_its_reply) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       logged_in() + std::vector<step>{
                                         transact("MAIL FROM:<a@b> SIZE=10\r\n"),
                                         expect_write("MAIL FROM:<a@b> SIZE=10\r\n"),
                                         feed("250 2.1.0 Ok\r\n"),
                                         expect_done(),
                                         last_reply_is(250, {"2.1.0 Ok"}),
                                         transact("RCPT TO:<c@d>\r\n"),
                                         expect_write("RCPT TO:<c@d>\r\n"),
                                         feed("550 5.1.1 <c@d>: Recipient address rejected\r\n"),
                                         expect_done(),
                                         last_reply_is(550, {"5.1.1 <c@d>: Recipient address rejected"}),
                                     }));
}

TEST(smtp_client, transact_assembles_multi_line_replies) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       logged_in() + std::vector<step>{
                                         transact("DATA\r\n"),
                                         expect_write("DATA\r\n"),
                                         feed("354-Go ahead\r\n354-really\r\n354 End with <CRLF>.<CRLF>\r\n"),
                                         expect_done(),
                                         last_reply_is(354, {"Go ahead", "really", "End with <CRLF>.<CRLF>"}),
                                     }));
}

TEST(smtp_client, transact_with_no_line_only_reads_the_reply) {
    // The verdict after DATA: the message and its terminator went out directly; only the reply is read.
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               logged_in() + std::vector<step>{
                                                 transact(""),
                                                 feed("250 2.0.0 Ok: queued as 4F2A1C\r\n"),
                                                 expect_done(),
                                                 last_reply_is(250, {"2.0.0 Ok: queued as 4F2A1C"}),
                                                 logout(),
                                                 expect_write("QUIT\r\n"),
                                                 feed("221 2.0.0 Bye\r\n"),
                                                 expect_done(),
                                             }));
}

TEST(smtp_client, transact_failures) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        logged_in() + std::vector<step>{transact("NOOP\r\n"), expect_write("NOOP\r\n"), feed("25O ok\r\n"),
                                        expect_close(upstream_errc::malformed_reply)}));
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               logged_in() + std::vector<step>{transact("NOOP\r\n"), expect_write("NOOP\r\n"),
                                                               feed("250-a\r\n"), feed_eof(),
                                                               expect_close(upstream_errc::closed)}));
    // A reply nobody asked for.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       logged_in() + std::vector<step>{feed("421 4.4.2 idle timeout\r\n"),
                                                       expect_close(upstream_errc::malformed_reply)}));
}

// ---- OAuth2 bearer logins (XOAUTH2, OAUTHBEARER)

const std::string user = "alice@example.org";
const std::string token = "ya29.a0AfB_byC-token";
const std::string all_bearer = "250-mx\r\n250-AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER\r\n250 8BITMIME\r\n";

TEST(smtp_client, bearer_short_payload_goes_inline) {
    for (const auto& b : bearer_cases(user, token)) {
        SCOPED_TRACE(b.mechanism);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   after_ehlo(all_bearer) +
                                       std::vector<step>{
                                           expect_write("AUTH " + b.mechanism + " " + b.payload + "\r\n"),
                                           feed("235 2.7.0 Accepted\r\n"),
                                           expect_done(),
                                       }));
    }
    const std::string message = "n,a=a=3Db=2Cc,\x01host=smtp.example.org\x01port=587\x01"
                                "auth=Bearer tok\x01\x01";
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit,
             bearer("a=b,c", "tok", bearer_mechanism::oauthbearer, "smtp.example.org", 587)),
        after_ehlo(all_bearer) +
            std::vector<step>{expect_write("AUTH OAUTHBEARER " + base64_encode(message) + "\r\n")}));
}

TEST(smtp_client, bearer_payload_goes_after_the_334_when_the_line_exceeds_512_octets) {
    // "AUTH XOAUTH2 " + base64 + CRLF: a 335-byte token makes it 511 octets, one more byte 515. Real tokens
    // (1.5-3 KB) always wait: Gmail answers 555 and Dovecot 500 to such a line inline.
    for (std::size_t size : {335, 336, 3000}) {
        const auto b = bearer_cases(user, token_of(size))[0];
        const std::string inline_line = "AUTH XOAUTH2 " + b.payload + "\r\n";
        SCOPED_TRACE(inline_line.size());
        EXPECT_EQ(inline_line.size() <= 512, size == 335);
        std::vector<step> login = inline_line.size() <= 512
                                      ? std::vector<step>{expect_write(inline_line)}
                                      : std::vector<step>{expect_write("AUTH XOAUTH2\r\n"), feed("334 \r\n"),
                                                          expect_write(b.payload + "\r\n")};
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   after_ehlo(all_bearer) + login +
                                       std::vector<step>{feed("235 2.7.0 Accepted\r\n"), expect_done()}));
    }
}

TEST(smtp_client, bearer_error_report_is_answered_then_token_rejected_with_its_status) {
    const std::string last_line = "535 5.7.8 https://support.google.com/mail/?p=BadCredentials";
    const std::string refusal = "535-5.7.8 Username and Password not accepted.\r\n" + last_line + "\r\n";
    const std::string diagnostics = last_line + "; error report: " + std::string(gmail_error_json);
    for (const auto& b : bearer_cases(user, token_of(3000))) {
        SCOPED_TRACE(b.mechanism);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   after_ehlo(all_bearer) +
                                       std::vector<step>{
                                           expect_write("AUTH " + b.mechanism + "\r\n"),
                                           feed("334 \r\n"),
                                           expect_write(b.payload + "\r\n"),
                                           feed("334 " + std::string(gmail_error_report) + "\r\n"),
                                           expect_write(b.error_answer),
                                           feed(refusal),
                                           expect_close(upstream_errc::token_rejected, diagnostics),
                                       }));
    }
    // Inline payload, then a second report that is not answered.
    const auto b = bearer_cases(user, token)[0];
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, b.credentials),
                       after_ehlo(all_bearer) + std::vector<step>{
                                                    expect_write("AUTH XOAUTH2 " + b.payload + "\r\n"),
                                                    feed("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
                                                    expect_write("\r\n"),
                                                    feed("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
                                                    expect_close(upstream_errc::malformed_reply),
                                                }));
}

TEST(smtp_client, bearer_bare_refusal_is_token_rejected_and_4xx_stays_temporary) {
    const auto b = bearer_cases(user, token)[0];
    const std::vector<step> login =
        after_ehlo(all_bearer) + std::vector<step>{expect_write("AUTH XOAUTH2 " + b.payload + "\r\n")};
    // Microsoft's answer to an expired token.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, b.credentials),
                       login + std::vector<step>{feed("535 5.7.3 Authentication unsuccessful\r\n"),
                                                 expect_close(upstream_errc::token_rejected,
                                                              "535 5.7.3 Authentication unsuccessful")}));
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, b.credentials),
                       login + std::vector<step>{feed("454 4.7.0 Temporary authentication failure\r\n"),
                                                 expect_close(upstream_errc::temporarily_unavailable)}));
}

TEST(smtp_client, bearer_never_falls_back_to_plain_or_login) {
    for (const auto& b : bearer_cases(user, token)) {
        const std::string other = b.mechanism == "XOAUTH2" ? "OAUTHBEARER" : "XOAUTH2";
        for (const std::string& ehlo :
             std::vector<std::string>{"250-mx\r\n250 AUTH PLAIN LOGIN\r\n", "250 mx\r\n",
                                      "250-mx\r\n250 AUTH " + other + "\r\n"}) {
            SCOPED_TRACE(b.mechanism + " with " + ehlo);
            EXPECT_TRUE(run_transcript(
                make(upstream_tls::implicit, b.credentials),
                after_ehlo(ehlo) + std::vector<step>{expect_close(upstream_errc::no_usable_mechanism, "")}));
        }
    }
}

TEST(smtp_client, bearer_mechanism_is_taken_from_the_ehlo_after_starttls) {
    const auto b = bearer_cases(user, token)[0];
    const std::vector<step> to_tls = {feed("220 mx\r\n"),
                                      expect_write("EHLO gw.lan\r\n"),
                                      feed("250-mx\r\n250-AUTH XOAUTH2\r\n250 STARTTLS\r\n"),
                                      expect_write("STARTTLS\r\n"),
                                      feed("220 go\r\n"),
                                      expect_start_tls(),
                                      expect_write("EHLO gw.lan\r\n")};
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls, b.credentials),
                               to_tls + std::vector<step>{feed("250-mx\r\n250 AUTH PLAIN\r\n"),
                                                          expect_close(upstream_errc::no_usable_mechanism)}));
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls, b.credentials),
                               to_tls + std::vector<step>{feed("250-mx\r\n250 AUTH XOAUTH2\r\n"),
                                                          expect_write("AUTH XOAUTH2 " + b.payload + "\r\n"),
                                                          feed("235 ok\r\n"), expect_done()}));
}

TEST(smtp_client, bearer_control_byte_in_a_field_is_unencodable_before_anything_is_sent) {
    for (const auto& credentials :
         {bearer(user, "ya29.a\x01"
                       "b"),
          bearer(user, "a\r\nRSET", bearer_mechanism::oauthbearer), bearer("al\rice", token),
          bearer(user, token, bearer_mechanism::oauthbearer, "h\nost")}) {
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, credentials),
                                   after_ehlo(all_bearer) + std::vector<step>{expect_close(
                                                                upstream_errc::credential_unencodable, "")}));
    }
}

} // namespace
} // namespace mailgate::protocols::smtp
