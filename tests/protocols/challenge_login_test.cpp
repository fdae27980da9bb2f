// APOP (RFC 1939 §7) and CRAM-MD5 (RFC 2195) in the POP3, IMAP and SMTP server codecs: offered only when some
// account allows them, and by default only on plaintext connections; the digest reaches the session together
// with the exact challenge it answers. Each transcript runs whole, split at every offset and byte by byte.
#include "protocols/imap/server.hpp"
#include "protocols/pop3/server.hpp"
#include "protocols/smtp/server.hpp"
#include "tests/protocols/server_transcript.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols {
namespace {

using namespace mailgate::test::server_transcript;
using mailgate::test::server_transcript::step;
using steps = std::vector<step>;

// The RFC examples: RFC 1939's APOP timestamp and RFC 2195's challenge are the first challenge of a connection
// with this nonce on those hosts.
challenge_logins on(std::string host, bool over_tls = false) {
    return {
        .enabled = true, .advertise_over_tls = over_tls, .nonce = "1896.697170952", .host = std::move(host)};
}
const std::string apop_host = "dbc.mtview.ca.us";
const std::string apop_timestamp = "<1896.697170952@dbc.mtview.ca.us>";
const std::string apop_digest = "c4c9334bac560ecc979e58001b3e22fb"; // MD5(timestamp + "tanstaaf")
const std::string cram_host = "postoffice.reston.mci.net";
const std::string cram_challenge = "<1896.697170952@postoffice.reston.mci.net>";
const std::string cram_challenge_b64 = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
const std::string cram_second_b64 =
    "PDE4OTYuNjk3MTcwOTUyLjFAcG9zdG9mZmljZS5yZXN0b24ubWNpLm5ldD4="; // ...952.1@...
const std::string cram_digest = "b913a602c7eda7a495b4e6e7334d3890"; // HMAC-MD5("tanstaaftanstaaf", challenge)
const std::string cram_tim_b64 = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"; // "tim <digest>"
const login_proof apop_proof{proof_kind::apop, apop_timestamp};
const login_proof cram_proof{proof_kind::cram_md5, cram_challenge};

// ---- POP3 ----

namespace pop3_case {

const std::string greeting = "+OK mailgate POP3 ready\r\n";
const std::string greeting_with_timestamp = "+OK mailgate POP3 ready " + apop_timestamp + "\r\n";
const std::string logged_in = "+OK Logged in\r\n";
const std::string malformed_apop = "-ERR APOP needs a user name and an MD5 digest\r\n";
const std::string invalid_sasl = "-ERR [AUTH] Invalid SASL response\r\n";
const std::string unsupported = "-ERR [AUTH] Unsupported authentication mechanism\r\n";

server_codec_factory make(pop3::server_options o) { return make_server_codec<pop3::server>(std::move(o)); }
server_codec_factory plaintext(challenge_logins c) {
    return make({.plaintext_login_allowed = true, .challenges = std::move(c)});
}
std::string capa(const std::string& sasl) {
    return "+OK Capability list "
           "follows\r\nUSER\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
           "SASL " +
           sasl + "\r\nIMPLEMENTATION mailgate\r\n.\r\n";
}

TEST(challenge_login_pop3, greeting_carries_the_timestamp_and_apop_logs_in_with_it) {
    EXPECT_TRUE(run_transcript(plaintext(on(apop_host)),
                               {expect_write(greeting_with_timestamp), feed("CAPA\r\n"),
                                expect_write(capa("PLAIN LOGIN CRAM-MD5")), feed("AUTH\r\n"),
                                expect_write("+OK\r\nPLAIN\r\nLOGIN\r\nCRAM-MD5\r\n.\r\n"),
                                feed("APOP mrose " + apop_digest + "\r\n"),
                                expect_challenge_login("mrose", apop_digest, apop_proof, login_outcome::ok),
                                expect_write(logged_in), expect_relay()}));
}

TEST(challenge_login_pop3, apop_takes_upper_case_digests_and_names_with_spaces) {
    EXPECT_TRUE(run_transcript(
        plaintext(on(apop_host)),
        {expect_write(greeting_with_timestamp), feed("APOP Mary Rose C4C9334BAC560ECC979E58001B3E22FB\r\n"),
         expect_challenge_login("Mary Rose", apop_digest, apop_proof, login_outcome::ok),
         expect_write(logged_in), expect_relay()}));
}

TEST(challenge_login_pop3, malformed_apop_is_refused_without_a_login) {
    EXPECT_TRUE(run_transcript(
        plaintext(on(apop_host)),
        {expect_write(greeting_with_timestamp), feed("APOP mrose\r\n"), expect_write(malformed_apop),
         feed("APOP " + apop_digest + "\r\n"), expect_write(malformed_apop), feed("APOP mrose c4c9334b\r\n"),
         expect_write(malformed_apop), feed("APOP mrose zzzz334bac560ecc979e58001b3e22fb\r\n"),
         expect_write(malformed_apop), feed("APOP  " + apop_digest + "\r\n"), expect_write(malformed_apop),
         // A wrong digest is a failed login like a wrong password; the timestamp stays the connection's.
         feed("APOP mrose 00000000000000000000000000000000\r\n"),
         expect_challenge_login("mrose", "00000000000000000000000000000000", apop_proof,
                                login_outcome::bad_credentials),
         expect_write("-ERR [AUTH] Authentication failed\r\n"), feed("APOP mrose " + apop_digest + "\r\n"),
         expect_challenge_login("mrose", apop_digest, apop_proof, login_outcome::ok), expect_write(logged_in),
         expect_relay()}));
}

TEST(challenge_login_pop3, off_by_default_apop_and_cram_md5_do_not_exist) {
    EXPECT_TRUE(run_transcript(
        make({.plaintext_login_allowed = true}),
        {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa("PLAIN LOGIN")),
         feed("APOP mrose " + apop_digest + "\r\n"), expect_write("-ERR APOP is not available here\r\n"),
         feed("AUTH CRAM-MD5\r\n"), expect_write(unsupported), feed("AUTH NTLM\r\n"),
         expect_write(unsupported), feed("QUIT\r\n"), expect_write("+OK mailgate POP3 signing off\r\n"),
         expect_close(session_errc::client_quit)}));
}

TEST(challenge_login_pop3, cram_md5_answers_the_rfc_2195_example) {
    // Over TLS (not advertised there by default, but accepted): the greeting has no timestamp, so the first
    // challenge of the connection is CRAM-MD5's.
    EXPECT_TRUE(run_transcript(make({.tls_active = true, .challenges = on(cram_host)}),
                               {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa("PLAIN LOGIN")),
                                feed("AUTH CRAM-MD5\r\n"), expect_write("+ " + cram_challenge_b64 + "\r\n"),
                                feed(cram_tim_b64 + "\r\n"),
                                expect_challenge_login("tim", cram_digest, cram_proof, login_outcome::ok),
                                expect_write(logged_in), expect_relay()}));
}

TEST(challenge_login_pop3, over_tls_advertised_when_asked) {
    EXPECT_TRUE(run_transcript(make({.tls_active = true, .challenges = on(apop_host, true)}),
                               {expect_write(greeting_with_timestamp), feed("CAPA\r\n"),
                                expect_write(capa("PLAIN LOGIN CRAM-MD5"))}));
}

TEST(challenge_login_pop3, where_plaintext_login_is_refused_nothing_is_offered_before_tls) {
    EXPECT_TRUE(run_transcript(
        make({.stls_offered = true, .challenges = on(apop_host)}),
        {expect_write(greeting), feed("APOP mrose " + apop_digest + "\r\n"),
         expect_write(
             "-ERR [AUTH] Plaintext login is not allowed from your network: use STLS or the POP3S port\r\n"),
         feed("AUTH CRAM-MD5\r\n"),
         expect_write("-ERR [AUTH] Plaintext login is not allowed from your network: use STLS or the POP3S "
                      "port\r\n")}));
}

TEST(challenge_login_pop3, each_cram_md5_exchange_gets_a_fresh_challenge_and_bad_answers_fail) {
    EXPECT_TRUE(run_transcript(
        plaintext(on(cram_host)),
        {expect_write("+OK mailgate POP3 ready " + cram_challenge + "\r\n"), feed("AUTH CRAM-MD5\r\n"),
         expect_write("+ " + cram_second_b64 + "\r\n"), feed("*\r\n"),
         expect_write("-ERR AUTH cancelled\r\n"),
         // No initial response in CRAM-MD5: the server speaks first (the refused attempt used up challenge 2).
         feed("AUTH CRAM-MD5 " + cram_tim_b64 + "\r\n"), expect_write(invalid_sasl),
         feed("AUTH CRAM-MD5\r\n"),
         expect_write("+ PDE4OTYuNjk3MTcwOTUyLjNAcG9zdG9mZmljZS5yZXN0b24ubWNpLm5ldD4=\r\n"),
         feed("dGltIGI5MTNhNjAy\r\n"), // "tim b913a602": no full digest
         expect_write(invalid_sasl), feed("AUTH CRAM-MD5\r\n"),
         expect_write("+ PDE4OTYuNjk3MTcwOTUyLjRAcG9zdG9mZmljZS5yZXN0b24ubWNpLm5ldD4=\r\n"), feed("!!!!\r\n"),
         expect_write(invalid_sasl)}));
}

} // namespace pop3_case

// ---- IMAP ----

namespace imap_case {

const std::string base_caps = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE";
std::string greeting(const std::string& caps) {
    return "* OK [CAPABILITY " + caps + "] mailgate IMAP ready\r\n";
}
server_codec_factory make(imap::server_options o) { return make_server_codec<imap::server>(std::move(o)); }
const std::vector<std::string> provider_caps = {"IMAP4rev1", "IDLE"};

TEST(challenge_login_imap, capability_lists_cram_md5_and_authenticate_runs_it) {
    EXPECT_TRUE(run_transcript(
        make({.plaintext_login_allowed = true, .challenges = on(cram_host)}),
        {expect_write(greeting(base_caps + " AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5")),
         feed("a AUTHENTICATE CRAM-MD5\r\n"), expect_write("+ " + cram_challenge_b64 + "\r\n"),
         feed(cram_tim_b64 + "\r\n"),
         expect_challenge_login("tim", cram_digest, cram_proof, login_outcome::ok, provider_caps),
         expect_write("a OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"), expect_relay()}));
}

TEST(challenge_login_imap, off_by_default_and_ntlm_never) {
    EXPECT_TRUE(run_transcript(make({.plaintext_login_allowed = true}),
                               {expect_write(greeting(base_caps + " AUTH=PLAIN AUTH=LOGIN")),
                                feed("a AUTHENTICATE CRAM-MD5\r\n"),
                                expect_write("a NO [CANNOT] Unsupported authentication mechanism\r\n"),
                                feed("b AUTHENTICATE NTLM\r\n"),
                                expect_write("b NO [CANNOT] Unsupported authentication mechanism\r\n")}));
}

TEST(challenge_login_imap, over_tls_accepted_but_not_advertised_and_no_initial_response) {
    EXPECT_TRUE(run_transcript(
        make({.tls_active = true, .challenges = on(cram_host)}),
        {expect_write(greeting(base_caps + " AUTH=PLAIN AUTH=LOGIN")),
         feed("a AUTHENTICATE CRAM-MD5 " + cram_tim_b64 + "\r\n"),
         expect_write("a BAD Invalid SASL response\r\n"), feed("b AUTHENTICATE CRAM-MD5\r\n"),
         expect_write("+ " + cram_second_b64 + "\r\n"),
         feed("dGltIEI5MTNBNjAyQzdFREE3QTQ5NUI0RTZFNzMzNEQzODkw\r\n"), // the digest in upper case
         expect_challenge_login("tim", cram_digest,
                                {proof_kind::cram_md5, "<1896.697170952.1@postoffice.reston.mci.net>"},
                                login_outcome::bad_credentials),
         expect_write("b NO [AUTHENTICATIONFAILED] Authentication failed\r\n")}));
}

} // namespace imap_case

// ---- SMTP ----

namespace smtp_case {

server_codec_factory make(bool tls, challenge_logins c) {
    smtp::server_options o;
    o.tls_active = tls;
    o.plaintext_auth_allowed = true;
    o.host_name = "gw.lan";
    o.client_address = "192.0.2.7";
    o.challenges = std::move(c);
    return make_server_codec<smtp::server>(std::move(o));
}
std::string ehlo_reply(const std::string& mechanisms) {
    return "250-gw.lan Hello [192.0.2.7]\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
           "250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH " +
           mechanisms + "\r\n250-AUTH=" + mechanisms + "\r\n250 HELP\r\n";
}
const std::string greeting = "220 gw.lan ESMTP mailgate ready\r\n";

TEST(challenge_login_smtp, ehlo_lists_cram_md5_and_auth_runs_it) {
    EXPECT_TRUE(run_transcript(
        make(false, on(cram_host)),
        {expect_write(greeting), feed("EHLO pc.lan\r\n"), expect_write(ehlo_reply("PLAIN LOGIN CRAM-MD5")),
         feed("AUTH CRAM-MD5\r\n"), expect_write("334 " + cram_challenge_b64 + "\r\n"),
         feed(cram_tim_b64 + "\r\n"),
         expect_challenge_login("tim", cram_digest, cram_proof, login_outcome::ok, {"AUTH PLAIN"}),
         expect_write("235 2.7.0 Authentication successful\r\n")}));
}

TEST(challenge_login_smtp, off_by_default_and_ntlm_never) {
    EXPECT_TRUE(run_transcript(
        make(false, {}),
        {expect_write(greeting), feed("EHLO pc.lan\r\n"), expect_write(ehlo_reply("PLAIN LOGIN")),
         feed("AUTH CRAM-MD5\r\n"), expect_write("504 5.5.4 Unsupported authentication mechanism\r\n"),
         feed("AUTH NTLM\r\n"), expect_write("504 5.5.4 Unsupported authentication mechanism\r\n")}));
}

TEST(challenge_login_smtp, over_tls_only_when_asked) {
    EXPECT_TRUE(run_transcript(make(true, on(cram_host)), {expect_write(greeting), feed("EHLO pc.lan\r\n"),
                                                           expect_write(ehlo_reply("PLAIN LOGIN"))}));
    EXPECT_TRUE(
        run_transcript(make(true, on(cram_host, true)), {expect_write(greeting), feed("EHLO pc.lan\r\n"),
                                                         expect_write(ehlo_reply("PLAIN LOGIN CRAM-MD5"))}));
}

} // namespace smtp_case

} // namespace
} // namespace mailgate::protocols
