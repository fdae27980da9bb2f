// IMAP server codec: a synchronizing literal is invited with "+" only for a command that can still succeed
// (RFC 9051 §7.5); one the gateway refuses anyway is refused in place of the "+", so that the client never
// sends the literal. Each transcript runs whole, split at every offset and byte by byte.
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

const std::string base_caps = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE";
const std::string greeting_tls =
    "* OK [CAPABILITY " + base_caps + " AUTH=PLAIN AUTH=LOGIN] mailgate IMAP ready\r\n";
const std::string greeting_starttls =
    "* OK [CAPABILITY " + base_caps + " STARTTLS LOGINDISABLED] mailgate IMAP ready\r\n";
const std::string continuation = "+ Ready for literal data\r\n";
const std::string invalid_tag = "* BAD Invalid tag\r\n";
const std::string privacy_required =
    " NO [PRIVACYREQUIRED] Plaintext login is not allowed from your network: use STARTTLS or IMAPS\r\n";
const std::string login_needs = " BAD LOGIN needs a user name and a password\r\n";
const std::vector<std::string> provider_caps = {"IMAP4rev1", "IDLE"};

server_codec_factory implicit_tls() { return make_server_codec<server>(server_options{.tls_active = true}); }
server_codec_factory starttls_port() {
    return make_server_codec<server>(server_options{.starttls_offered = true});
}

steps operator+(steps a, const steps& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// The session is still usable after the refusal: a NOOP is answered and a login goes through.
steps session_goes_on() {
    return {feed("n NOOP\r\n"),
            expect_write("n OK NOOP completed\r\n"),
            feed("l LOGIN alice s3cret\r\n"),
            expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
            expect_write("l OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"),
            expect_relay()};
}

TEST(imap_server_literal, login_with_an_invalid_tag_is_refused_before_the_literal) {
    // On a connection where login is allowed, the tag alone dooms the command: untagged BAD, no "+".
    for (std::string line : {"+ LOGIN {5}", "a+ LOGIN alice {6}", "* LOGIN {5}", "a{1} LOGIN alice {6}",
                             "\"a\" LOGIN alice {6}", "(a LOGIN alice {6}", "a% AUTHENTICATE PLAIN {20}"}) {
        SCOPED_TRACE(line);
        EXPECT_TRUE(run_transcript(implicit_tls(), steps{expect_write(greeting_tls), feed(line + "\r\n"),
                                                         expect_write(invalid_tag)} +
                                                       session_goes_on()));
    }
    // Where plaintext login is refused too: still the tag's untagged BAD, as on_command would answer.
    EXPECT_TRUE(
        run_transcript(starttls_port(), {expect_write(greeting_starttls), feed("+ LOGIN alice {6}\r\n"),
                                         expect_write(invalid_tag), feed("n NOOP\r\n"),
                                         expect_write("n OK NOOP completed\r\n")}));
}

TEST(imap_server_literal, control_bytes_in_the_tag_close_before_the_literal) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting_tls), feed("a\x01 LOGIN alice {6}\r\n"),
                                                expect_close(session_errc::garbage)}));
}

TEST(imap_server_literal, login_bound_to_fail_on_its_arguments_is_refused_before_the_literal) {
    // Three arguments already, an empty user, a malformed argument: the literal cannot save any of them.
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        steps{expect_write(greeting_tls), feed("a LOGIN alice s3cret {5}\r\n"),
              expect_write("a" + login_needs), feed("b LOGIN \"\" {6}\r\n"), expect_write("b" + login_needs),
              feed("c LOGIN al%ce {6}\r\n"), expect_write("c BAD Invalid arguments\r\n"),
              feed("d LOGIN \"al\\ice\" {6}\r\n"), expect_write("d BAD Invalid arguments\r\n"),
              // After a first literal: the second makes three arguments.
              feed("e LOGIN {5}\r\n"), expect_write(continuation), feed("alice s3cret {3}\r\n"),
              expect_write("e" + login_needs)} +
            session_goes_on()));
}

TEST(imap_server_literal, authenticate_bound_to_fail_is_refused_before_the_literal) {
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               steps{expect_write(greeting_tls), feed("a AUTHENTICATE CRAM-MD5 {10}\r\n"),
                                     expect_write("a NO [CANNOT] Unsupported authentication mechanism\r\n"),
                                     feed("b AUTHENTICATE PLAIN xyz {4}\r\n"),
                                     expect_write("b BAD AUTHENTICATE needs a mechanism\r\n")} +
                                   session_goes_on()));
    // Plaintext: an unsupported mechanism gets CANNOT (as without a literal), the others PRIVACYREQUIRED.
    EXPECT_TRUE(run_transcript(starttls_port(),
                               {expect_write(greeting_starttls), feed("a AUTHENTICATE CRAM-MD5 {10}\r\n"),
                                expect_write("a NO [CANNOT] Unsupported authentication mechanism\r\n"),
                                feed("b AUTHENTICATE PLAIN {20}\r\n"), expect_write("b" + privacy_required),
                                feed("c AUTHENTICATE {5}\r\n"), expect_write("c" + privacy_required)}));
}

TEST(imap_server_literal, commands_that_cannot_run_before_login_are_refused_before_the_literal) {
    const std::string not_before_login = " BAD Command unknown or not valid before login\r\n";
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               steps{expect_write(greeting_tls), feed("a SELECT {5}\r\n"),
                                     expect_write("a" + not_before_login), feed("b APPEND INBOX {100}\r\n"),
                                     expect_write("b" + not_before_login), feed("c STARTTLS {3}\r\n"),
                                     expect_write("c BAD TLS is already active\r\n")} +
                                   session_goes_on()));
    EXPECT_TRUE(run_transcript(
        make_server_codec<server>(server_options{.plaintext_login_allowed = true}),
        {expect_write("* OK [CAPABILITY " + base_caps + " AUTH=PLAIN AUTH=LOGIN] mailgate IMAP ready\r\n"),
         feed("c STARTTLS {3}\r\n"), expect_write("c BAD STARTTLS not available\r\n")}));
}

TEST(imap_server_literal, commands_that_can_succeed_still_get_the_continuation) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        {expect_write(greeting_tls), feed("a ID (\"name\" {5}\r\n"), expect_write(continuation),
         feed("mutt)\r\n"),
         expect_write("* ID (\"name\" \"mailgate\" \"version\" \"0\")\r\n"
                      "a OK ID completed\r\n"),
         feed("b AUTHENTICATE PLAIN {20}\r\n"), expect_write(continuation), feed("AGFsaWNlAHMzY3JldA==\r\n"),
         expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
         expect_write("b OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"), expect_relay()}));
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting_tls), feed("a LOGIN {5}\r\n"), expect_write(continuation),
                         feed("alice {6}\r\n"), expect_write(continuation), feed("s3cret\r\n"),
                         expect_authenticate("alice", "s3cret", login_outcome::ok, provider_caps),
                         expect_write("a OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"), expect_relay()}));
}

TEST(imap_server_literal, refused_literals_leave_no_password_behind) {
    // The refused command's bytes are wiped from the input; what follows is parsed afresh.
    EXPECT_TRUE(
        run_transcript(starttls_port(), {expect_write(greeting_starttls), feed("a LOGIN alice {6}\r\n"),
                                         expect_write("a" + privacy_required),
                                         check<server>([](server& s) { EXPECT_EQ(s.password(), ""); }),
                                         feed("b NOOP\r\n"), expect_write("b OK NOOP completed\r\n")}));
}

} // namespace
TEST(imap_server_literal, nul_in_a_literal_closes_the_session) {
    // Found by the fuzzer: a literal is CHAR8 (RFC 9051 §9), so NUL must not reach the credential.
    for (std::string line : {std::string("a1 LOGIN {5+}\r\nal\0ce s3cret\r\n", 29),
                             std::string("a1 LOGIN alice {6+}\r\ns3\0ret\r\n", 29)}) {
        SCOPED_TRACE(line);
        EXPECT_TRUE(run_transcript(implicit_tls(), steps{expect_write(greeting_tls), feed(line),
                                                         expect_write("* BAD NUL in a literal\r\n"),
                                                         expect_close(session_errc::garbage)}));
    }
}

} // namespace mailgate::protocols::imap
