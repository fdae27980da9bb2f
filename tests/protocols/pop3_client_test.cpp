// POP3 upstream login codec transcripts (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 3206
// codes, RFC 7628 and XOAUTH2 bearer logins), each run whole, split at every offset and byte by byte; plus the
// POP3 status-line helpers.
#include "protocols/common/base64.hpp"
#include "protocols/pop3/client.hpp"
#include "protocols/pop3/reply.hpp"
#include "tests/protocols/bearer.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

namespace mailgate::protocols::pop3 {
namespace {

using namespace mailgate::test;
using caps = std::set<std::string>;

constexpr const char* plain_alice = "AGFsaWNlAHMzY3JldA=="; // base64("\0alice\0s3cret")

codec_factory make(upstream_tls tls, upstream_credentials credentials = {"alice", "s3cret"},
                   upstream_limits limits = {}) {
    return [=] { return std::make_unique<client>(tls, credentials, limits); };
}

step capabilities_are(caps expected) {
    return check<client>([expected](client& c) { EXPECT_EQ(c.capabilities(), expected); });
}

step diagnostics_hide(std::string secret) {
    return check<client>([secret](client& c) { EXPECT_EQ(c.diagnostics().find(secret), std::string::npos); });
}

// Greeting and a CAPA without STLS or SASL, up to the USER command.
std::vector<step> up_to_user(std::string capa = "+OK\r\nUSER\r\n.\r\n") {
    return {feed("+OK POP3 ready\r\n"), expect_write("CAPA\r\n"), feed(std::move(capa)),
            expect_write("USER alice\r\n")};
}

std::vector<step> operator+(std::vector<step> a, const std::vector<step>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(pop3_client, implicit_tls_login_with_auth_plain_when_capa_lists_sasl_plain) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       {
                           feed("+OK Dovecot ready.\r\n"),
                           expect_write("CAPA\r\n"),
                           feed("+OK Capability list follows\r\ntop\r\nUSER\r\nsasl LOGIN PLAIN\r\n"
                                "STLS\r\n.\r\n"),
                           expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                           feed("+OK Logged in.\r\n"),
                           expect_done(),
                           // Keywords upper-cased, arguments kept; STLS ignored on an implicit TLS link.
                           capabilities_are({"TOP", "USER", "SASL LOGIN PLAIN", "STLS"}),
                       }));
}

TEST(pop3_client, auth_plain_carries_cr_lf_in_the_secret_inside_base64) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", "pa\r\nss"}),
                               {
                                   feed("+OK ready\r\n"),
                                   expect_write("CAPA\r\n"),
                                   feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                                   expect_write("AUTH PLAIN AGFsaWNlAHBhDQpzcw==\r\n"),
                                   feed("+OK\r\n"),
                                   expect_done(),
                               }));
}

TEST(pop3_client, user_pass_when_sasl_does_not_offer_plain) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               up_to_user("+OK\r\nUSER\r\nSASL XPLAIN PLAINISH\r\n.\r\n") +
                                   std::vector<step>{
                                       feed("+OK\r\n"),
                                       expect_write("PASS s3cret\r\n"),
                                       feed("+OK Logged in.\r\n"),
                                       expect_done(),
                                   }));
}

TEST(pop3_client, capa_lines_are_dot_unstuffed) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit), {
                                                                 feed("+OK ready\r\n"),
                                                                 expect_write("CAPA\r\n"),
                                                                 feed("+OK\r\n..X-DOT\r\nUSER\r\n.\r\n"),
                                                                 expect_write("USER alice\r\n"),
                                                                 capabilities_are({".X-DOT", "USER"}),
                                                             }));
}

TEST(pop3_client, user_pass_fallback_when_capa_has_no_sasl) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit), up_to_user("+OK\r\nUSER\r\nTOP\r\n.\r\n") +
                                                                 std::vector<step>{
                                                                     feed("+OK send PASS\r\n"),
                                                                     expect_write("PASS s3cret\r\n"),
                                                                     feed("+OK Logged in.\r\n"),
                                                                     expect_done(),
                                                                     capabilities_are({"USER", "TOP"}),
                                                                 }));
}

TEST(pop3_client, user_pass_fallback_when_capa_answers_err) {
    // CAPA is optional (RFC 2449): an old server answers -ERR and only USER/PASS is left.
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               up_to_user("-ERR unknown command\r\n") + std::vector<step>{
                                                                            feed("+OK\r\n"),
                                                                            expect_write("PASS s3cret\r\n"),
                                                                            feed("+OK\r\n"),
                                                                            expect_done(),
                                                                            capabilities_are({}),
                                                                        }));
}

TEST(pop3_client, pass_may_carry_spaces) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", "two words "}),
                               up_to_user() + std::vector<step>{
                                                  feed("+OK\r\n"),
                                                  expect_write("PASS two words \r\n"),
                                                  feed("+OK\r\n"),
                                                  expect_done(),
                                              }));
}

TEST(pop3_client, stls_then_capa_again_then_login) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls),
                               {
                                   feed("+OK ready\r\n"),
                                   expect_write("CAPA\r\n"),
                                   feed("+OK\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
                                   expect_write("STLS\r\n"),
                                   feed("+OK Begin TLS negotiation now.\r\n"),
                                   expect_start_tls(),
                                   expect_write("CAPA\r\n"),
                                   feed("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
                                   expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                   feed("+OK\r\n"),
                                   expect_done(),
                                   capabilities_are({"USER", "SASL PLAIN"}),
                               }));
}

TEST(pop3_client, pre_tls_capabilities_are_forgotten) {
    // Before TLS the (unauthenticated) server offers SASL PLAIN; after TLS it does not: USER/PASS must
    // follow.
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls), {
                                                                 feed("+OK ready\r\n"),
                                                                 expect_write("CAPA\r\n"),
                                                                 feed("+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"),
                                                                 expect_write("STLS\r\n"),
                                                                 feed("+OK\r\n"),
                                                                 expect_start_tls(),
                                                                 capabilities_are({}),
                                                                 expect_write("CAPA\r\n"),
                                                                 feed("+OK\r\nUSER\r\n.\r\n"),
                                                                 expect_write("USER alice\r\n"),
                                                                 feed("+OK\r\n"),
                                                                 expect_write("PASS s3cret\r\n"),
                                                                 feed("+OK\r\n"),
                                                                 expect_done(),
                                                                 capabilities_are({"USER"}),
                                                             }));
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls), {
                                                                 feed("+OK ready\r\n"),
                                                                 expect_write("CAPA\r\n"),
                                                                 feed("+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"),
                                                                 expect_write("STLS\r\n"),
                                                                 feed("+OK\r\n"),
                                                                 expect_start_tls(),
                                                                 expect_write("CAPA\r\n"),
                                                                 feed("-ERR no CAPA\r\n"),
                                                                 expect_write("USER alice\r\n"),
                                                             }));
}

TEST(pop3_client, stls_missing_from_capa_is_starttls_unsupported) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::starttls), {
                                                         feed("+OK ready\r\n"),
                                                         expect_write("CAPA\r\n"),
                                                         feed("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
                                                         expect_close(upstream_errc::starttls_unsupported),
                                                     }));
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::starttls), {
                                                         feed("+OK ready\r\n"),
                                                         expect_write("CAPA\r\n"),
                                                         feed("-ERR what?\r\n"),
                                                         expect_close(upstream_errc::starttls_unsupported),
                                                     }));
}

TEST(pop3_client, err_to_stls_is_starttls_refused) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls), {
                                                                 feed("+OK ready\r\n"),
                                                                 expect_write("CAPA\r\n"),
                                                                 feed("+OK\r\nSTLS\r\n.\r\n"),
                                                                 expect_write("STLS\r\n"),
                                                                 feed("-ERR TLS not available now\r\n"),
                                                                 expect_close(upstream_errc::starttls_refused,
                                                                              "-ERR TLS not available now"),
                                                             }));
}

TEST(pop3_client, bytes_after_the_stls_reply_are_an_injection) {
    for (const char* injected : {"INJECTED", "CAPA\r\n", "+OK\r\n"}) {
        SCOPED_TRACE(injected);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::starttls), {
                                                             feed("+OK ready\r\n"),
                                                             expect_write("CAPA\r\n"),
                                                             feed("+OK\r\nSTLS\r\n.\r\n"),
                                                             expect_write("STLS\r\n"),
                                                             feed_whole(std::string("+OK\r\n") + injected),
                                                             expect_close(upstream_errc::data_after_starttls),
                                                         }));
    }
}

TEST(pop3_client, err_auth_to_auth_plain_is_auth_rejected) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       {
                           feed("+OK ready\r\n"),
                           expect_write("CAPA\r\n"),
                           feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                           expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                           feed("-ERR [AUTH] Authentication failed.\r\n"),
                           expect_close(upstream_errc::auth_rejected, "-ERR [AUTH] Authentication failed."),
                           diagnostics_hide("s3cret"),
                           diagnostics_hide(plain_alice),
                       }));
}

TEST(pop3_client, err_to_user_or_pass_is_auth_rejected) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               up_to_user() + std::vector<step>{
                                                  feed("-ERR no such user\r\n"),
                                                  expect_close(upstream_errc::auth_rejected),
                                              }));
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        up_to_user() + std::vector<step>{
                           feed("+OK\r\n"),
                           expect_write("PASS s3cret\r\n"),
                           feed("-ERR [AUTH] Invalid login\r\n"),
                           expect_close(upstream_errc::auth_rejected, "-ERR [AUTH] Invalid login"),
                           diagnostics_hide("s3cret"),
                       }));
}

TEST(pop3_client, sys_temp_and_in_use_are_temporarily_unavailable) {
    for (const char* reply : {"-ERR [SYS/TEMP] Try again later\r\n", "-ERR [sys/temp] lower case\r\n",
                              "-ERR [IN-USE] Mailbox locked\r\n"}) {
        SCOPED_TRACE(reply);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                                   {
                                       feed("+OK ready\r\n"),
                                       expect_write("CAPA\r\n"),
                                       feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                                       expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                       feed(reply),
                                       expect_close(upstream_errc::temporarily_unavailable),
                                   }));
    }
    // A permanent system error is not "try later".
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               up_to_user() + std::vector<step>{
                                                  feed("+OK\r\n"),
                                                  expect_write("PASS s3cret\r\n"),
                                                  feed("-ERR [SYS/PERM] disabled\r\n"),
                                                  expect_close(upstream_errc::auth_rejected),
                                              }));
}

TEST(pop3_client, err_greeting_is_greeting_rejected) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        {
            feed("-ERR [SYS/TEMP] too many connections\r\n"),
            expect_close(upstream_errc::greeting_rejected, "-ERR [SYS/TEMP] too many connections"),
        }));
}

TEST(pop3_client, eof_is_closed_wherever_it_happens) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), {feed_eof(), expect_close(upstream_errc::closed)}));
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               {feed("+OK POP3 rea"), feed_eof(), expect_close(upstream_errc::closed)}));
    // In the middle of the CAPA list.
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit), {
                                                                 feed("+OK ready\r\n"),
                                                                 expect_write("CAPA\r\n"),
                                                                 feed("+OK\r\nUSER\r\n"),
                                                                 feed_eof(),
                                                                 expect_close(upstream_errc::closed),
                                                             }));
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), up_to_user() + std::vector<step>{
                                                                        feed_eof(),
                                                                        expect_close(upstream_errc::closed),
                                                                    }));
}

TEST(pop3_client, a_line_that_is_not_a_status_is_malformed) {
    for (const char* greeting :
         {"HTTP/1.1 400 Bad Request\r\n", "+OKAY\r\n", "+ok\r\n", "\r\n", "* OK IMAP\r\n"}) {
        SCOPED_TRACE(greeting);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                                   {feed(greeting), expect_close(upstream_errc::malformed_reply)}));
    }
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               up_to_user() + std::vector<step>{
                                                  feed("OK go on\r\n"),
                                                  expect_close(upstream_errc::malformed_reply, "OK go on"),
                                              }));
    // Strict framing: a bare LF ends nothing.
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               {feed("+OK ready\n"), expect_close(upstream_errc::malformed_reply)}));
}

TEST(pop3_client, unsolicited_line_after_login_is_malformed) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               up_to_user() + std::vector<step>{
                                                  feed("+OK\r\n"),
                                                  expect_write("PASS s3cret\r\n"),
                                                  feed("+OK\r\n"),
                                                  expect_done(),
                                                  feed("+OK surprise\r\n"),
                                                  expect_close(upstream_errc::malformed_reply),
                                              }));
}

TEST(pop3_client, line_too_long_with_small_limits) {
    const upstream_limits limits{.max_line = 32};
    // A line of exactly 32 bytes with its CRLF is fine ...
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", "s3cret"}, limits),
                               {feed("+OK " + std::string(26, 'x') + "\r\n"), expect_write("CAPA\r\n")}));
    // ... 32 bytes that are not yet a line can never become one.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, {"alice", "s3cret"}, limits),
                       {feed("+OK " + std::string(28, 'x')), expect_close(upstream_errc::line_too_long)}));
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", "s3cret"}, limits),
                               {
                                   feed("+OK ready\r\n"),
                                   expect_write("CAPA\r\n"),
                                   feed("+OK\r\nUSER\r\nX-LONG " + std::string(25, 'y')),
                                   expect_close(upstream_errc::line_too_long),
                               }));
}

TEST(pop3_client, logout_sends_quit_and_is_done_on_ok) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               {
                                   feed("+OK ready\r\n"),
                                   expect_write("CAPA\r\n"),
                                   feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                                   expect_write(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                   feed("+OK\r\n"),
                                   expect_done(),
                                   logout(),
                                   expect_write("QUIT\r\n"),
                                   feed("+OK Logging out.\r\n"),
                                   expect_done(),
                               }));
}

TEST(pop3_client, credentials_user_pass_cannot_carry_are_unencodable) {
    for (upstream_credentials creds :
         {upstream_credentials{"al\r\nice", "s3cret"}, upstream_credentials{"alice", "s3\ncret"},
          upstream_credentials{"alice", "s3\rcret"}, upstream_credentials{"al ice", "s3cret"},
          upstream_credentials{"alice", std::string("s3\0cret", 7)}}) {
        SCOPED_TRACE(escape_bytes(creds.user + "/" + creds.secret));
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, creds),
                                   {
                                       feed("+OK ready\r\n"),
                                       expect_write("CAPA\r\n"),
                                       feed("+OK\r\nUSER\r\n.\r\n"),
                                       expect_close(upstream_errc::credential_unencodable, ""),
                                   }));
    }
    // SASL PLAIN cannot carry NUL either.
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", std::string("s3\0cret", 7)}),
                               {
                                   feed("+OK ready\r\n"),
                                   expect_write("CAPA\r\n"),
                                   feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                                   expect_close(upstream_errc::credential_unencodable, ""),
                               }));
}

TEST(pop3_client, diagnostics_are_sanitized_and_capped) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        up_to_user() + std::vector<step>{
                           feed("+OK\r\n"),
                           expect_write("PASS s3cret\r\n"),
                           feed("-ERR [AUTH] bad\x01\x7f\xff\t\rlogin\r\n"),
                           expect_close(upstream_errc::auth_rejected, "-ERR [AUTH] bad?????login"),
                       }));
    const std::string long_text(300, 'z');
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        {feed("-ERR " + long_text + "\r\n"),
         expect_close(upstream_errc::greeting_rejected, "-ERR " + long_text.substr(0, 195) + "...")}));
}

// The runner itself: a wrong expectation, and a feed that needs two reads' worth of replies, must be reported
// with the mode, step and offset that diverged.
TEST(transcript_runner, reports_a_wrong_write_with_mode_and_step) {
    EXPECT_NONFATAL_FAILURE(
        run_transcript(make(upstream_tls::implicit), {feed("+OK\r\n"), expect_write("CAPX\r\n")}),
        "mode whole at step 1 (\"CAPX\\r\\n\"): expected write \"CAPX\\r\\n\", got write "
        "\"CAPA\\r\\n\"");
}

TEST(transcript_runner, reports_the_first_split_offset_that_diverges) {
    // After the greeting line the codec writes CAPA before it reads again, so delivering the rest of this
    // feed in a second read is wrong: only the split mode exposes it.
    EXPECT_NONFATAL_FAILURE(
        run_transcript(make(upstream_tls::implicit), {feed("+OK ready\r\n+OK\r\n"), expect_write("CAPA\r\n"),
                                                      feed(".\r\n"), expect_write("USER alice\r\n")}),
        "mode split (step 0 at offset 11) at step 0");
}

TEST(transcript_runner, reports_a_wrong_close_reason) {
    EXPECT_NONFATAL_FAILURE(
        run_transcript(make(upstream_tls::implicit), {feed("-ERR\r\n"), expect_close(upstream_errc::closed)}),
        "expected close with error \"provider closed the connection\", got \"provider rejected "
        "the connection\"");
}

TEST(pop3_reply, status_words_must_be_exact) {
    EXPECT_EQ(reply_status("+OK"), status::ok);
    EXPECT_EQ(reply_status("+OK hello"), status::ok);
    EXPECT_EQ(reply_status("-ERR"), status::err);
    EXPECT_EQ(reply_status("-ERR [AUTH] no"), status::err);
    EXPECT_EQ(reply_status("+OKAY"), status::malformed);
    EXPECT_EQ(reply_status("-ERROR"), status::malformed);
    EXPECT_EQ(reply_status("+ok"), status::malformed);
    EXPECT_EQ(reply_status("+ "), status::malformed);
    EXPECT_EQ(reply_status(""), status::malformed);
}

TEST(pop3_reply, response_code_is_the_bracketed_word_after_the_status) {
    EXPECT_EQ(response_code("-ERR [SYS/TEMP] later"), "SYS/TEMP");
    EXPECT_EQ(response_code("-ERR [auth] no"), "AUTH");
    EXPECT_EQ(response_code("-ERR [IN-USE]"), "IN-USE");
    EXPECT_EQ(response_code("-ERR no code [AUTH]"), "");
    EXPECT_EQ(response_code("-ERR"), "");
    EXPECT_EQ(response_code("-ERR "), "");
    EXPECT_EQ(response_code("-ERR [unterminated"), "");
}

TEST(pop3_reply, capa_keyword_upper_cased_arguments_kept) {
    EXPECT_EQ(upper_keyword_line("sasl Plain login"), "SASL Plain login");
    EXPECT_EQ(upper_keyword_line("top"), "TOP");
    EXPECT_EQ(upper_keyword_line(""), "");
}

TEST(pop3_reply, line_safe_rejects_cr_lf_and_nul) {
    EXPECT_TRUE(line_safe("alice s3cret"));
    EXPECT_TRUE(line_safe(""));
    EXPECT_FALSE(line_safe("a\rb"));
    EXPECT_FALSE(line_safe("a\nb"));
    EXPECT_FALSE(line_safe(std::string("a\0b", 3)));
}

} // namespace
} // namespace mailgate::protocols::pop3

namespace mailgate::protocols::pop3 {
namespace {

using namespace mailgate::test;

TEST(pop3_client, long_plain_response_waits_for_the_continuation) {
    std::string secret(300, 'y'); // RFC 5034 §4: the AUTH line would exceed 255 octets
    auto response = base64_encode(std::string("\0alice\0", 7) + secret);
    EXPECT_TRUE(run_transcript(
        [secret] {
            return std::make_unique<client>(upstream_tls::implicit, upstream_credentials{"alice", secret});
        },
        {feed("+OK ready\r\n"), expect_write("CAPA\r\n"), feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
         expect_write("AUTH PLAIN\r\n"), feed("+ \r\n"), expect_write(response + "\r\n"),
         feed("+OK Logged in.\r\n"), expect_done()}));
}

TEST(pop3_client, an_echoed_secret_is_redacted_from_diagnostics) {
    EXPECT_TRUE(run_transcript(
        [] {
            return std::make_unique<client>(upstream_tls::implicit, upstream_credentials{"alice", "s3cret"});
        },
        {feed("+OK\r\n"), expect_write("CAPA\r\n"), feed("-ERR\r\n"), expect_write("USER alice\r\n"),
         feed("+OK\r\n"), expect_write("PASS s3cret\r\n"), feed("-ERR [AUTH] bad password s3cret\r\n"),
         expect_close(upstream_errc::auth_rejected, "-ERR [AUTH] bad password ***")}));
}

// ---- OAuth2 bearer logins (XOAUTH2, OAUTHBEARER)

const std::string user = "alice@example.org";
const std::string token = "ya29.a0AfB_byC-token";

// Greeting and a CAPA reply (its lines and the final "."), up to the codec's next action.
std::vector<step> capa(const std::string& lines) {
    return {feed("+OK POP3 ready\r\n"), expect_write("CAPA\r\n"), feed("+OK\r\n" + lines + ".\r\n")};
}
const std::string all_bearer = "USER\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n";

TEST(pop3_client, bearer_short_payload_goes_inline) {
    for (const auto& b : bearer_cases(user, token)) {
        SCOPED_TRACE(b.mechanism);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   capa(all_bearer) +
                                       std::vector<step>{
                                           expect_write("AUTH " + b.mechanism + " " + b.payload + "\r\n"),
                                           feed("+OK Logged in.\r\n"),
                                           expect_done(),
                                       }));
    }
    const std::string message = "n,a=a=3Db=2Cc,\x01host=pop.example.org\x01port=995\x01"
                                "auth=Bearer tok\x01\x01";
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit,
             bearer("a=b,c", "tok", bearer_mechanism::oauthbearer, "pop.example.org", 995)),
        capa(all_bearer) +
            std::vector<step>{expect_write("AUTH OAUTHBEARER " + base64_encode(message) + "\r\n")}));
}

TEST(pop3_client, bearer_payload_goes_after_the_continuation_when_the_line_exceeds_255_octets) {
    // "AUTH XOAUTH2 " + base64 + CRLF: a 143-byte token makes it 255 octets, one more byte 259.
    for (std::size_t size : {143, 144, 3000}) {
        const auto b = bearer_cases(user, token_of(size))[0];
        const std::string inline_line = "AUTH XOAUTH2 " + b.payload + "\r\n";
        SCOPED_TRACE(inline_line.size());
        std::vector<step> login = inline_line.size() <= 255
                                      ? std::vector<step>{expect_write(inline_line)}
                                      : std::vector<step>{expect_write("AUTH XOAUTH2\r\n"), feed("+ \r\n"),
                                                          expect_write(b.payload + "\r\n")};
        EXPECT_EQ(inline_line.size() <= 255, size == 143);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::implicit, b.credentials),
                           capa(all_bearer) + login + std::vector<step>{feed("+OK\r\n"), expect_done()}));
    }
}

TEST(pop3_client, bearer_error_report_is_answered_then_token_rejected_with_its_status) {
    const std::string refusal = "-ERR [AUTH] Authentication failed.";
    const std::string diagnostics = refusal + "; error report: " + std::string(gmail_error_json);
    for (const auto& b : bearer_cases(user, token)) {
        SCOPED_TRACE(b.mechanism);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   capa(all_bearer) +
                                       std::vector<step>{
                                           expect_write("AUTH " + b.mechanism + " " + b.payload + "\r\n"),
                                           feed("+ " + std::string(gmail_error_report) + "\r\n"),
                                           expect_write(b.error_answer),
                                           feed(refusal + "\r\n"),
                                           expect_close(upstream_errc::token_rejected, diagnostics),
                                       }));
    }
    // After a held payload, and with a second report that is not answered.
    const auto b = bearer_cases(user, token_of(3000))[1];
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                               capa(all_bearer) + std::vector<step>{
                                                      expect_write("AUTH OAUTHBEARER\r\n"),
                                                      feed("+ \r\n"),
                                                      expect_write(b.payload + "\r\n"),
                                                      feed("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
                                                      expect_write("AQ==\r\n"),
                                                      feed("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
                                                      expect_close(upstream_errc::malformed_reply),
                                                  }));
}

TEST(pop3_client, bearer_bare_refusal_is_token_rejected_and_temporary_codes_stay_temporary) {
    const auto b = bearer_cases(user, token)[0];
    const std::vector<step> login =
        capa(all_bearer) + std::vector<step>{expect_write("AUTH XOAUTH2 " + b.payload + "\r\n")};
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                               login + std::vector<step>{feed("-ERR Authentication failure\r\n"),
                                                         expect_close(upstream_errc::token_rejected,
                                                                      "-ERR Authentication failure")}));
    for (const char* reply : {"-ERR [SYS/TEMP] try later\r\n", "-ERR [IN-USE] locked\r\n"}) {
        EXPECT_TRUE(run_transcript(
            make(upstream_tls::implicit, b.credentials),
            login + std::vector<step>{feed(reply), expect_close(upstream_errc::temporarily_unavailable)}));
    }
}

TEST(pop3_client, bearer_never_falls_back_to_plain_or_user_pass) {
    for (const auto& b : bearer_cases(user, token)) {
        const std::string other = b.mechanism == "XOAUTH2" ? "OAUTHBEARER" : "XOAUTH2";
        for (const std::string& lines :
             std::vector<std::string>{"USER\r\nSASL PLAIN LOGIN\r\n", "USER\r\n", "SASL " + other + "\r\n",
                                      "X-" + b.mechanism + "\r\n"}) {
            SCOPED_TRACE(b.mechanism + " with " + lines);
            EXPECT_TRUE(run_transcript(
                make(upstream_tls::implicit, b.credentials),
                capa(lines) + std::vector<step>{expect_close(upstream_errc::no_usable_mechanism, "")}));
        }
        // No CAPA at all: nothing to log in with.
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   {feed("+OK\r\n"), expect_write("CAPA\r\n"), feed("-ERR unknown\r\n"),
                                    expect_close(upstream_errc::no_usable_mechanism)}));
    }
}

TEST(pop3_client, bearer_mechanism_is_taken_from_capa_after_stls) {
    const auto b = bearer_cases(user, token)[0];
    const std::vector<step> to_tls = {
        feed("+OK\r\n"),          expect_write("CAPA\r\n"), feed("+OK\r\nSTLS\r\nSASL XOAUTH2\r\n.\r\n"),
        expect_write("STLS\r\n"), feed("+OK go\r\n"),       expect_start_tls(),
        expect_write("CAPA\r\n")};
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls, b.credentials),
                               to_tls + std::vector<step>{feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                                                          expect_close(upstream_errc::no_usable_mechanism)}));
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls, b.credentials),
                               to_tls + std::vector<step>{feed("+OK\r\nSASL XOAUTH2\r\n.\r\n"),
                                                          expect_write("AUTH XOAUTH2 " + b.payload + "\r\n"),
                                                          feed("+OK\r\n"), expect_done()}));
}

TEST(pop3_client, bearer_control_byte_in_a_field_is_unencodable_before_anything_is_sent) {
    for (const auto& credentials : {bearer(user, "ya29.a\x01"
                                                 "b"),
                                    bearer(user, "a\r\nQUIT", bearer_mechanism::oauthbearer),
                                    bearer("al\nice", token), bearer(user, std::string("a\0b", 3))}) {
        EXPECT_TRUE(run_transcript(
            make(upstream_tls::implicit, credentials),
            capa(all_bearer) + std::vector<step>{expect_close(upstream_errc::credential_unencodable, "")}));
    }
}

} // namespace
} // namespace mailgate::protocols::pop3
