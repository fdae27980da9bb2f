// IMAP upstream login codec transcripts (RFC 9051/3501, RFC 2595 STARTTLS, RFC 4959 SASL-IR, RFC 7888
// LITERAL+, RFC 5530 response codes, RFC 7628 and XOAUTH2 bearer logins), each run whole, split at every offset
// and byte by byte.
#include "protocols/imap/client.hpp"
#include "tests/protocols/bearer.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols::imap {
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

std::vector<step> operator+(std::vector<step> a, const std::vector<step>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// An implicit-TLS provider whose greeting offers `capabilities` (and nothing that lets us AUTHENTICATE
// PLAIN).
std::vector<step> greeting_with(const std::string& capabilities) {
    return {feed("* OK [CAPABILITY " + capabilities + "] ready\r\n")};
}

TEST(imap_client, greeting_capabilities_and_authenticate_plain_with_sasl_ir) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        {
            feed("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] "
                 "Dovecot ready.\r\n"),
            expect_write(std::string("a1 AUTHENTICATE PLAIN ") + plain_alice + "\r\n"),
            capabilities_are({"IMAP4REV1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+",
                              "AUTH=PLAIN"}),
            feed("a1 OK [CAPABILITY IMAP4rev1 SASL-IR IDLE MOVE] Logged in\r\n"),
            expect_done(),
            capabilities_are({"IMAP4REV1", "SASL-IR", "IDLE", "MOVE"}),
        }));
}

TEST(imap_client, greeting_without_capabilities_asks_and_authenticates_without_sasl_ir) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), {
                                                         feed("* OK IMAP server ready\r\n"),
                                                         expect_write("a1 CAPABILITY\r\n"),
                                                         feed("* CAPABILITY IMAP4rev1 auth=plain\r\n"
                                                              "a1 OK Capability completed.\r\n"),
                                                         expect_write("a2 AUTHENTICATE PLAIN\r\n"),
                                                         capabilities_are({"IMAP4REV1", "AUTH=PLAIN"}),
                                                         feed("+ \r\n"),
                                                         expect_write(std::string(plain_alice) + "\r\n"),
                                                         feed("a2 OK Logged in\r\n"),
                                                         // No capability code: ask again after login.
                                                         expect_write("a3 CAPABILITY\r\n"),
                                                         feed("* CAPABILITY IMAP4rev1 IDLE\r\n"
                                                              "a3 OK done\r\n"),
                                                         expect_done(),
                                                         capabilities_are({"IMAP4REV1", "IDLE"}),
                                                     }));
}

TEST(imap_client, a_bare_plus_is_a_continuation_too) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit), greeting_with("IMAP4rev1 AUTH=PLAIN") +
                                                         std::vector<step>{
                                                             expect_write("a1 AUTHENTICATE PLAIN\r\n"),
                                                             feed("+\r\n"),
                                                             expect_write(std::string(plain_alice) + "\r\n"),
                                                             feed("a1 OK [CAPABILITY IMAP4rev1] ok\r\n"),
                                                             expect_done(),
                                                         }));
}

TEST(imap_client, login_with_quoted_strings_escapes_quotes_and_backslashes) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"al\"ice", "pa\\ss \"word\""}),
                               greeting_with("IMAP4rev1 ID") +
                                   std::vector<step>{
                                       expect_write("a1 LOGIN \"al\\\"ice\" "
                                                    "\"pa\\\\ss \\\"word\\\"\"\r\n"),
                                       feed("a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
                                       expect_done(),
                                       capabilities_are({"IMAP4REV1", "IDLE"}),
                                   }));
}

TEST(imap_client, login_with_synchronizing_literal_waits_for_continuation) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, {"alice", "p\xc3\xa4ss"}),
                       greeting_with("IMAP4rev1") + std::vector<step>{
                                                        expect_write("a1 LOGIN \"alice\" {5}\r\n"),
                                                        feed("+ Ready for literal data\r\n"),
                                                        expect_write("p\xc3\xa4ss\r\n"),
                                                        feed("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
                                                        expect_done(),
                                                    }));
    // Two literals: one continuation each.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, {"\xc3\xa9ve", "line\r\nbreak"}),
                       greeting_with("IMAP4rev1") + std::vector<step>{
                                                        expect_write("a1 LOGIN {4}\r\n"),
                                                        feed("+ OK\r\n"),
                                                        expect_write("\xc3\xa9ve {11}\r\n"),
                                                        feed("+ OK\r\n"),
                                                        expect_write("line\r\nbreak\r\n"),
                                                        feed("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
                                                        expect_done(),
                                                    }));
}

TEST(imap_client, provider_may_refuse_the_literal_instead_of_continuing) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", "p\xc3\xa4ss"}),
                               greeting_with("IMAP4rev1") + std::vector<step>{
                                                                expect_write("a1 LOGIN \"alice\" {5}\r\n"),
                                                                feed("a1 NO [AUTHENTICATIONFAILED] no\r\n"),
                                                                expect_close(upstream_errc::auth_rejected),
                                                            }));
}

TEST(imap_client, login_with_literal_plus_sends_everything_at_once) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, {"al\r\nice", "p\xc3\xa4ss"}),
                       greeting_with("IMAP4rev1 LITERAL+") + std::vector<step>{
                                                                 expect_write("a1 LOGIN {7+}\r\nal\r\nice "
                                                                              "{5+}\r\np\xc3\xa4ss\r\n"),
                                                                 feed("a1 OK [CAPABILITY IMAP4rev1] ok\r\n"),
                                                                 expect_done(),
                                                             }));
}

TEST(imap_client, logindisabled_without_auth_plain_is_no_usable_mechanism) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               greeting_with("IMAP4rev1 LOGINDISABLED AUTH=GSSAPI AUTH=XOAUTH2") +
                                   std::vector<step>{expect_close(upstream_errc::no_usable_mechanism)}));
    // With AUTH=PLAIN, LOGINDISABLED does not matter.
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        greeting_with("IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR") +
            std::vector<step>{expect_write(std::string("a1 AUTHENTICATE PLAIN ") + plain_alice + "\r\n")}));
}

TEST(imap_client, starttls_then_capabilities_again_then_login) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::starttls),
        {
            feed("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR LOGINDISABLED] ready\r\n"),
            expect_write("a1 STARTTLS\r\n"),
            feed("a1 OK Begin TLS negotiation now.\r\n"),
            expect_start_tls(),
            capabilities_are({}),
            expect_write("a2 CAPABILITY\r\n"),
            // After TLS no SASL-IR: the pre-TLS SASL-IR must not be used.
            feed("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na2 OK Pre-login capabilities listed.\r\n"),
            expect_write("a3 AUTHENTICATE PLAIN\r\n"),
            capabilities_are({"IMAP4REV1", "AUTH=PLAIN"}),
            feed("+ \r\n"),
            expect_write(std::string(plain_alice) + "\r\n"),
            feed("a3 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
            expect_done(),
            capabilities_are({"IMAP4REV1", "IDLE"}),
        }));
}

TEST(imap_client, starttls_after_asking_for_capabilities) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::starttls), {
                                                         feed("* OK ready\r\n"),
                                                         expect_write("a1 CAPABILITY\r\n"),
                                                         feed("* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK\r\n"),
                                                         expect_write("a2 STARTTLS\r\n"),
                                                         feed("a2 OK go\r\n"),
                                                         expect_start_tls(),
                                                         expect_write("a3 CAPABILITY\r\n"),
                                                         feed("* CAPABILITY IMAP4rev1\r\na3 OK\r\n"),
                                                         expect_write("a4 LOGIN \"alice\" \"s3cret\"\r\n"),
                                                     }));
}

TEST(imap_client, starttls_not_advertised_is_starttls_unsupported) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::starttls),
                               {
                                   feed("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
                                   expect_close(upstream_errc::starttls_unsupported),
                               }));
}

TEST(imap_client, no_or_bad_to_starttls_is_starttls_refused) {
    for (const char* reply : {"a1 NO not now\r\n", "a1 BAD unknown command\r\n"}) {
        SCOPED_TRACE(reply);
        EXPECT_TRUE(run_transcript(make(upstream_tls::starttls),
                                   {
                                       feed("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"),
                                       expect_write("a1 STARTTLS\r\n"),
                                       feed(reply),
                                       expect_close(upstream_errc::starttls_refused),
                                   }));
    }
}

TEST(imap_client, bytes_after_the_starttls_reply_are_an_injection) {
    for (const char* injected : {"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n", "x", "a2 OK\r\n"}) {
        SCOPED_TRACE(injected);
        EXPECT_TRUE(run_transcript(make(upstream_tls::starttls),
                                   {
                                       feed("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"),
                                       expect_write("a1 STARTTLS\r\n"),
                                       feed_whole(std::string("a1 OK Begin TLS\r\n") + injected),
                                       expect_close(upstream_errc::data_after_starttls),
                                   }));
    }
}

TEST(imap_client, tagged_no_authenticationfailed_is_auth_rejected) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1 AUTH=PLAIN SASL-IR") +
                           std::vector<step>{
                               expect_write(std::string("a1 AUTHENTICATE PLAIN ") + plain_alice + "\r\n"),
                               feed("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
                               expect_close(upstream_errc::auth_rejected,
                                            "a1 NO [AUTHENTICATIONFAILED] Authentication failed."),
                               check<client>([](client& c) {
                                   EXPECT_EQ(c.diagnostics().find("s3cret"), std::string::npos);
                                   EXPECT_EQ(c.diagnostics().find(plain_alice), std::string::npos);
                               }),
                           }));
    // LOGIN, and a NO without any code.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1") + std::vector<step>{
                                                        expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                                                        feed("a1 no bad password\r\n"),
                                                        expect_close(upstream_errc::auth_rejected),
                                                    }));
}

TEST(imap_client, no_unavailable_is_temporarily_unavailable) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit),
        greeting_with("IMAP4rev1") +
            std::vector<step>{
                expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                feed("a1 NO [UNAVAILABLE] Backend down\r\n"),
                expect_close(upstream_errc::temporarily_unavailable, "a1 NO [UNAVAILABLE] Backend down"),
            }));
    // Response codes are atoms, and IMAP atoms are case-insensitive (RFC 9051 §9).
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1 AUTH=PLAIN SASL-IR") +
                           std::vector<step>{
                               expect_write(std::string("a1 AUTHENTICATE PLAIN ") + plain_alice + "\r\n"),
                               feed("a1 no [Unavailable] try later\r\n"),
                               expect_close(upstream_errc::temporarily_unavailable),
                           }));
}

TEST(imap_client, bad_to_login_is_malformed_reply) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1") + std::vector<step>{
                                                        expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                                                        feed("a1 BAD syntax\r\n"),
                                                        expect_close(upstream_errc::malformed_reply),
                                                    }));
}

TEST(imap_client, preauth_or_bye_greeting_is_greeting_rejected) {
    for (const char* greeting : {"* PREAUTH [CAPABILITY IMAP4rev1] logged in as nobody\r\n",
                                 "* BYE [UNAVAILABLE] too many connections\r\n", "* bye no\r\n"}) {
        SCOPED_TRACE(greeting);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                                   {feed(greeting), expect_close(upstream_errc::greeting_rejected)}));
    }
}

TEST(imap_client, greeting_that_is_not_untagged_is_malformed) {
    for (const char* greeting : {"a1 OK hi\r\n", "+ hi\r\n", "*OK hi\r\n", "\r\n", "+OK POP3\r\n"}) {
        SCOPED_TRACE(greeting);
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                                   {feed(greeting), expect_close(upstream_errc::malformed_reply)}));
    }
}

TEST(imap_client, untagged_lines_during_login_are_skipped) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1 AUTH=PLAIN SASL-IR") +
                           std::vector<step>{
                               expect_write(std::string("a1 AUTHENTICATE PLAIN ") + plain_alice + "\r\n"),
                               feed("* OK [ALERT] Welcome back\r\n* NO maintenance tonight\r\n"
                                    "* ENABLED\r\n* 3 EXISTS\r\n"
                                    "a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
                               expect_done(),
                               capabilities_are({"IMAP4REV1", "IDLE"}),
                           }));
}

TEST(imap_client, post_login_capabilities_from_untagged_capability_before_the_ok) {
    // The untagged CAPABILITY is superseded by the CAPABILITY command the codec issues when the OK has no
    // code.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1") + std::vector<step>{
                                                        expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                                                        feed("* CAPABILITY IMAP4rev1 OLD\r\na1 OK hi\r\n"),
                                                        expect_write("a2 CAPABILITY\r\n"),
                                                        feed("* CAPABILITY IMAP4rev1 NEW\r\na2 OK\r\n"),
                                                        expect_done(),
                                                        capabilities_are({"IMAP4REV1", "NEW"}),
                                                    }));
}

TEST(imap_client, bye_during_login_is_closed) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1") + std::vector<step>{
                                                        expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                                                        feed("* BYE shutting down\r\n"),
                                                        expect_close(upstream_errc::closed),
                                                    }));
}

TEST(imap_client, wrong_tag_unexpected_continuation_and_unknown_status_are_malformed) {
    for (const char* reply : {"a2 OK [CAPABILITY IMAP4rev1] wrong tag\r\n", "+ unexpected\r\n",
                              "a1 MAYBE\r\n", "a1\r\n", "A1 OK tags are case-sensitive\r\n"}) {
        SCOPED_TRACE(reply);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::implicit),
                           greeting_with("IMAP4rev1") + std::vector<step>{
                                                            expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                                                            feed(reply),
                                                            expect_close(upstream_errc::malformed_reply),
                                                        }));
    }
}

TEST(imap_client, eof_is_closed) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               {feed("* OK rea"), feed_eof(), expect_close(upstream_errc::closed)}));
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1") + std::vector<step>{
                                                        expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                                                        feed_eof(),
                                                        expect_close(upstream_errc::closed),
                                                    }));
}

TEST(imap_client, line_too_long_with_small_limits) {
    const upstream_limits limits{.max_line = 40};
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, {"alice", "s3cret"}, limits),
                               {feed("* OK [CAPABILITY IMAP4rev1 " + std::string(13, 'X')),
                                expect_close(upstream_errc::line_too_long)}));
}

TEST(imap_client, nul_in_a_credential_is_unencodable) {
    const upstream_credentials with_nul{"alice", std::string("s3\0cret", 7)};
    for (const char* capabilities : {"IMAP4rev1 AUTH=PLAIN", "IMAP4rev1", "IMAP4rev1 LITERAL+"}) {
        SCOPED_TRACE(capabilities);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::implicit, with_nul),
                           greeting_with(capabilities) +
                               std::vector<step>{expect_close(upstream_errc::credential_unencodable, "")}));
    }
}

TEST(imap_client, logout_sends_logout_and_is_done_on_tagged_ok) {
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit),
                       greeting_with("IMAP4rev1 AUTH=PLAIN SASL-IR") +
                           std::vector<step>{
                               expect_write(std::string("a1 AUTHENTICATE PLAIN ") + plain_alice + "\r\n"),
                               feed("a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
                               expect_done(),
                               logout(),
                               expect_write("a2 LOGOUT\r\n"),
                               feed("* BYE Logging out\r\na2 OK Logout completed.\r\n"),
                               expect_done(),
                           }));
}

step atoms_are(std::vector<std::string> expected) {
    return check<client>([expected](client& c) { EXPECT_EQ(c.capability_atoms(), expected); });
}

TEST(imap_client, pre_tls_capability_atoms_never_survive_starttls) {
    // Found by the fuzzer: only the set was cleared, so the atoms the legacy client is shown after login kept
    // what a man in the middle wrote before TLS.
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::starttls),
                       {
                           feed("* OK [CAPABILITY IMAP4rev1 STARTTLS COMPRESS=DEFLATE X-INJECTED] hi\r\n"),
                           expect_write("a1 STARTTLS\r\n"),
                           feed("a1 OK go\r\n"),
                           expect_start_tls(),
                           atoms_are({}),
                           expect_write("a2 CAPABILITY\r\n"),
                           feed("a2 OK\r\n"),
                           expect_write("a3 LOGIN \"alice\" \"s3cret\"\r\n"),
                           feed("a3 OK\r\n"),
                           expect_write("a4 CAPABILITY\r\n"),
                           feed("a4 OK\r\n"),
                           expect_done(),
                           atoms_are({}),
                           capabilities_are({}),
                       }));
}

TEST(imap_client, pre_login_atoms_are_not_shown_as_the_post_login_set) {
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit),
                               greeting_with("IMAP4rev1 X-PRELOGIN") +
                                   std::vector<step>{
                                       expect_write("a1 LOGIN \"alice\" \"s3cret\"\r\n"),
                                       feed("a1 OK hi\r\n"),
                                       expect_write("a2 CAPABILITY\r\n"),
                                       feed("a2 OK\r\n"),
                                       expect_done(),
                                       atoms_are({}),
                                   }));
}

// ---- OAuth2 bearer logins (XOAUTH2, OAUTHBEARER)

const std::string user = "alice@example.org";
const std::string token = "ya29.a0AfB_byC-token";
const std::string all_bearer = "IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER";

TEST(imap_client, bearer_xoauth2_with_sasl_ir_sends_the_payload_inline) {
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit,
             bearer("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")),
        greeting_with("IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER") +
            std::vector<step>{
                expect_write(
                    "a1 AUTHENTICATE XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZG"
                    "OWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n"),
                feed("a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
                expect_done(),
                capabilities_are({"IMAP4REV1", "IDLE"}),
            }));
}

TEST(imap_client, bearer_oauthbearer_carries_host_port_and_an_escaped_saslname) {
    const std::string message = "n,a=bob=2Cjr=3D@example.org,\x01host=imap.example.org\x01port=993\x01"
                                "auth=Bearer " +
                                token + "\x01\x01";
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::implicit,
             bearer("bob,jr=@example.org", token, bearer_mechanism::oauthbearer, "imap.example.org", 993)),
        greeting_with("IMAP4rev1 SASL-IR AUTH=OAUTHBEARER") +
            std::vector<step>{
                expect_write("a1 AUTHENTICATE OAUTHBEARER " + base64_encode(message) + "\r\n"),
                feed("a1 OK [CAPABILITY IMAP4rev1] ok\r\n"),
                expect_done(),
            }));
}

TEST(imap_client, bearer_with_and_without_sasl_ir) {
    for (const auto& b : bearer_cases(user, token)) {
        SCOPED_TRACE(b.mechanism);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::implicit, b.credentials),
                           greeting_with(all_bearer + " SASL-IR") +
                               std::vector<step>{
                                   expect_write("a1 AUTHENTICATE " + b.mechanism + " " + b.payload + "\r\n"),
                                   feed("a1 OK [CAPABILITY IMAP4rev1] ok\r\n"),
                                   expect_done(),
                               }));
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   greeting_with(all_bearer) +
                                       std::vector<step>{
                                           expect_write("a1 AUTHENTICATE " + b.mechanism + "\r\n"),
                                           feed("+ \r\n"),
                                           expect_write(b.payload + "\r\n"),
                                           feed("a1 OK [CAPABILITY IMAP4rev1] ok\r\n"),
                                           expect_done(),
                                       }));
    }
}

TEST(imap_client, bearer_error_report_is_answered_then_token_rejected_with_its_status) {
    const std::string refusal = "a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)";
    const std::string diagnostics = refusal + "; error report: " + std::string(gmail_error_json);
    const std::string report = "+ " + std::string(gmail_error_report) + "\r\n";
    for (const auto& b : bearer_cases(user, token)) {
        SCOPED_TRACE(b.mechanism);
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::implicit, b.credentials),
                           greeting_with(all_bearer + " SASL-IR") +
                               std::vector<step>{
                                   expect_write("a1 AUTHENTICATE " + b.mechanism + " " + b.payload + "\r\n"),
                                   feed(report),
                                   expect_write(b.error_answer),
                                   feed(refusal + "\r\n"),
                                   expect_close(upstream_errc::token_rejected, diagnostics),
                               }));
        // Without SASL-IR the first "+" asks for the payload, the second is the error report.
        EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                                   greeting_with(all_bearer) +
                                       std::vector<step>{
                                           expect_write("a1 AUTHENTICATE " + b.mechanism + "\r\n"),
                                           feed("+\r\n"),
                                           expect_write(b.payload + "\r\n"),
                                           feed(report),
                                           expect_write(b.error_answer),
                                           feed(refusal + "\r\n"),
                                           expect_close(upstream_errc::token_rejected, diagnostics),
                                       }));
        // A second report is not answered: the exchange allows one.
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::implicit, b.credentials),
                           greeting_with(all_bearer + " SASL-IR") +
                               std::vector<step>{
                                   expect_write("a1 AUTHENTICATE " + b.mechanism + " " + b.payload + "\r\n"),
                                   feed(report),
                                   expect_write(b.error_answer),
                                   feed(report),
                                   expect_close(upstream_errc::malformed_reply),
                               }));
    }
}

TEST(imap_client, bearer_bare_refusal_is_token_rejected_and_unavailable_stays_temporary) {
    const auto b = bearer_cases(user, token)[0];
    const std::vector<step> login =
        greeting_with(all_bearer + " SASL-IR") +
        std::vector<step>{expect_write("a1 AUTHENTICATE XOAUTH2 " + b.payload + "\r\n")};
    // Microsoft's answer to an expired token.
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                               login + std::vector<step>{feed("a1 NO AUTHENTICATE failed.\r\n"),
                                                         expect_close(upstream_errc::token_rejected,
                                                                      "a1 NO AUTHENTICATE failed.")}));
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::implicit, b.credentials),
                       login + std::vector<step>{feed("a1 NO [UNAVAILABLE] try later\r\n"),
                                                 expect_close(upstream_errc::temporarily_unavailable)}));
    EXPECT_TRUE(run_transcript(make(upstream_tls::implicit, b.credentials),
                               login + std::vector<step>{feed("a1 BAD no such mechanism\r\n"),
                                                         expect_close(upstream_errc::malformed_reply)}));
}

TEST(imap_client, bearer_never_falls_back_to_plain_or_login) {
    // Nothing is written: the close comes straight after the capabilities.
    for (const auto& b : bearer_cases(user, token)) {
        const std::string other = b.mechanism == "XOAUTH2" ? "AUTH=OAUTHBEARER" : "AUTH=XOAUTH2";
        for (const std::string& capabilities : std::vector<std::string>{
                 "IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN", "IMAP4rev1", "IMAP4rev1 SASL-IR " + other}) {
            SCOPED_TRACE(b.mechanism + " with " + capabilities);
            EXPECT_TRUE(
                run_transcript(make(upstream_tls::implicit, b.credentials),
                               greeting_with(capabilities) +
                                   std::vector<step>{expect_close(upstream_errc::no_usable_mechanism, "")}));
        }
    }
}

TEST(imap_client, bearer_mechanism_is_taken_from_the_capabilities_after_starttls) {
    const auto b = bearer_cases(user, token)[0];
    const std::vector<step> to_tls = {
        feed("* OK [CAPABILITY IMAP4rev1 STARTTLS SASL-IR AUTH=XOAUTH2] hi\r\n"),
        expect_write("a1 STARTTLS\r\n"), feed("a1 OK go\r\n"), expect_start_tls(),
        expect_write("a2 CAPABILITY\r\n")};
    EXPECT_TRUE(
        run_transcript(make(upstream_tls::starttls, b.credentials),
                       to_tls + std::vector<step>{feed("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na2 OK\r\n"),
                                                  expect_close(upstream_errc::no_usable_mechanism)}));
    // Offered after TLS, but without the pre-TLS SASL-IR.
    EXPECT_TRUE(run_transcript(
        make(upstream_tls::starttls, b.credentials),
        to_tls + std::vector<step>{feed("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2\r\na2 OK\r\n"),
                                   expect_write("a3 AUTHENTICATE XOAUTH2\r\n"), feed("+ \r\n"),
                                   expect_write(b.payload + "\r\n"),
                                   feed("a3 OK [CAPABILITY IMAP4rev1] ok\r\n"), expect_done()}));
}

TEST(imap_client, bearer_control_byte_in_a_field_is_unencodable_before_anything_is_sent) {
    const std::vector<upstream_credentials> bad = {
        bearer(user, "ya29.a\x01"
                     "b"),
        bearer(user, "ya29.a\r\nb", bearer_mechanism::oauthbearer),
        bearer(user, std::string("ya29.a\0b", 8)),
        bearer("al\x01ice", token, bearer_mechanism::oauthbearer),
        bearer(user, token, bearer_mechanism::oauthbearer, "imap.example.org\x01port=1"),
    };
    for (const auto& credentials : bad) {
        EXPECT_TRUE(
            run_transcript(make(upstream_tls::implicit, credentials),
                           greeting_with(all_bearer + " SASL-IR") +
                               std::vector<step>{expect_close(upstream_errc::credential_unencodable, "")}));
    }
}

} // namespace
} // namespace mailgate::protocols::imap
