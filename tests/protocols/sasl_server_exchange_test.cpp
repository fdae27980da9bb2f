// sasl::server_exchange: the server side of PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195) shared by the POP3, IMAP and SMTP
// server codecs: message layouts, LOGIN stages, "=" as an empty initial response, "*" cancels, strict base64.
// Also the client side's bearer messages (XOAUTH2, OAUTHBEARER of RFC 7628) byte for byte.
#include "protocols/common/base64.hpp"
#include "protocols/sasl/client_mechanisms.hpp"
#include "protocols/sasl/server_exchange.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>

namespace mailgate::protocols::sasl {
namespace {

using result = server_exchange::result;

constexpr std::string_view plain_alice = "AGFsaWNlAHMzY3JldA=="; // "\0alice\0s3cret"
constexpr std::string_view b64_alice = "YWxpY2U=";
constexpr std::string_view b64_s3cret = "czNjcmV0";
constexpr std::string_view username_challenge = "VXNlcm5hbWU6"; // "Username:"
constexpr std::string_view password_challenge = "UGFzc3dvcmQ6"; // "Password:"

void expect_empty_credential(const server_exchange& x) {
    EXPECT_EQ(x.user(), "");
    EXPECT_EQ(x.password(), "");
}

TEST(sasl_parse_mechanism, known_names_in_any_case_only) {
    EXPECT_EQ(parse_mechanism("PLAIN"), mechanism::plain);
    EXPECT_EQ(parse_mechanism("plain"), mechanism::plain);
    EXPECT_EQ(parse_mechanism("Login"), mechanism::login);
    EXPECT_EQ(parse_mechanism("cram-md5"), mechanism::cram_md5);
    EXPECT_EQ(parse_mechanism("CRAM-MD"), std::nullopt);
    EXPECT_EQ(parse_mechanism("NTLM"), std::nullopt);
    EXPECT_EQ(parse_mechanism("PLAINX"), std::nullopt);
    EXPECT_EQ(parse_mechanism("PLAI"), std::nullopt);
    EXPECT_EQ(parse_mechanism(""), std::nullopt);
}

TEST(sasl_plain, initial_response_without_authzid) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, plain_alice), result::done);
    EXPECT_EQ(x.user(), "alice");
    EXPECT_EQ(x.password(), "s3cret");
}

TEST(sasl_plain, authzid_equal_to_authcid_is_accepted) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, "YWxpY2UAYWxpY2UAczNjcmV0"), result::done); // "alice\0alice\0s3cret"
    EXPECT_EQ(x.user(), "alice");
    EXPECT_EQ(x.password(), "s3cret");
}

TEST(sasl_plain, authzid_for_someone_else_is_refused) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, "Ym9iAGFsaWNlAHMzY3JldA=="),
              result::not_authorized); // "bob\0alice\0s3cret"
    expect_empty_credential(x);
    // The same name in another case is the same user.
    EXPECT_EQ(x.start(mechanism::plain, base64_encode(std::string("Alice\0alice\0s3cret", 18))),
              result::done);
}

TEST(sasl_plain, password_keeps_spaces) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, "AGFsaWNlAHBhIHNzIHdvcmQ="), result::done); // "\0alice\0pa ss word"
    EXPECT_EQ(x.password(), "pa ss word");
}

TEST(sasl_plain, wrong_layouts_fail) {
    for (std::string_view b64 : {
             "YWxpY2UAczNjcmV0",     // "alice\0s3cret": one NUL
             "YWxpY2U=",             // "alice": no NUL
             "AABzM2NyZXQ=",         // "\0\0s3cret": empty authcid
             "AGFsaWNlAHMzY3JldAB4", // "\0alice\0s3cret\0x": a third NUL
         }) {
        SCOPED_TRACE(b64);
        server_exchange x;
        EXPECT_EQ(x.start(mechanism::plain, b64), result::failed);
        expect_empty_credential(x);
    }
}

TEST(sasl_plain, bad_base64_fails) {
    for (std::string_view b64 :
         {"!!!!", "AGFsaWNlAHMzY3JldA", "AGFsaWNlAHMzY3JldA= =", " AGFsaWNlAHMzY3JldA=="}) {
        SCOPED_TRACE(b64);
        server_exchange x;
        EXPECT_EQ(x.start(mechanism::plain, b64), result::failed);
        expect_empty_credential(x);
    }
}

TEST(sasl_plain, without_initial_response_sends_an_empty_challenge_then_takes_the_response) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, std::nullopt), result::challenge);
    EXPECT_EQ(x.challenge(), "");
    EXPECT_EQ(x.step(plain_alice), result::done);
    EXPECT_EQ(x.user(), "alice");
    EXPECT_EQ(x.password(), "s3cret");
}

TEST(sasl_plain, equals_sign_is_an_empty_initial_response_which_has_no_valid_layout) {
    // "=" is decoded as zero octets (RFC 5034 §4), not as base64 text; PLAIN needs two NULs, so it fails.
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, "="), result::failed);
    expect_empty_credential(x);
}

TEST(sasl_plain, star_cancels) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, std::nullopt), result::challenge);
    EXPECT_EQ(x.step("*"), result::cancelled);
    expect_empty_credential(x);
}

TEST(sasl_login, asks_for_user_then_password) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::login, std::nullopt), result::challenge);
    EXPECT_EQ(x.challenge(), username_challenge);
    EXPECT_EQ(x.step(b64_alice), result::challenge);
    EXPECT_EQ(x.challenge(), password_challenge);
    EXPECT_EQ(x.step(b64_s3cret), result::done);
    EXPECT_EQ(x.user(), "alice");
    EXPECT_EQ(x.password(), "s3cret");
}

TEST(sasl_login, initial_response_is_the_user_name) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::login, b64_alice), result::challenge);
    EXPECT_EQ(x.challenge(), password_challenge);
    EXPECT_EQ(x.step(b64_s3cret), result::done);
    EXPECT_EQ(x.user(), "alice");
    EXPECT_EQ(x.password(), "s3cret");
}

TEST(sasl_login, empty_user_name_fails_whether_as_equals_initial_response_or_as_an_empty_line) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::login, "="), result::failed);
    EXPECT_EQ(x.user(), "");

    EXPECT_EQ(x.start(mechanism::login, std::nullopt), result::challenge);
    EXPECT_EQ(x.step(""), result::failed);
    EXPECT_EQ(x.user(), "");
}

TEST(sasl_login, empty_password_line_is_an_empty_password) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::login, b64_alice), result::challenge);
    EXPECT_EQ(x.step(""), result::done);
    EXPECT_EQ(x.user(), "alice");
    EXPECT_EQ(x.password(), "");
}

TEST(sasl_login, nul_in_user_or_password_is_refused) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::login, std::nullopt), result::challenge);
    EXPECT_EQ(x.step("YWwAaWNl"), result::failed); // "al\0ice"
    expect_empty_credential(x);

    EXPECT_EQ(x.start(mechanism::login, "YWwAaWNl"), result::failed);
    expect_empty_credential(x);

    EXPECT_EQ(x.start(mechanism::login, b64_alice), result::challenge);
    EXPECT_EQ(x.step("czMAY3JldA=="), result::failed); // "s3\0cret"
    expect_empty_credential(x);
}

TEST(sasl_login, bad_base64_fails_at_either_stage) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::login, std::nullopt), result::challenge);
    EXPECT_EQ(x.step("YWxpY2U"), result::failed);

    EXPECT_EQ(x.start(mechanism::login, b64_alice), result::challenge);
    EXPECT_EQ(x.step("czNjcmV0="), result::failed);
    expect_empty_credential(x);
}

TEST(sasl_login, star_cancels_at_either_stage) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::login, std::nullopt), result::challenge);
    EXPECT_EQ(x.step("*"), result::cancelled);
    expect_empty_credential(x);

    EXPECT_EQ(x.start(mechanism::login, b64_alice), result::challenge);
    EXPECT_EQ(x.step("*"), result::cancelled);
    expect_empty_credential(x);
}

TEST(sasl_exchange, restart_forgets_the_previous_exchange) {
    server_exchange x;
    // A LOGIN abandoned after the user name, then PLAIN: the LOGIN stage must not leak into the new exchange.
    EXPECT_EQ(x.start(mechanism::login, b64_alice), result::challenge);
    EXPECT_EQ(x.start(mechanism::plain, std::nullopt), result::challenge);
    EXPECT_EQ(x.challenge(), "");
    EXPECT_EQ(x.step("AGJvYgBodW50ZXIy"), result::done); // "\0bob\0hunter2"
    EXPECT_EQ(x.user(), "bob");
    EXPECT_EQ(x.password(), "hunter2");

    // And a new LOGIN starts again at the user name.
    EXPECT_EQ(x.start(mechanism::login, std::nullopt), result::challenge);
    EXPECT_EQ(x.challenge(), username_challenge);
    expect_empty_credential(x);
}

TEST(sasl_exchange, clear_forgets_the_credential) {
    server_exchange x;
    EXPECT_EQ(x.start(mechanism::plain, plain_alice), result::done);
    x.clear();
    expect_empty_credential(x);
    EXPECT_EQ(x.challenge(), "");
}

// ---- Client side: the bearer messages

std::string decoded(const std::optional<std::string>& b64) {
    EXPECT_TRUE(b64.has_value());
    auto raw = b64 ? base64_decode(*b64) : std::nullopt;
    EXPECT_TRUE(raw.has_value());
    return raw.value_or("");
}

TEST(sasl_client_bearer, xoauth2_matches_googles_documented_example) {
    EXPECT_EQ(
        xoauth2_initial_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRH"
        "RXVZMjl0Q2cBAQ==");
}

// CRAM-MD5 (RFC 2195): the server's challenge first, then "user SP digest" in base64.
TEST(sasl_cram_md5, the_rfc_2195_exchange_ends_with_user_digest_and_the_challenge) {
    const std::string challenge = "<1896.697170952@postoffice.reston.mci.net>";
    server_exchange x;
    ASSERT_EQ(x.start(mechanism::cram_md5, std::nullopt, challenge), result::challenge);
    EXPECT_EQ(x.challenge(), base64_encode(challenge));
    ASSERT_EQ(x.step(base64_encode("tim B913A602C7EDA7A495B4E6E7334D3890")), result::done);
    EXPECT_EQ(x.user(), "tim");
    EXPECT_EQ(x.password(), "b913a602c7eda7a495b4e6e7334d3890");
    EXPECT_EQ(x.proof().kind, proof_kind::cram_md5);
    EXPECT_EQ(x.proof().challenge, challenge);
    x.clear();
    EXPECT_EQ(x.proof().kind, proof_kind::password);
    expect_empty_credential(x);
}

TEST(sasl_cram_md5, a_user_name_may_hold_spaces_and_backslashes) {
    server_exchange x;
    ASSERT_EQ(x.start(mechanism::cram_md5, std::nullopt, "<1.2@gw>"), result::challenge);
    ASSERT_EQ(x.step(base64_encode("LAN\\tim smith b913a602c7eda7a495b4e6e7334d3890")), result::done);
    EXPECT_EQ(x.user(), "LAN\\tim smith");
}

TEST(sasl_cram_md5, malformed_answers_and_initial_responses_fail) {
    const std::string digest = "b913a602c7eda7a495b4e6e7334d3890";
    for (const std::string& answer : std::vector<std::string>{
             "tim", "tim " + digest.substr(1), " " + digest, digest, "tim " + digest + " ",
             std::string("tim\0x ", 6) + digest, "tim zz13a602c7eda7a495b4e6e7334d3890"}) {
        SCOPED_TRACE(answer);
        server_exchange x;
        ASSERT_EQ(x.start(mechanism::cram_md5, std::nullopt, "<1.2@gw>"), result::challenge);
        EXPECT_EQ(x.step(base64_encode(answer)), result::failed);
        expect_empty_credential(x);
    }
    server_exchange x;
    ASSERT_EQ(x.start(mechanism::cram_md5, std::nullopt, "<1.2@gw>"), result::challenge);
    EXPECT_EQ(x.step("!!!!"), result::failed); // not base64
    EXPECT_EQ(x.start(mechanism::cram_md5, base64_encode("tim " + digest), "<1.2@gw>"), result::failed);
    EXPECT_EQ(x.start(mechanism::cram_md5, std::nullopt, ""), result::failed); // no challenge to answer
    ASSERT_EQ(x.start(mechanism::cram_md5, std::nullopt, "<1.2@gw>"), result::challenge);
    EXPECT_EQ(x.step("*"), result::cancelled);
}

TEST(sasl_client_bearer, oauthbearer_matches_the_rfc_7628_example) {
    // RFC 7628 §4.1: no authzid, host and port given.
    EXPECT_EQ(
        oauthbearer_initial_response("", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com",
                                     143),
        "biwsAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJo"
        "ZG1semRHRXVZMjl0Q2c9PQEB");
}

TEST(sasl_client_bearer, oauthbearer_escapes_the_saslname_and_leaves_out_unknown_host_and_port) {
    // RFC 5801 §4: ',' is "=2C" and '=' is "=3D" in the authzid; other bytes (8-bit included) as they are.
    EXPECT_EQ(decoded(oauthbearer_initial_response("a,b=c@ex,ample.org", "tok", "imap.example.org", 993)),
              "n,a=a=2Cb=3Dc@ex=2Cample.org,\x01host=imap.example.org\x01port=993\x01"
              "auth=Bearer tok\x01\x01");
    EXPECT_EQ(decoded(oauthbearer_initial_response("j\xc3\xbcrgen", "tok", "", 0)),
              "n,a=j\xc3\xbcrgen,\x01"
              "auth=Bearer tok\x01\x01");
    EXPECT_EQ(decoded(oauthbearer_initial_response("u", "tok", "mx.example.org", 0)),
              "n,a=u,\x01host=mx.example.org\x01"
              "auth=Bearer tok\x01\x01");
    EXPECT_EQ(decoded(oauthbearer_initial_response("u", "tok", "", 587)), "n,a=u,\x01port=587\x01"
                                                                          "auth=Bearer tok\x01\x01");
    EXPECT_EQ(decoded(oauthbearer_initial_response("==,,", "t", "", 0)), "n,a==3D=3D=2C=2C,\x01"
                                                                         "auth=Bearer t\x01\x01");
}

TEST(sasl_client_bearer, xoauth2_keeps_the_user_as_it_is) {
    // XOAUTH2 has no escaping: ',' and '=' are ordinary bytes of the user's value.
    EXPECT_EQ(decoded(xoauth2_initial_response("a,b=c", "tok")), "user=a,b=c\x01"
                                                                 "auth=Bearer tok\x01\x01");
}

TEST(sasl_client_bearer, separator_and_line_bytes_are_refused_in_every_field) {
    for (std::string_view bad : {std::string_view("\x01"), std::string_view("\r"), std::string_view("\n"),
                                 std::string_view("\0", 1)}) {
        SCOPED_TRACE(static_cast<int>(bad[0]));
        const std::string with = "ab" + std::string(bad) + "cd";
        EXPECT_EQ(xoauth2_initial_response(with, "token"), std::nullopt);
        EXPECT_EQ(xoauth2_initial_response("user", with), std::nullopt);
        EXPECT_EQ(oauthbearer_initial_response(with, "token", "host", 1), std::nullopt);
        EXPECT_EQ(oauthbearer_initial_response("user", with, "host", 1), std::nullopt);
        EXPECT_EQ(oauthbearer_initial_response("user", "token", with, 1), std::nullopt);
    }
}

TEST(sasl_client_bearer, error_answers) {
    // RFC 7628 §3.2.3: the client answers the server's error report with a single %x01.
    EXPECT_EQ(base64_decode(oauthbearer_error_answer), std::string("\x01"));
    EXPECT_EQ(xoauth2_error_answer, "");
}

} // namespace
} // namespace mailgate::protocols::sasl
