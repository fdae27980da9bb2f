// IMAP server codec transcripts (RFC 9051 not-authenticated state, RFC 2595 STARTTLS, RFC 4959 SASL-IR,
// RFC 7888 LITERAL+, RFC 2971 ID, RFC 5530 codes): each run whole, split at every offset and byte by byte.
#include "protocols/imap/server.hpp"
#include "tests/protocols/server_transcript.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailgate::protocols::imap {
namespace {

using namespace mailgate::test::server_transcript;
using mailgate::test::server_transcript::step;
using steps = std::vector<step>;

constexpr const char* plain_alice = "AGFsaWNlAHMzY3JldA=="; // base64("\0alice\0s3cret")

const std::string base_caps = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE";
const std::string caps_starttls_port = base_caps + " STARTTLS LOGINDISABLED";
const std::string caps_login_allowed = base_caps + " AUTH=PLAIN AUTH=LOGIN";

std::string greeting(const std::string& caps) {
    return "* OK [CAPABILITY " + caps + "] mailgate IMAP ready\r\n";
}
std::string capability_reply(const std::string& tag, const std::string& caps) {
    return "* CAPABILITY " + caps + "\r\n" + tag + " OK CAPABILITY completed\r\n";
}

const std::string continuation = "+ Ready for literal data\r\n";
const std::string privacy_required =
    " NO [PRIVACYREQUIRED] Plaintext login is not allowed from your network: use STARTTLS or IMAPS\r\n";
const std::string auth_failed = " NO [AUTHENTICATIONFAILED] Authentication failed\r\n";
const std::string not_before_login = " BAD Command unknown or not valid before login\r\n";
const std::string provider_temp_reply =
    " NO [UNAVAILABLE] The mail provider is not reachable right now, try again later\r\n";
const std::string provider_perm_reply =
    " NO [UNAVAILABLE] The mail provider refused the gateway's login; tell your administrator\r\n";
const std::string invalid_tag = "* BAD Invalid tag\r\n";
const std::string too_long = "* BAD Command line or literal too long\r\n";
const std::string invalid_literal = "* BAD Invalid literal length\r\n";

// What a typical provider announces after login, spelled as it does.
const std::vector<std::string> provider_caps = {"IMAP4rev1", "LITERAL+", "SASL-IR",
                                                "IDLE",      "UIDPLUS",  "MOVE"};
const std::string logged_in_caps = "IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE";
std::string logged_in(const std::string& tag) {
    return tag + " OK [CAPABILITY " + logged_in_caps + "] Logged in\r\n";
}

server_codec_factory make(server_options options) { return make_server_codec<server>(std::move(options)); }
// A plaintext connection offering STARTTLS, from a network where plaintext login is refused (the default).
server_codec_factory starttls_port() { return make({.starttls_offered = true}); }
// A plaintext connection from a network allowed to log in without TLS.
server_codec_factory plaintext_allowed() { return make({.plaintext_login_allowed = true}); }
// The implicit TLS port (IMAPS).
server_codec_factory implicit_tls() { return make({.tls_active = true}); }

steps operator+(steps a, const steps& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// STARTTLS accepted and the handshake done.
steps upgrade(const std::string& tag = "s") {
    return {feed(tag + " STARTTLS\r\n"), expect_write(tag + " OK Begin TLS negotiation now\r\n"),
            expect_start_tls()};
}

// A successful LOGIN as alice, ending in the relay.
steps login_alice(const std::string& tag = "l") {
    return {feed(tag + " LOGIN alice s3cret\r\n"),
            expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
            expect_write(logged_in(tag)), expect_relay()};
}

steps logout(const std::string& tag = "z") {
    return {feed(tag + " LOGOUT\r\n"),
            expect_write("* BYE mailgate IMAP signing off\r\n" + tag + " OK LOGOUT completed\r\n"),
            expect_close(session_errc::client_quit)};
}

// ---- Greeting, CAPABILITY, NOOP, ID, LOGOUT ----

TEST(imap_server, greeting_carries_the_capabilities_of_each_port) {
    EXPECT_TRUE(run_transcript(starttls_port(), {expect_write(greeting(caps_starttls_port))}));
    EXPECT_TRUE(run_transcript(plaintext_allowed(), {expect_write(greeting(caps_login_allowed))}));
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed))}));
    EXPECT_TRUE(run_transcript(make({.starttls_offered = true, .plaintext_login_allowed = true}),
                               {expect_write(greeting(base_caps + " STARTTLS AUTH=PLAIN AUTH=LOGIN"))}));
    // Offering STARTTLS on a connection that is already TLS would be a lie.
    EXPECT_TRUE(run_transcript(make({.starttls_offered = true, .tls_active = true}),
                               {expect_write(greeting(caps_login_allowed))}));
    // Neither TLS nor STARTTLS nor plaintext login: nothing to log in with.
    EXPECT_TRUE(run_transcript(make({}), {expect_write(greeting(base_caps + " LOGINDISABLED"))}));
}

TEST(imap_server, capability_lists_the_same_capabilities) {
    EXPECT_TRUE(run_transcript(
        starttls_port(), {expect_write(greeting(caps_starttls_port)), feed("a CAPABILITY\r\n"),
                          expect_write(capability_reply("a", caps_starttls_port)), feed("b capability\r\n"),
                          expect_write(capability_reply("b", caps_starttls_port))}));
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("A001 Capability\r\n"),
                                expect_write(capability_reply("A001", caps_login_allowed))}));
}

TEST(imap_server, noop) {
    EXPECT_TRUE(
        run_transcript(starttls_port(), {expect_write(greeting(caps_starttls_port)), feed("a NOOP\r\n"),
                                         expect_write("a OK NOOP completed\r\n"), feed("b1.2 noop\r\n"),
                                         expect_write("b1.2 OK NOOP completed\r\n")}));
}

TEST(imap_server, id_answers_with_its_own_identity) {
    const std::string id = "* ID (\"name\" \"mailgate\" \"version\" \"0\")\r\n";
    EXPECT_TRUE(
        run_transcript(starttls_port(), {expect_write(greeting(caps_starttls_port)),
                                         feed("a ID (\"name\" \"Thunderbird\" \"version\" \"115.0\")\r\n"),
                                         expect_write(id + "a OK ID completed\r\n"), feed("b ID NIL\r\n"),
                                         expect_write(id + "b OK ID completed\r\n"),
                                         // The client's parameters may come as literals too.
                                         feed("c ID ({4+}\r\nname {3+}\r\nfoo)\r\n"),
                                         expect_write(id + "c OK ID completed\r\n")}));
    EXPECT_TRUE(run_transcript(make({.tls_active = true, .version = "1.2.3"}),
                               {expect_write(greeting(caps_login_allowed)), feed("a ID NIL\r\n"),
                                expect_write("* ID (\"name\" \"mailgate\" \"version\" \"1.2.3\")\r\n"
                                             "a OK ID completed\r\n")}));
}

TEST(imap_server, logout_says_bye_and_closes) {
    EXPECT_TRUE(
        run_transcript(starttls_port(), steps{expect_write(greeting(caps_starttls_port))} + logout()));
    EXPECT_TRUE(
        run_transcript(implicit_tls(), steps{expect_write(greeting(caps_login_allowed))} + logout("x9")));
}

TEST(imap_server, commands_pipelined_before_login_are_answered_in_order) {
    EXPECT_TRUE(run_transcript(starttls_port(),
                               {expect_write(greeting(caps_starttls_port)),
                                feed_whole("a NOOP\r\nb CAPABILITY\r\nc LOGOUT\r\nd NOOP\r\n"),
                                expect_write("a OK NOOP completed\r\n"),
                                expect_write(capability_reply("b", caps_starttls_port)),
                                expect_write("* BYE mailgate IMAP signing off\r\nc OK LOGOUT completed\r\n"),
                                expect_close(session_errc::client_quit)}));
}

TEST(imap_server, shutting_down_says_bye) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                                check<server>([](server& s) { s.shutting_down(); }),
                                                expect_write("* BYE mailgate is shutting down\r\n"),
                                                expect_close(session_errc::client_quit)}));
}

// ---- STARTTLS (RFC 2595, RFC 9051 §6.2.1) ----

TEST(imap_server, starttls_enables_login_and_is_no_longer_advertised) {
    EXPECT_TRUE(
        run_transcript(starttls_port(), steps{expect_write(greeting(caps_starttls_port))} + upgrade() +
                                            steps{feed("a CAPABILITY\r\n"),
                                                  expect_write(capability_reply("a", caps_login_allowed))} +
                                            login_alice()));
}

TEST(imap_server, commands_pipelined_after_starttls_are_discarded_unanswered) {
    // CVE-2011-0411: "b NOOP" arrived in plaintext with STARTTLS; it must never be answered, not even after
    // TLS.
    EXPECT_TRUE(run_transcript(
        starttls_port(), {expect_write(greeting(caps_starttls_port)), feed_whole("a STARTTLS\r\nb NOOP\r\n"),
                          expect_write("a OK Begin TLS negotiation now\r\n"), expect_start_tls(),
                          feed("c NOOP\r\n"), expect_write("c OK NOOP completed\r\n")}));
}

TEST(imap_server, credentials_pipelined_after_starttls_are_discarded) {
    EXPECT_TRUE(run_transcript(starttls_port(),
                               {expect_write(greeting(caps_starttls_port)),
                                feed_whole("a STARTTLS\r\nb LOGIN mallory x\r\nc AUTHENTICATE PLAIN " +
                                           std::string(plain_alice) + "\r\n"),
                                expect_write("a OK Begin TLS negotiation now\r\n"), expect_start_tls(),
                                feed("d NOOP\r\n"), expect_write("d OK NOOP completed\r\n")}));
}

TEST(imap_server, a_partial_command_pipelined_after_starttls_is_forgotten) {
    // Half a LOGIN with a pending literal before TLS must not swallow the first bytes after it.
    EXPECT_TRUE(run_transcript(starttls_port(),
                               {expect_write(greeting(caps_starttls_port)),
                                feed_whole("a STARTTLS\r\nb LOGIN mallory {20+}\r\nxy"),
                                expect_write("a OK Begin TLS negotiation now\r\n"), expect_start_tls(),
                                feed("c NOOP\r\n"), expect_write("c OK NOOP completed\r\n")}));
    EXPECT_TRUE(run_transcript(starttls_port(),
                               {expect_write(greeting(caps_starttls_port)), feed_whole("a STARTTLS\r\nb LOG"),
                                expect_write("a OK Begin TLS negotiation now\r\n"), expect_start_tls(),
                                feed("IN alice s3cret\r\n"), expect_write("IN" + not_before_login)}));
}

TEST(imap_server, starttls_when_tls_is_already_active_is_refused) {
    const std::string refused = "a BAD TLS is already active\r\n";
    EXPECT_TRUE(run_transcript(implicit_tls(), steps{expect_write(greeting(caps_login_allowed)),
                                                     feed("a STARTTLS\r\n"), expect_write(refused)} +
                                                   login_alice()));
    EXPECT_TRUE(run_transcript(starttls_port(),
                               steps{expect_write(greeting(caps_starttls_port))} + upgrade() +
                                   steps{feed("a STARTTLS\r\n"), expect_write(refused)} + login_alice()));
}

TEST(imap_server, starttls_when_not_offered_is_refused) {
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               steps{expect_write(greeting(caps_login_allowed)), feed("a STARTTLS\r\n"),
                                     expect_write("a BAD STARTTLS not available\r\n")} +
                                   login_alice()));
}

// ---- Plaintext login policy (RFC 9051 §6.2.3, RFC 5530 PRIVACYREQUIRED) ----

TEST(imap_server, a_password_literal_is_never_invited_where_plaintext_login_is_refused) {
    // The refusal comes instead of the "+" continuation, so the client never sends the literal.
    EXPECT_TRUE(run_transcript(starttls_port(),
                               steps{expect_write(greeting(caps_starttls_port)), feed("a LOGIN {5}\r\n"),
                                     expect_write("a" + privacy_required), feed("b LOGIN alice {6}\r\n"),
                                     expect_write("b" + privacy_required), feed("c NOOP\r\n"),
                                     expect_write("c OK NOOP completed\r\n")}));
}

TEST(imap_server, login_and_authenticate_are_refused_on_plaintext_then_allowed_after_starttls) {
    EXPECT_TRUE(run_transcript(starttls_port(),
                               steps{expect_write(greeting(caps_starttls_port)),
                                     feed("a LOGIN alice s3cret\r\n"), expect_write("a" + privacy_required),
                                     feed("b AUTHENTICATE PLAIN " + std::string(plain_alice) + "\r\n"),
                                     expect_write("b" + privacy_required), feed("c AUTHENTICATE PLAIN\r\n"),
                                     expect_write("c" + privacy_required), feed("d authenticate login\r\n"),
                                     expect_write("d" + privacy_required),
                                     feed("e LOGIN {5+}\r\nalice {6+}\r\ns3cret\r\n"),
                                     expect_write("e" + privacy_required)} +
                                   upgrade() + login_alice()));
}

TEST(imap_server, privacy_refusals_are_not_counted_as_failed_logins) {
    steps script{expect_write(greeting(caps_starttls_port))};
    for (int i = 0; i < 4; ++i)
        script = script + steps{feed("a LOGIN alice s3cret\r\n"), expect_write("a" + privacy_required)};
    EXPECT_TRUE(run_transcript(starttls_port(), script + upgrade() + login_alice()));
}

TEST(imap_server, login_is_allowed_on_plaintext_from_allowed_networks_and_on_implicit_tls) {
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               steps{expect_write(greeting(caps_login_allowed))} + login_alice()));
    EXPECT_TRUE(
        run_transcript(implicit_tls(), steps{expect_write(greeting(caps_login_allowed))} + login_alice()));
}

// ---- LOGIN: atoms, quoted strings, literals ----

TEST(imap_server, login_with_atoms_keeps_case_and_the_clients_tag) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                        feed("A0042 login Alice@Example.ORG S3cr3t!#$&'+-/=?^_`|~]}\r\n"),
                                        expect_authenticate("Alice@Example.ORG", "S3cr3t!#$&'+-/=?^_`|~]}",
                                                            login_outcome::ok, provider_caps),
                                        expect_write(logged_in("A0042")), expect_relay()}));
}

TEST(imap_server, login_with_quoted_strings_and_escapes) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        {expect_write(greeting(caps_login_allowed)), feed("a LOGIN \"alice\" \"p a\\\"s\\\\s (x) {3}\"\r\n"),
         expect_authenticate("alice", "p a\"s\\s (x) {3}", login_outcome::ok, provider_caps),
         expect_write(logged_in("a")), expect_relay()}));
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting(caps_login_allowed)), feed("a LOGIN \"al ice\" \"\"\r\n"),
                         expect_authenticate("al ice", "", login_outcome::ok, provider_caps),
                         expect_write(logged_in("a")), expect_relay()}));
}

// The three forms of an astring, as a client would send them: `feed` steps up to each continuation.
enum class form { atom, quoted, sync_literal, nonsync_literal };

// Appends `value` in `f` to `line`; a synchronizing literal ends the current feed and waits for "+ ".
void add_argument(steps& script, std::string& line, form f, const std::string& value) {
    switch (f) {
    case form::atom: line += " " + value; return;
    case form::quoted: {
        std::string quoted;
        for (char c : value) {
            if (c == '"' || c == '\\') quoted += '\\';
            quoted += c;
        }
        line += " \"" + quoted + "\"";
        return;
    }
    case form::sync_literal:
        script.push_back(feed(line + " {" + std::to_string(value.size()) + "}\r\n"));
        script.push_back(expect_write(continuation));
        line = value;
        return;
    case form::nonsync_literal: line += " {" + std::to_string(value.size()) + "+}\r\n" + value; return;
    }
}

TEST(imap_server, login_user_and_password_in_every_form) {
    const char* names[] = {"atom", "quoted", "literal", "literal+"};
    for (form user_form : {form::atom, form::quoted, form::sync_literal, form::nonsync_literal}) {
        for (form password_form : {form::atom, form::quoted, form::sync_literal, form::nonsync_literal}) {
            SCOPED_TRACE(std::string("user as ") + names[static_cast<int>(user_form)] + ", password as " +
                         names[static_cast<int>(password_form)]);
            steps script{expect_write(greeting(caps_login_allowed))};
            std::string line = "t1 LOGIN";
            add_argument(script, line, user_form, "alice@example.org");
            add_argument(script, line, password_form, "s3cret");
            script.push_back(feed(line + "\r\n"));
            script = script + steps{expect_authenticate("alice@example.org", "s3cret", login_outcome::ok,
                                                        provider_caps),
                                    expect_write(logged_in("t1")), expect_relay()};
            EXPECT_TRUE(run_transcript(implicit_tls(), script));
        }
    }
}

TEST(imap_server, password_with_space_quote_backslash_and_utf8_by_literal) {
    const std::string password = "p \"w\\d\" gr\xc3\xbc\xc3\x9f \xe2\x82\xac\xf0\x9f\x94\x91"; // "grüß €🔑"
    ASSERT_EQ(password.size(), 22u);
    for (form f : {form::quoted, form::sync_literal, form::nonsync_literal}) {
        SCOPED_TRACE(static_cast<int>(f));
        steps script{expect_write(greeting(caps_login_allowed))};
        std::string line = "a LOGIN {5+}\r\nalice";
        add_argument(script, line, f, password);
        script = script + steps{feed(line + "\r\n"),
                                expect_authenticate("alice", password, login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay()};
        EXPECT_TRUE(run_transcript(implicit_tls(), script));
    }
}

TEST(imap_server, literal_password_with_crlf_is_passed_on_as_is) {
    // Literals are 8-bit data; the upstream client literal-encodes (never splices) whatever it is given. (NUL
    // is not CHAR8 and is refused: imap_server_literal.nul_in_a_literal_closes_the_session.)
    const std::string password("a\r\nb\x01"
                               "c}");
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice {7}\r\n"),
                                expect_write(continuation), feed(password + "\r\n"),
                                expect_authenticate("alice", password, login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, empty_literal_password) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice {0}\r\n"),
                                expect_write(continuation), feed("\r\n"),
                                expect_authenticate("alice", "", login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, malformed_login_arguments_get_tagged_bad) {
    const std::string needs = " BAD LOGIN needs a user name and a password\r\n";
    const std::string invalid = " BAD Invalid arguments\r\n";
    EXPECT_TRUE(
        run_transcript(implicit_tls(), steps{expect_write(greeting(caps_login_allowed)),
                                             feed("a LOGIN\r\n"),
                                             expect_write("a" + needs),
                                             feed("b LOGIN alice\r\n"),
                                             expect_write("b" + needs),
                                             feed("c LOGIN alice s3cret extra\r\n"),
                                             expect_write("c" + needs),
                                             feed("d LOGIN \"\" s3cret\r\n"),
                                             expect_write("d" + needs),
                                             feed("e LOGIN (alice) s3cret\r\n"),
                                             expect_write("e" + needs),
                                             feed("f LOGIN alice \"s3\\cret\"\r\n"),
                                             expect_write("f" + invalid),
                                             feed("g LOGIN alice \"s3cret\r\n"),
                                             expect_write("g" + invalid),
                                             feed("h LOGIN al%ce s3cret\r\n"),
                                             expect_write("h" + invalid),
                                             feed("i LOGIN alice s3\x01\r\n"),
                                             expect_write("i" + invalid),
                                             feed(std::string("j LOGIN alice \"s3") + '\0' + "\"\r\n"),
                                             expect_write("j" + invalid)} +
                                           login_alice()));
}

// ---- AUTHENTICATE (RFC 9051 §6.2.2, RFC 4959 SASL-IR) ----

TEST(imap_server, authenticate_plain_with_initial_response) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)),
                                feed("a AUTHENTICATE PLAIN " + std::string(plain_alice) + "\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, authenticate_plain_with_an_empty_continuation) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a authenticate plain\r\n"),
                                expect_write("+ \r\n"), feed(std::string(plain_alice) + "\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, authenticate_login_challenges_for_user_and_password) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE LOGIN\r\n"),
                                expect_write("+ VXNlcm5hbWU6\r\n"), feed("YWxpY2U=\r\n"),
                                expect_write("+ UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, authenticate_login_with_initial_response) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(),
                       {expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE LOGIN YWxpY2U=\r\n"),
                        expect_write("+ UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
                        expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                        expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, authenticate_initial_response_as_a_literal) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE PLAIN {20}\r\n"),
                         expect_write(continuation), feed(std::string(plain_alice) + "\r\n"),
                         expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                         expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, star_cancels_with_tagged_bad_and_the_session_goes_on) {
    const std::string cancelled = " BAD AUTHENTICATE cancelled\r\n";
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        steps{expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE PLAIN\r\n"),
              expect_write("+ \r\n"), feed("*\r\n"), expect_write("a" + cancelled),
              feed("b AUTHENTICATE LOGIN\r\n"), expect_write("+ VXNlcm5hbWU6\r\n"), feed("*\r\n"),
              expect_write("b" + cancelled), feed("c AUTHENTICATE LOGIN YWxpY2U=\r\n"),
              expect_write("+ UGFzc3dvcmQ6\r\n"), feed("*\r\n"), expect_write("c" + cancelled)} +
            login_alice()));
}

TEST(imap_server, bad_sasl_responses_get_tagged_bad) {
    const std::string invalid = " BAD Invalid SASL response\r\n";
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        steps{expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE PLAIN !!!!\r\n"),
              expect_write("a" + invalid), feed("b AUTHENTICATE PLAIN =\r\n"), expect_write("b" + invalid),
              feed("c AUTHENTICATE PLAIN\r\n"), expect_write("+ \r\n"), feed("AGFsaWNlAHMzY3JldA\r\n"),
              expect_write("c" + invalid), feed("d AUTHENTICATE LOGIN\r\n"),
              expect_write("+ VXNlcm5hbWU6\r\n"), feed("YWxpY2U\r\n"), expect_write("d" + invalid),
              // An authzid naming someone else (bob logging in as alice) is a proxy login we do not offer:
              // a NO the client shows, not a BAD it may take for its own bug.
              feed("e AUTHENTICATE PLAIN Ym9iAGFsaWNlAHMzY3JldA==\r\n"),
              expect_write("e NO [AUTHORIZATIONFAILED] Logging in as another user is not supported\r\n")} +
            login_alice()));
}

TEST(imap_server, enable_before_login_is_answered_like_dovecot) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               steps{expect_write(greeting(caps_login_allowed)),
                                     feed("a ENABLE CONDSTORE UTF8=ACCEPT\r\n"),
                                     expect_write("* ENABLED\r\n"
                                                  "a OK ENABLE ignored in non-authenticated state\r\n")} +
                                   login_alice()));
}

TEST(imap_server, an_unquoted_user_name_may_hold_a_backslash) {
    // Outlook with SPA habits sends the Windows domain form as an atom; Dovecot takes it too.
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting(caps_login_allowed)), feed("a LOGIN LAN\\alice s3cret\r\n"),
                         expect_authenticate("LAN\\alice", "s3cret", login_outcome::ok, provider_caps),
                         expect_write(logged_in("a")), expect_relay()}));
}

TEST(imap_server, authenticate_without_a_usable_mechanism) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        steps{expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE\r\n"),
              expect_write("a BAD AUTHENTICATE needs a mechanism\r\n"), feed("b AUTHENTICATE PLAIN x y\r\n"),
              expect_write("b BAD AUTHENTICATE needs a mechanism\r\n"), feed("c AUTHENTICATE CRAM-MD5\r\n"),
              expect_write("c NO [CANNOT] Unsupported authentication mechanism\r\n"),
              feed("d AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQ==\r\n"),
              expect_write("d NO [CANNOT] Unsupported authentication mechanism\r\n")} +
            login_alice()));
}

TEST(imap_server, control_bytes_in_a_sasl_response_close_as_garbage) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE LOGIN\r\n"),
                                expect_write("+ VXNlcm5hbWU6\r\n"), feed(std::string("YWxp\0Y2U=\r\n", 11)),
                                expect_close(session_errc::garbage)}));
}

// ---- Login outcomes ----

TEST(imap_server, ok_filters_the_providers_pre_login_capabilities_case_insensitively) {
    const std::vector<std::string> caps = {"IMAP4rev1",     "starttls",  "LOGINDISABLED", "AUTH=PLAIN",
                                           "auth=xoauth2",  "Sasl-IR",   "IDLE",          "uidplus",
                                           "AUTHENTICATED", "X-STARTTLS"};
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice s3cret\r\n"),
         expect_authenticate("alice", "s3cret", login_outcome::ok, caps),
         expect_write("a OK [CAPABILITY IMAP4rev1 IDLE uidplus AUTHENTICATED X-STARTTLS] Logged in\r\n"),
         expect_relay()}));
}

TEST(imap_server, commands_pipelined_after_login_are_relayed_exactly) {
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               {expect_write(greeting(caps_login_allowed)),
                                feed_whole("a LOGIN u p\r\nb SELECT INBOX\r\n"),
                                expect_authenticate("u", "p", login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay("b SELECT INBOX\r\n")}));
    // Partial commands and literals (even ones the gateway would refuse before login) are the provider's
    // business.
    const std::string after = "b APPEND INBOX {100000+}\r\nFrom: x\n\x01\xff";
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                        feed_whole("a LOGIN {1+}\r\nu {1+}\r\np\r\n" + after),
                                        expect_authenticate("u", "p", login_outcome::ok, provider_caps),
                                        expect_write(logged_in("a")), expect_relay(after)}));
}

TEST(imap_server, commands_pipelined_after_authenticate_are_relayed_exactly) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)),
                                feed_whole("a AUTHENTICATE PLAIN " + std::string(plain_alice) +
                                           "\r\nb SELECT INBOX\r\nc FETCH 1 BODY[]\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")),
                                expect_relay("b SELECT INBOX\r\nc FETCH 1 BODY[]\r\n")}));
    EXPECT_TRUE(
        run_transcript(implicit_tls(),
                       {expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE LOGIN YWxpY2U=\r\n"),
                        expect_write("+ UGFzc3dvcmQ6\r\n"), feed_whole("czNjcmV0\r\nb NOOP\r\n"),
                        expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                        expect_write(logged_in("a")), expect_relay("b NOOP\r\n")}));
}

TEST(imap_server, bad_credentials_get_authenticationfailed_and_the_session_goes_on) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        steps{expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice wrong\r\n"),
              expect_authenticate("alice", "wrong", login_outcome::bad_credentials),
              expect_write("a" + auth_failed), check<server>([](server& s) { EXPECT_EQ(s.password(), ""); }),
              feed("b NOOP\r\n"), expect_write("b OK NOOP completed\r\n")} +
            login_alice()));
}

TEST(imap_server, the_third_failed_login_says_bye_and_closes) {
    // LOGIN and AUTHENTICATE failures count together.
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice one\r\n"),
                                expect_authenticate("alice", "one", login_outcome::bad_credentials),
                                expect_write("a" + auth_failed),
                                feed("b AUTHENTICATE PLAIN " + std::string(plain_alice) + "\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::bad_credentials),
                                expect_write("b" + auth_failed), feed("c AUTHENTICATE LOGIN YWxpY2U=\r\n"),
                                expect_write("+ UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::bad_credentials),
                                expect_write("c" + auth_failed + "* BYE Too many failed logins\r\n"),
                                expect_close(session_errc::too_many_failures)}));
}

TEST(imap_server, commands_pipelined_after_the_last_failed_login_are_not_answered) {
    EXPECT_TRUE(run_transcript(make({.tls_active = true, .max_failures = 1}),
                               {expect_write(greeting(caps_login_allowed)),
                                feed_whole("a LOGIN alice x\r\nb LOGIN alice y\r\n"),
                                expect_authenticate("alice", "x", login_outcome::bad_credentials),
                                expect_write("a" + auth_failed + "* BYE Too many failed logins\r\n"),
                                expect_close(session_errc::too_many_failures)}));
}

TEST(imap_server, commands_pipelined_after_a_failed_login_are_answered_by_the_gateway) {
    EXPECT_TRUE(run_transcript(plaintext_allowed(),
                               steps{expect_write(greeting(caps_login_allowed)),
                                     feed_whole("a LOGIN u p\r\nb SELECT INBOX\r\n"),
                                     expect_authenticate("u", "p", login_outcome::bad_credentials),
                                     expect_write("a" + auth_failed), expect_write("b" + not_before_login)} +
                                   logout()));
}

TEST(imap_server, provider_failures_get_unavailable_and_are_not_counted) {
    steps script{expect_write(greeting(caps_login_allowed))};
    for (int i = 0; i < 3; ++i) {
        script = script + steps{feed("t LOGIN alice s3cret\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::provider_temp),
                                expect_write("t" + provider_temp_reply),
                                feed("u AUTHENTICATE PLAIN " + std::string(plain_alice) + "\r\n"),
                                expect_authenticate("alice", "s3cret", login_outcome::provider_perm),
                                expect_write("u" + provider_perm_reply)};
    }
    EXPECT_TRUE(run_transcript(implicit_tls(), script + login_alice()));
}

// ---- Bad input ----

TEST(imap_server, invalid_tags_get_untagged_bad_and_the_session_goes_on) {
    for (std::string line : {"a+ NOOP", "+ NOOP", "* NOOP", "a* NOOP", "(a NOOP", "\"a\" NOOP", "a{1} NOOP",
                             "a% NOOP", "a\\ NOOP", "", " NOOP", "+ alice s3cret"}) {
        SCOPED_TRACE(line);
        EXPECT_TRUE(run_transcript(implicit_tls(), steps{expect_write(greeting(caps_login_allowed)),
                                                         feed(line + "\r\n"), expect_write(invalid_tag)} +
                                                       login_alice()));
    }
}

TEST(imap_server, other_commands_before_login_get_tagged_bad) {
    steps script{expect_write(greeting(caps_login_allowed))};
    for (std::string command : {"SELECT INBOX", "FETCH 1 (FLAGS)", "examine INBOX", "LIST \"\" INBOX", "IDLE",
                                "UID FETCH 1 BODY[]", "xyzzy", "a"}) {
        script = script + steps{feed("t " + command + "\r\n"), expect_write("t" + not_before_login)};
    }
    // A tag alone.
    script = script + steps{feed("u\r\n"), expect_write("u" + not_before_login)};
    EXPECT_TRUE(run_transcript(implicit_tls(), script + login_alice()));
}

TEST(imap_server, arguments_are_tokenized_as_astrings_before_the_command_is_known) {
    // "*" is no ASTRING-CHAR, so sequence sets and list wildcards fail tokenizing first: still a tagged BAD.
    EXPECT_TRUE(run_transcript(
        implicit_tls(), steps{expect_write(greeting(caps_login_allowed)), feed("t FETCH 1:* (FLAGS)\r\n"),
                              expect_write("t BAD Invalid arguments\r\n"), feed("u LIST \"\" *\r\n"),
                              expect_write("u BAD Invalid arguments\r\n")} +
                            login_alice()));
}

TEST(imap_server, eof_closes_as_client_closed) {
    const auto closed = session_errc::client_closed;
    EXPECT_TRUE(run_transcript(
        starttls_port(), {expect_write(greeting(caps_starttls_port)), feed_eof(), expect_close(closed)}));
    // Mid-command, mid-literal, and inside a SASL exchange.
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                                feed("a LOGIN ali"), feed_eof(), expect_close(closed)}));
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice {6}\r\n"),
                                expect_write(continuation), feed("s3c"), feed_eof(), expect_close(closed)}));
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a AUTHENTICATE PLAIN\r\n"),
                                expect_write("+ \r\n"), feed_eof(), expect_close(closed)}));
}

TEST(imap_server, bare_lf_closes_as_garbage) {
    for (std::string input : {"a NOOP\n", "\n", "a LOGIN {1+}\r\nu p\n"}) {
        SCOPED_TRACE(mailgate::test::escape_bytes(input));
        EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)), feed(input),
                                                    expect_close(session_errc::garbage)}));
    }
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                                feed("a AUTHENTICATE PLAIN\r\n"), expect_write("+ \r\n"),
                                                feed("AGFsaWNl\n"), expect_close(session_errc::garbage)}));
}

TEST(imap_server, tls_client_hello_on_plaintext_closes_without_a_reply) {
    const std::string hello_start("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11);
    EXPECT_TRUE(
        run_transcript(starttls_port(), {expect_write(greeting(caps_starttls_port)), feed_whole(hello_start),
                                         expect_close(session_errc::tls_on_plaintext)}));
    EXPECT_TRUE(run_transcript(plaintext_allowed(), {expect_write(greeting(caps_login_allowed)), feed("\x16"),
                                                     expect_close(session_errc::tls_on_plaintext)}));
}

TEST(imap_server, byte_0x16_is_only_special_first_on_plaintext) {
    // On IMAPS and after other bytes it is a control byte in a tag: no ClientHello, but no IMAP either.
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                        feed("\x16\x03\x01 NOOP\r\n"), expect_close(session_errc::garbage)}));
    EXPECT_TRUE(
        run_transcript(starttls_port(), {expect_write(greeting(caps_starttls_port)), feed("a NOOP\r\n"),
                                         expect_write("a OK NOOP completed\r\n"), feed("\x16\x03 NOOP\r\n"),
                                         expect_close(session_errc::garbage)}));
    // Nor as the first byte after STARTTLS (the TLS layer is below the codec by then).
    EXPECT_TRUE(run_transcript(starttls_port(),
                               steps{expect_write(greeting(caps_starttls_port))} + upgrade() +
                                   steps{feed("\x16 NOOP\r\n"), expect_close(session_errc::garbage)}));
}

TEST(imap_server, command_limit_is_an_option) {
    // 32 octets with CRLF pass, 33 do not; lines and literals count together.
    const auto small = make({.tls_active = true, .max_command = 32});
    EXPECT_TRUE(run_transcript(
        small,
        {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice " + std::string(16, 'p') + "\r\n"),
         expect_authenticate("alice", std::string(16, 'p'), login_outcome::ok, provider_caps),
         expect_write(logged_in("a")), expect_relay()}));
    EXPECT_TRUE(run_transcript(small, {expect_write(greeting(caps_login_allowed)),
                                       feed_whole("a LOGIN alice " + std::string(17, 'p') + "\r\n"),
                                       expect_write(too_long), expect_close(session_errc::line_too_long)}));
    // No CRLF in sight.
    EXPECT_TRUE(run_transcript(small, {expect_write(greeting(caps_login_allowed)), feed(std::string(34, 'x')),
                                       expect_write(too_long), expect_close(session_errc::line_too_long)}));
    // "a LOGIN alice {14}\r\n" (20) + 14 > 32: refused at the marker, without a continuation.
    EXPECT_TRUE(
        run_transcript(small, {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice {14}\r\n"),
                               expect_write(too_long), expect_close(session_errc::line_too_long)}));
    EXPECT_TRUE(run_transcript(
        small, {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice {10}\r\n"),
                expect_write(continuation), feed_whole(std::string(10, 'p') + "\r\n"),
                expect_authenticate("alice", std::string(10, 'p'), login_outcome::ok, provider_caps),
                expect_write(logged_in("a")), expect_relay()}));
    // The limit holds for SASL responses too.
    EXPECT_TRUE(run_transcript(small, {expect_write(greeting(caps_login_allowed)),
                                       feed("a AUTHENTICATE PLAIN\r\n"), expect_write("+ \r\n"),
                                       feed(std::string(34, 'A')), expect_write("* BAD Line too long\r\n"),
                                       expect_close(session_errc::line_too_long)}));
}

TEST(imap_server, commands_and_literals_over_64_kib_close) {
    // Whole only (feed_whole): the small-limit test above covers the splits.
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        {expect_write(greeting(caps_login_allowed)),
         feed_whole("a LOGIN alice " + std::string(65536 - 16, 'p') + "\r\n"),
         expect_authenticate("alice", std::string(65536 - 16, 'p'), login_outcome::ok, provider_caps),
         expect_write(logged_in("a")), expect_relay()}));
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                        feed_whole("a LOGIN alice " + std::string(65536 - 15, 'p') + "\r\n"),
                                        expect_write(too_long), expect_close(session_errc::line_too_long)}));
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                                                feed_whole(std::string(70000, 'x')), expect_write(too_long),
                                                expect_close(session_errc::line_too_long)}));
    // A literal of exactly what is left is accepted ("a LOGIN alice {65511}\r\n" + 65511 + CRLF = 65536);
    // markers that cannot fit are refused before any continuation.
    const std::string marker = "a LOGIN alice {" + std::to_string(65536 - 23 - 2) + "}\r\n";
    ASSERT_EQ(marker.size(), 23u);
    const std::string literal(65536 - 23 - 2, 'p');
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed_whole(marker),
                                expect_write(continuation), feed_whole(literal + "\r\n"),
                                expect_authenticate("alice", literal, login_outcome::ok, provider_caps),
                                expect_write(logged_in("a")), expect_relay()}));
    for (std::string over : {"a LOGIN alice {65514}\r\n", "a LOGIN alice {65536}\r\n",
                             "a LOGIN alice {65536+}\r\n", "a LOGIN alice {4294967296}\r\n"}) {
        SCOPED_TRACE(over);
        EXPECT_TRUE(run_transcript(implicit_tls(),
                                   {expect_write(greeting(caps_login_allowed)), feed(over),
                                    expect_write(too_long), expect_close(session_errc::line_too_long)}));
    }
    // Lines and literals add up: two literals of 40000 octets each.
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting(caps_login_allowed)),
                         feed_whole("a LOGIN {40000+}\r\n" + std::string(40000, 'u') + " {40000+}\r\n"),
                         expect_write(too_long), expect_close(session_errc::line_too_long)}));
}

TEST(imap_server, literal_lengths_that_are_not_numbers_or_overflow_close) {
    for (std::string marker :
         {"{99999999999999999999999}", "{1a}", "{}", "{-1}", "{+}", "{18446744073709551616+}"}) {
        SCOPED_TRACE(marker);
        EXPECT_TRUE(run_transcript(implicit_tls(),
                                   {expect_write(greeting(caps_login_allowed)),
                                    feed("a LOGIN alice " + marker + "\r\n"), expect_write(invalid_literal),
                                    expect_close(session_errc::garbage)}));
    }
}

// ---- The runner's IMAP adaptation ----

TEST(imap_server, check_steps_see_the_credential_until_the_outcome) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting(caps_login_allowed)), feed("a LOGIN alice s3cret\r\n"),
                                check<server>([](server& s) {
                                    EXPECT_EQ(s.user(), "");
                                    EXPECT_EQ(s.password(), "");
                                }),
                                expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                                check<server>([](server& s) {
                                    EXPECT_EQ(s.user(), "alice");
                                    EXPECT_EQ(s.password(), "");
                                    EXPECT_FALSE(s.error());
                                }),
                                expect_write(logged_in("a")), expect_relay()}));
}

} // namespace
} // namespace mailgate::protocols::imap
