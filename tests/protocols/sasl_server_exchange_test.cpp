// sasl::server_exchange: the server side of PLAIN (RFC 4616) and LOGIN shared by the POP3, IMAP and SMTP
// server codecs: message layouts, LOGIN stages, "=" as an empty initial response, "*" cancels, strict base64.
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

TEST(sasl_parse_mechanism, plain_and_login_in_any_case_only) {
    EXPECT_EQ(parse_mechanism("PLAIN"), mechanism::plain);
    EXPECT_EQ(parse_mechanism("plain"), mechanism::plain);
    EXPECT_EQ(parse_mechanism("Login"), mechanism::login);
    EXPECT_EQ(parse_mechanism("CRAM-MD5"), std::nullopt);
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
    EXPECT_EQ(x.start(mechanism::plain, "Ym9iAGFsaWNlAHMzY3JldA=="), result::failed); // "bob\0alice\0s3cret"
    expect_empty_credential(x);
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

} // namespace
} // namespace mailgate::protocols::sasl
