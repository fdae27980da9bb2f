// POP3 server codec transcripts (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 3206 codes): the
// pre-login dialogue with a legacy client, each run whole, split at every offset and byte by byte.
#include "protocols/pop3/server.hpp"
#include "tests/protocols/server_transcript.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

namespace mailgate::protocols::pop3 {
namespace {

using namespace mailgate::test::server_transcript;
using mailgate::test::server_transcript::step;

constexpr const char* plain_alice = "AGFsaWNlAHMzY3JldA=="; // base64("\0alice\0s3cret")

const std::string greeting = "+OK mailgate POP3 ready\r\n";
const std::string tls_required =
    "-ERR [AUTH] Plaintext login is not allowed from your network: use STLS or the POP3S port\r\n";
const std::string not_before_login = "-ERR Command not valid before login\r\n";
const std::string auth_failed = "-ERR [AUTH] Authentication failed\r\n";
const std::string invalid_sasl = "-ERR [AUTH] Invalid SASL response\r\n";
const std::string logged_in = "+OK Logged in\r\n";
const std::string goodbye = "+OK mailgate POP3 signing off\r\n";

// USER and SASL only where login is possible on the connection as it is (RFC 2595 §4).
std::string capa(bool with_stls, bool with_login = true) {
    return std::string("+OK Capability list follows\r\n") + (with_login ? "USER\r\n" : "") +
           "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n" +
           (with_login ? "SASL PLAIN LOGIN\r\n" : "") + (with_stls ? "STLS\r\n" : "") +
           "IMPLEMENTATION mailgate\r\n.\r\n";
}
// CAPA on the STLS port before TLS, where plaintext login is refused.
const std::string capa_before_stls = capa(true, false);

server_codec_factory make(server_options options) { return make_server_codec<server>(std::move(options)); }
// A plaintext connection offering STLS, from a network where plaintext login is refused (the default).
server_codec_factory stls_port() { return make({.stls_offered = true}); }
// A plaintext connection from a network allowed to log in without TLS.
server_codec_factory plaintext_allowed() { return make({.plaintext_login_allowed = true}); }
// The implicit TLS port (POP3S).
server_codec_factory implicit_tls() { return make({.tls_active = true}); }

std::vector<step> operator+(std::vector<step> a, const std::vector<step>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// STLS accepted and the handshake done.
std::vector<step> upgrade() {
    return {feed("STLS\r\n"), expect_write("+OK Begin TLS negotiation\r\n"), expect_start_tls()};
}

// A successful USER/PASS login as alice, ending in the relay.
std::vector<step> user_pass_login() {
    return {feed("USER alice\r\n"),  expect_write("+OK\r\n"),
            feed("PASS s3cret\r\n"), expect_authenticate("alice", "s3cret", login_outcome::ok),
            expect_write(logged_in), expect_relay()};
}

std::vector<step> quit() {
    return {feed("QUIT\r\n"), expect_write(goodbye), expect_close(session_errc::client_quit)};
}

// ---- Greeting and CAPA ----

TEST(pop3_server, greets_and_lists_capabilities_with_stls_when_offered) {
    EXPECT_TRUE(
        run_transcript(stls_port(), {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa_before_stls),
                                     feed("capa\r\n"), expect_write(capa_before_stls)}));
}

TEST(pop3_server, capa_lists_user_and_sasl_only_where_login_works) {
    // Refused before TLS: no USER, no SASL, but STLS; after STLS both appear and STLS goes.
    EXPECT_TRUE(run_transcript(
        stls_port(),
        std::vector<step>{expect_write(greeting), feed("CAPA\r\n"), expect_write(capa(true, false))} +
            upgrade() + std::vector<step>{feed("CAPA\r\n"), expect_write(capa(false))}));
    // A plaintext port without STLS where plaintext login is refused: nothing to log in with at all.
    EXPECT_TRUE(run_transcript(make({}),
                               {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa(false, false))}));
    // Plaintext login allowed from this network: USER and SASL before TLS, next to STLS.
    EXPECT_TRUE(run_transcript(make({.stls_offered = true, .plaintext_login_allowed = true}),
                               {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa(true))}));
    // Implicit TLS: everything, no STLS.
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa(false))}));
}

TEST(pop3_server, greeting_text_is_an_option) {
    EXPECT_TRUE(run_transcript(make({.greeting = "POP3 at the office"}),
                               {expect_write("+OK POP3 at the office\r\n")}));
}

TEST(pop3_server, capa_omits_stls_when_not_offered) {
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa(false))}));
}

TEST(pop3_server, capa_omits_stls_on_implicit_tls_even_if_offered) {
    EXPECT_TRUE(run_transcript(make({.stls_offered = true, .tls_active = true}),
                               {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa(false))}));
}

TEST(pop3_server, capa_omits_stls_once_tls_is_up) {
    EXPECT_TRUE(
        run_transcript(stls_port(), std::vector<step>{expect_write(greeting)} + upgrade() +
                                        std::vector<step>{feed("CAPA\r\n"), expect_write(capa(false))}));
}

TEST(pop3_server, apop_is_not_offered) {
    // Without an account that allows it (challenge_login_test.cpp) the greeting carries no timestamp and APOP
    // fails; the session goes on.
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               std::vector<step>{expect_write(greeting),
                                                 feed("APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"),
                                                 expect_write("-ERR APOP is not available here\r\n")} +
                                   user_pass_login()));
}

// ---- USER/PASS ----

TEST(pop3_server, user_pass_login_hands_over_to_the_relay) {
    EXPECT_TRUE(
        run_transcript(plaintext_allowed(), std::vector<step>{expect_write(greeting)} + user_pass_login()));
}

TEST(pop3_server, keywords_are_case_insensitive) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("user alice\r\n"),
                                                expect_write("+OK\r\n"), feed("Pass s3cret\r\n"),
                                                expect_authenticate("alice", "s3cret", login_outcome::ok),
                                                expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, pass_takes_the_rest_of_the_line_spaces_included) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting), feed("USER alice\r\n"), expect_write("+OK\r\n"),
                         feed("PASS correct horse  battery staple \r\n"),
                         expect_authenticate("alice", "correct horse  battery staple ", login_outcome::ok),
                         expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, pass_without_user_and_user_without_name_are_refused) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               std::vector<step>{expect_write(greeting), feed("PASS s3cret\r\n"),
                                                 expect_write("-ERR USER first\r\n"), feed("USER\r\n"),
                                                 expect_write("-ERR USER needs a user name\r\n")} +
                                   user_pass_login()));
}

TEST(pop3_server, a_second_user_replaces_the_first) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting), feed("USER bob\r\n"), expect_write("+OK\r\n"),
                                feed("USER alice\r\n"), expect_write("+OK\r\n"), feed("PASS s3cret\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::ok),
                                expect_write(logged_in), expect_relay()}));
}

// ---- Pipelining (RFC 2449 §6.6) ----

TEST(pop3_server, commands_pipelined_after_pass_are_relayed_exactly) {
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               {expect_write(greeting), feed_whole("USER a\r\nPASS b\r\nSTAT\r\nLIST\r\n"),
                                expect_write("+OK\r\n"), expect_authenticate("a", "b", login_outcome::ok),
                                expect_write(logged_in), expect_relay("STAT\r\nLIST\r\n")}));
}

TEST(pop3_server, a_partial_command_pipelined_after_pass_is_relayed_as_is) {
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               {expect_write(greeting), feed_whole("USER a\r\nPASS b\r\nRETR 1\r\nTO"),
                                expect_write("+OK\r\n"), expect_authenticate("a", "b", login_outcome::ok),
                                expect_write(logged_in), expect_relay("RETR 1\r\nTO")}));
}

TEST(pop3_server, commands_pipelined_after_auth_plain_are_relayed_exactly) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting),
                                        feed_whole(std::string("AUTH PLAIN ") + plain_alice + "\r\nUIDL\r\n"),
                                        expect_authenticate("alice", "s3cret", login_outcome::ok),
                                        expect_write(logged_in), expect_relay("UIDL\r\n")}));
}

TEST(pop3_server, commands_pipelined_after_a_failed_pass_are_answered_by_the_gateway) {
    EXPECT_TRUE(run_transcript(
        plaintext_allowed(),
        {expect_write(greeting), feed_whole("USER a\r\nPASS b\r\nSTAT\r\nQUIT\r\n"), expect_write("+OK\r\n"),
         expect_authenticate("a", "b", login_outcome::bad_credentials), expect_write(auth_failed),
         expect_write(not_before_login), expect_write(goodbye), expect_close(session_errc::client_quit)}));
}

// ---- AUTH (RFC 5034) ----

TEST(pop3_server, auth_plain_with_initial_response) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting),
                                                feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                                expect_authenticate("alice", "s3cret", login_outcome::ok),
                                                expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, auth_plain_with_continuation) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting), feed("auth plain\r\n"),
                                        expect_write("+ \r\n"), feed(std::string(plain_alice) + "\r\n"),
                                        expect_authenticate("alice", "s3cret", login_outcome::ok),
                                        expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, auth_plain_equals_sign_is_an_empty_initial_response) {
    // Zero octets are no valid PLAIN message: refused at once, without a continuation, and the session goes
    // on.
    EXPECT_TRUE(
        run_transcript(implicit_tls(), std::vector<step>{expect_write(greeting), feed("AUTH PLAIN =\r\n"),
                                                         expect_write(invalid_sasl)} +
                                           user_pass_login()));
}

TEST(pop3_server, auth_login_challenges_for_user_and_password) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("AUTH LOGIN\r\n"),
                                                expect_write("+ VXNlcm5hbWU6\r\n"), feed("YWxpY2U=\r\n"),
                                                expect_write("+ UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
                                                expect_authenticate("alice", "s3cret", login_outcome::ok),
                                                expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, auth_login_with_initial_response) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("AUTH LOGIN YWxpY2U=\r\n"),
                                                expect_write("+ UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
                                                expect_authenticate("alice", "s3cret", login_outcome::ok),
                                                expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, auth_without_argument_lists_the_mechanisms) {
    const std::string mechanisms = "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n";
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting), feed("AUTH\r\n"), expect_write(mechanisms)}));
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               {expect_write(greeting), feed("AUTH\r\n"), expect_write(mechanisms)}));
    // Like CAPA: none before TLS where plaintext login is refused, both once TLS is up.
    EXPECT_TRUE(run_transcript(
        stls_port(),
        std::vector<step>{expect_write(greeting), feed("AUTH\r\n"), expect_write("+OK\r\n.\r\n")} +
            upgrade() + std::vector<step>{feed("AUTH\r\n"), expect_write(mechanisms)}));
}

TEST(pop3_server, star_cancels_an_exchange_and_the_session_goes_on) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               std::vector<step>{expect_write(greeting), feed("AUTH PLAIN\r\n"),
                                                 expect_write("+ \r\n"), feed("*\r\n"),
                                                 expect_write("-ERR AUTH cancelled\r\n"),
                                                 feed("AUTH LOGIN\r\n"), expect_write("+ VXNlcm5hbWU6\r\n"),
                                                 feed("YWxpY2U=\r\n"), expect_write("+ UGFzc3dvcmQ6\r\n"),
                                                 feed("*\r\n"), expect_write("-ERR AUTH cancelled\r\n")} +
                                   user_pass_login()));
}

TEST(pop3_server, bad_base64_is_refused) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               std::vector<step>{expect_write(greeting), feed("AUTH PLAIN !!!!\r\n"),
                                                 expect_write(invalid_sasl), feed("AUTH PLAIN\r\n"),
                                                 expect_write("+ \r\n"), feed("AGFsaWNlAHMzY3JldA\r\n"),
                                                 expect_write(invalid_sasl), feed("AUTH LOGIN\r\n"),
                                                 expect_write("+ VXNlcm5hbWU6\r\n"), feed("YWxpY2U\r\n"),
                                                 expect_write(invalid_sasl)} +
                                   user_pass_login()));
}

TEST(pop3_server, plain_with_an_authzid_for_someone_else_is_refused) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting), feed("AUTH PLAIN Ym9iAGFsaWNlAHMzY3JldA==\r\n"), // bob/alice
                         expect_write("-ERR [AUTH] Logging in as another user is not supported\r\n"),
                         feed("AUTH PLAIN YWxpY2UAYWxpY2UAczNjcmV0\r\n"),
                         expect_authenticate("alice", "s3cret", login_outcome::ok), expect_write(logged_in),
                         expect_relay()}));
}

TEST(pop3_server, unknown_mechanism_is_refused) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), std::vector<step>{expect_write(greeting), feed("AUTH CRAM-MD5\r\n"),
                                                         expect_write("-ERR [AUTH] Unsupported "
                                                                      "authentication mechanism\r\n")} +
                                           quit()));
}

// ---- STLS (RFC 2595) ----

TEST(pop3_server, stls_starts_tls) {
    EXPECT_TRUE(run_transcript(stls_port(), std::vector<step>{expect_write(greeting)} + upgrade() + quit()));
}

TEST(pop3_server, commands_pipelined_after_stls_are_discarded_unanswered) {
    // CVE-2011-0411: "CAPA" arrived in plaintext with STLS; it must never be answered, not even after TLS.
    EXPECT_TRUE(
        run_transcript(stls_port(), {expect_write(greeting), feed_whole("STLS\r\nCAPA\r\n"),
                                     expect_write("+OK Begin TLS negotiation\r\n"), expect_start_tls(),
                                     feed("NOOP\r\n"), expect_write(not_before_login)}));
}

TEST(pop3_server, credentials_pipelined_after_stls_are_discarded) {
    EXPECT_TRUE(
        run_transcript(stls_port(), {expect_write(greeting), feed_whole("STLS\r\nUSER mallory\r\nPASS x\r\n"),
                                     expect_write("+OK Begin TLS negotiation\r\n"), expect_start_tls(),
                                     feed("PASS x\r\n"), expect_write("-ERR USER first\r\n")}));
}

TEST(pop3_server, user_given_before_tls_is_forgotten) {
    EXPECT_TRUE(run_transcript(
        make({.stls_offered = true, .plaintext_login_allowed = true}),
        std::vector<step>{expect_write(greeting), feed("USER alice\r\n"), expect_write("+OK\r\n")} +
            upgrade() + std::vector<step>{feed("PASS s3cret\r\n"), expect_write("-ERR USER first\r\n")} +
            user_pass_login()));
}

TEST(pop3_server, stls_when_tls_is_already_active_is_refused) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("STLS\r\n"),
                                                expect_write("-ERR TLS already active\r\n")}));
    EXPECT_TRUE(run_transcript(
        stls_port(), std::vector<step>{expect_write(greeting)} + upgrade() +
                         std::vector<step>{feed("STLS\r\n"), expect_write("-ERR TLS already active\r\n")}));
}

TEST(pop3_server, stls_when_not_offered_is_refused) {
    EXPECT_TRUE(
        run_transcript(plaintext_allowed(), std::vector<step>{expect_write(greeting), feed("STLS\r\n"),
                                                              expect_write("-ERR STLS not available\r\n")} +
                                                user_pass_login()));
}

// ---- Plaintext login policy ----

TEST(pop3_server, plaintext_login_is_refused_without_tls_then_allowed_after_stls) {
    EXPECT_TRUE(run_transcript(
        stls_port(),
        std::vector<step>{expect_write(greeting), feed("USER alice\r\n"), expect_write(tls_required),
                          feed("PASS s3cret\r\n"), expect_write(tls_required),
                          feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"), expect_write(tls_required),
                          feed("AUTH PLAIN\r\n"), expect_write(tls_required), feed("AUTH LOGIN\r\n"),
                          expect_write(tls_required)} +
            upgrade() + user_pass_login()));
}

TEST(pop3_server, sasl_login_is_allowed_after_stls) {
    EXPECT_TRUE(run_transcript(
        stls_port(), std::vector<step>{expect_write(greeting)} + upgrade() +
                         std::vector<step>{feed("AUTH PLAIN\r\n"), expect_write("+ \r\n"),
                                           feed(std::string(plain_alice) + "\r\n"),
                                           expect_authenticate("alice", "s3cret", login_outcome::ok),
                                           expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, login_is_allowed_on_implicit_tls) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), std::vector<step>{expect_write(greeting)} + user_pass_login()));
}

// ---- Login outcomes (RFC 3206 response codes) ----

TEST(pop3_server, bad_credentials_get_auth_code_and_the_session_goes_on) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        std::vector<step>{
            expect_write(greeting), feed("USER alice\r\n"), expect_write("+OK\r\n"), feed("PASS wrong\r\n"),
            expect_authenticate("alice", "wrong", login_outcome::bad_credentials), expect_write(auth_failed),
            // The failed USER is spent: PASS needs a new one.
            feed("PASS s3cret\r\n"), expect_write("-ERR USER first\r\n")} +
            user_pass_login()));
}

TEST(pop3_server, the_third_failed_login_closes_the_session) {
    // USER/PASS and AUTH failures count together.
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        {expect_write(greeting), feed("USER alice\r\n"), expect_write("+OK\r\n"), feed("PASS one\r\n"),
         expect_authenticate("alice", "one", login_outcome::bad_credentials), expect_write(auth_failed),
         feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
         expect_authenticate("alice", "s3cret", login_outcome::bad_credentials), expect_write(auth_failed),
         feed("AUTH LOGIN YWxpY2U=\r\n"), expect_write("+ UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
         expect_authenticate("alice", "s3cret", login_outcome::bad_credentials), expect_write(auth_failed),
         expect_close(session_errc::too_many_failures)}));
}

TEST(pop3_server, failure_limit_is_an_option) {
    EXPECT_TRUE(
        run_transcript(make({.tls_active = true, .max_failures = 1}),
                       {expect_write(greeting), feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                        expect_authenticate("alice", "s3cret", login_outcome::bad_credentials),
                        expect_write(auth_failed), expect_close(session_errc::too_many_failures)}));
}

TEST(pop3_server, provider_temporary_failure_gets_sys_temp) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        std::vector<step>{
            expect_write(greeting), feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
            expect_authenticate("alice", "s3cret", login_outcome::provider_temp),
            expect_write("-ERR [SYS/TEMP] The mail provider is not reachable right now, try again "
                         "later\r\n")} +
            quit()));
}

TEST(pop3_server, provider_permanent_failure_gets_sys_perm) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        std::vector<step>{
            expect_write(greeting), feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
            expect_authenticate("alice", "s3cret", login_outcome::provider_perm),
            expect_write("-ERR [SYS/PERM] The mail provider refused the gateway's login; tell your "
                         "administrator\r\n")} +
            quit()));
}

TEST(pop3_server, provider_failures_are_not_counted_as_the_clients_failed_logins) {
    std::vector<step> script{expect_write(greeting)};
    for (int i = 0; i < 3; ++i) {
        script = script +
                 std::vector<step>{feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                                   expect_authenticate("alice", "s3cret", login_outcome::provider_temp),
                                   expect_write("-ERR [SYS/TEMP] The mail provider is not reachable right "
                                                "now, try again later\r\n")};
    }
    EXPECT_TRUE(run_transcript(implicit_tls(), script + user_pass_login()));
}

// ---- Other commands, QUIT, EOF ----

TEST(pop3_server, transaction_commands_and_gibberish_before_login_are_refused) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        std::vector<step>{expect_write(greeting), feed("STAT\r\n"), expect_write(not_before_login),
                          feed("LIST\r\n"), expect_write(not_before_login), feed("RETR 1\r\n"),
                          expect_write(not_before_login), feed("NOOP\r\n"), expect_write(not_before_login),
                          feed("DELE 1\r\n"), expect_write(not_before_login), feed("xyzzy plugh\r\n"),
                          expect_write(not_before_login), feed("\r\n"), expect_write(not_before_login)} +
            user_pass_login()));
}

TEST(pop3_server, quit_says_goodbye_and_closes) {
    EXPECT_TRUE(run_transcript(stls_port(), std::vector<step>{expect_write(greeting)} + quit()));
    EXPECT_TRUE(run_transcript(stls_port(), {expect_write(greeting), feed("quit\r\n"), expect_write(goodbye),
                                             expect_close(session_errc::client_quit)}));
}

TEST(pop3_server, client_closing_ends_the_session) {
    EXPECT_TRUE(run_transcript(
        stls_port(), {expect_write(greeting), feed_eof(), expect_close(session_errc::client_closed)}));
    // Mid-line and mid-exchange alike.
    EXPECT_TRUE(
        run_transcript(stls_port(), {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa_before_stls),
                                     feed("US"), feed_eof(), expect_close(session_errc::client_closed)}));
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("AUTH LOGIN\r\n"),
                                                expect_write("+ VXNlcm5hbWU6\r\n"), feed_eof(),
                                                expect_close(session_errc::client_closed)}));
}

// ---- Bad input ----

TEST(pop3_server, a_command_line_of_255_octets_is_accepted) {
    const std::string name(248, 'a'); // "USER " + 248 + CRLF = 255 octets (RFC 2449 §4)
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("USER " + name + "\r\n"),
                                                expect_write("+OK\r\n"), feed("PASS s3cret\r\n"),
                                                expect_authenticate(name, "s3cret", login_outcome::ok),
                                                expect_write(logged_in), expect_relay()}));
}

TEST(pop3_server, a_command_line_over_255_octets_closes) {
    const std::string too_long = "-ERR Line too long\r\n";
    // 256 octets with CRLF, in one read.
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting), feed_whole("USER " + std::string(249, 'a') + "\r\n"),
                                expect_write(too_long), expect_close(session_errc::line_too_long)}));
    // No CRLF at all: 255 octets without one can never become a valid line.
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting), feed(std::string(255, 'x')),
                                        expect_write(too_long), expect_close(session_errc::line_too_long)}));
    // 254 octets still wait for the CRLF.
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed(std::string(254, 'x')),
                                                feed_eof(), expect_close(session_errc::client_closed)}));
    // The limit holds inside a SASL exchange too.
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting), feed("AUTH PLAIN\r\n"),
                                        expect_write("+ \r\n"), feed(std::string(255, 'A')),
                                        expect_write(too_long), expect_close(session_errc::line_too_long)}));
}

TEST(pop3_server, nul_and_control_bytes_close_as_garbage) {
    const std::string invalid = "-ERR Invalid characters in command\r\n";
    for (const std::string& line :
         {std::string("USER al\0ice\r\n", 13), std::string("NOOP\x01\r\n"), std::string("CA\rPA\r\n"),
          std::string("\x7f\r\n"), std::string("PASS a\x1b[0m\r\n")}) {
        SCOPED_TRACE(mailgate::test::escape_bytes(line));
        EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed(line), expect_write(invalid),
                                                    expect_close(session_errc::garbage)}));
    }
    // Inside a SASL exchange as well.
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting), feed("AUTH LOGIN\r\n"),
                                expect_write("+ VXNlcm5hbWU6\r\n"), feed(std::string("YWxp\0Y2U=\r\n", 11)),
                                expect_write(invalid), expect_close(session_errc::garbage)}));
}

TEST(pop3_server, bare_lf_closes_as_garbage) {
    const std::string crlf_required = "-ERR Lines must end with CRLF\r\n";
    EXPECT_TRUE(
        run_transcript(stls_port(), {expect_write(greeting), feed("CAPA\n"), expect_write(crlf_required),
                                     expect_close(session_errc::garbage)}));
    EXPECT_TRUE(run_transcript(stls_port(), {expect_write(greeting), feed("\n"), expect_write(crlf_required),
                                             expect_close(session_errc::garbage)}));
}

TEST(pop3_server, tls_client_hello_on_plaintext_closes_without_a_reply) {
    const std::string hello_start("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11);
    EXPECT_TRUE(run_transcript(stls_port(), {expect_write(greeting), feed_whole(hello_start),
                                             expect_close(session_errc::tls_on_plaintext)}));
    EXPECT_TRUE(run_transcript(plaintext_allowed(), {expect_write(greeting), feed("\x16"),
                                                     expect_close(session_errc::tls_on_plaintext)}));
}

TEST(pop3_server, byte_0x16_is_not_special_on_tls_or_after_the_first_byte) {
    const std::string invalid = "-ERR Invalid characters in command\r\n";
    // On POP3S it is just a control byte in a line.
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("\x16\x03\x01\r\n"),
                                                expect_write(invalid), expect_close(session_errc::garbage)}));
    // On plaintext, only as the very first byte.
    EXPECT_TRUE(run_transcript(stls_port(), {expect_write(greeting), feed("NOOP\r\n"),
                                             expect_write(not_before_login), feed("\x16\x03\x01\r\n"),
                                             expect_write(invalid), expect_close(session_errc::garbage)}));
    // Nor as the first byte after STLS (the TLS layer is below the codec by then).
    EXPECT_TRUE(run_transcript(stls_port(), std::vector<step>{expect_write(greeting)} + upgrade() +
                                                std::vector<step>{feed("\x16\r\n"), expect_write(invalid),
                                                                  expect_close(session_errc::garbage)}));
}

// ---- The runner itself ----

TEST(server_transcript_runner, reports_a_wrong_write_with_mode_and_step) {
    EXPECT_NONFATAL_FAILURE(
        run_transcript(stls_port(), {expect_write(greeting), feed("CAPA\r\n"), expect_write(capa(false))}),
        "mode whole at step 2");
}

TEST(server_transcript_runner, reports_a_feed_the_codec_does_not_read_in_one_go) {
    // After "USER a\r\n" the codec answers before it reads PASS: only a split at offset 8 exposes it.
    EXPECT_NONFATAL_FAILURE(
        run_transcript(plaintext_allowed(),
                       {expect_write(greeting), feed("USER a\r\nPASS b\r\n"), expect_write("+OK\r\n"),
                        expect_authenticate("a", "b", login_outcome::ok), expect_write(logged_in),
                        expect_relay()}),
        "mode split (step 1 at offset 8) at step 1");
}

TEST(server_transcript_runner, reports_a_wrong_credential_pipelined_bytes_and_close_reason) {
    EXPECT_NONFATAL_FAILURE(
        run_transcript(implicit_tls(),
                       {expect_write(greeting), feed(std::string("AUTH PLAIN ") + plain_alice + "\r\n"),
                        expect_authenticate("alice", "secret", login_outcome::ok)}),
        "expected credential \"alice\" / \"secret\", got \"alice\" / \"s3cret\"");
    EXPECT_NONFATAL_FAILURE(
        run_transcript(plaintext_allowed(),
                       {expect_write(greeting), feed_whole("USER a\r\nPASS b\r\nSTAT\r\n"),
                        expect_write("+OK\r\n"), expect_authenticate("a", "b", login_outcome::ok),
                        expect_write(logged_in), expect_relay()}),
        "expected pipelined bytes \"\", got \"STAT\\r\\n\"");
    EXPECT_NONFATAL_FAILURE(
        run_transcript(stls_port(),
                       {expect_write(greeting), feed_eof(), expect_close(session_errc::client_quit)}),
        "expected close with error \"client quit\", got \"client closed the connection\"");
}

TEST(server_transcript_runner, check_steps_see_the_concrete_codec) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        {expect_write(greeting), feed("USER alice\r\n"), expect_write("+OK\r\n"),
         check<server>([](server& s) { EXPECT_EQ(s.user(), ""); }), feed("PASS s3cret\r\n"),
         expect_authenticate("alice", "s3cret", login_outcome::ok), check<server>([](server& s) {
             EXPECT_EQ(s.user(), "alice");
             EXPECT_EQ(s.password(), "");
         }),
         expect_write(logged_in), expect_relay()}));
}

} // namespace
} // namespace mailgate::protocols::pop3
