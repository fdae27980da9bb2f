// Token endpoint replies (RFC 6749 §5, RFC 8628 §3.2) parsed into tokens or into the account state an error
// leads to, and the request forms (RFC 6749 appendix B encoding, client_secret only when the registration has
// one).
#include "server/oauth/token_endpoint.hpp"

#include "protocols/common/base64.hpp"

#include <gtest/gtest.h>

using namespace mailgate;
using namespace mailgate::oauth;
using mailgate::domain::oauth_client;
using store::oauth_state;

namespace {

http_response reply(int status, std::string body) { return {status, std::move(body)}; }

token_grant grant_of(const token_outcome& o) {
    if (auto* f = std::get_if<token_failure>(&o)) {
        ADD_FAILURE() << "expected tokens, got " << f->summary();
        return {};
    }
    return std::get<token_grant>(o);
}

token_failure failure_of(const token_outcome& o) {
    if (!std::holds_alternative<token_failure>(o)) {
        ADD_FAILURE() << "expected a failure, got tokens";
        return {};
    }
    return std::get<token_failure>(o);
}

token_failure failure_of(const std::variant<device_authorization, token_failure>& o) {
    if (!std::holds_alternative<token_failure>(o)) {
        ADD_FAILURE() << "expected a failure, got a device authorization";
        return {};
    }
    return std::get<token_failure>(o);
}

device_authorization device_of(const std::variant<device_authorization, token_failure>& o) {
    if (auto* f = std::get_if<token_failure>(&o)) {
        ADD_FAILURE() << "expected a device authorization, got " << f->summary();
        return {};
    }
    return std::get<device_authorization>(o);
}

std::string base64url(std::string_view bytes) {
    auto out = protocols::base64_encode(bytes);
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

// An unsigned JWT shape with the given claims: header.payload.signature.
std::string id_token(std::string_view claims_json) {
    return base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url(claims_json) + ".c2lnbmF0dXJl";
}

std::string value_of(const form_fields& f, std::string_view key) {
    for (const auto& [k, v] : f)
        if (k == key) return v;
    return "(absent)";
}

bool has(const form_fields& f, std::string_view key) {
    for (const auto& [k, v] : f)
        if (k == key) return true;
    return false;
}

oauth_client public_client() {
    oauth_client c;
    c.name = "corp";
    c.client_id = "the-client";
    c.scope = "imap offline_access";
    c.token_url = "https://idp.example.com/token";
    return c;
}

oauth_client confidential_client() {
    auto c = public_client();
    c.client_secret = "the-secret";
    return c;
}

} // namespace

// ---- successful replies
// ------------------------------------------------------------------------------------------

TEST(oauth_token_endpoint, success_with_every_field) {
    auto g = grant_of(parse_token_reply(reply(200, R"({"access_token":"ya29.AAA","token_type":"Bearer",)"
                                                   R"("expires_in":3599,"refresh_token":"1//rt",)"
                                                   R"("scope":"https://mail.google.com/"})")));
    EXPECT_EQ(g.access_token, "ya29.AAA");
    EXPECT_EQ(g.expires_in, 3599);
    EXPECT_EQ(g.refresh_token, "1//rt");
    EXPECT_EQ(g.scope, "https://mail.google.com/");
    EXPECT_TRUE(g.identity.empty()); // no id_token
}

TEST(oauth_token_endpoint, expires_in_as_number_quoted_string_or_absent) {
    auto quoted = grant_of(
        parse_token_reply(reply(200, R"({"access_token":"a","token_type":"Bearer","expires_in":"4000"})")));
    EXPECT_EQ(quoted.expires_in, 4000);
    auto fractional = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","expires_in":120.0})")));
    EXPECT_EQ(fractional.expires_in, 120);
    auto absent = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","token_type":"Bearer"})")));
    EXPECT_EQ(absent.expires_in,
              3600); // RFC 6749 §5.1: the default is the server's; an hour is the common one
    auto garbage = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","expires_in":"soon"})")));
    EXPECT_EQ(garbage.expires_in, 3600);
}

TEST(oauth_token_endpoint, expires_in_is_clamped) {
    auto zero = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","expires_in":0})")));
    EXPECT_EQ(zero.expires_in, 1);
    auto negative = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","expires_in":-50})")));
    EXPECT_EQ(negative.expires_in, 1);
    auto year = std::int64_t(365) * 24 * 3600;
    auto huge = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","expires_in":99999999999})")));
    EXPECT_EQ(huge.expires_in, year);
    auto unsigned_huge =
        grant_of(parse_token_reply(reply(200, R"({"access_token":"a","expires_in":18446744073709551615})")));
    EXPECT_EQ(unsigned_huge.expires_in, year);
}

TEST(oauth_token_endpoint, expires_in_as_a_huge_double_is_clamped_to_the_maximum) {
    // number_of() casts a double to int64 unchecked: 1e300 is out of range, which is undefined behaviour
    // ([conv.fpint]); on x86-64 it yields INT64_MIN, clamped to 1 second, so the token is refreshed at once.
    auto huge = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","expires_in":1e300})")));
    if (huge.expires_in != std::int64_t(365) * 24 * 3600)
        FAIL() << "server/oauth/token_endpoint.cpp number_of(): static_cast<int64_t>(double) of an "
                  "out-of-range expires_in (1e300) is undefined behaviour; got expires_in="
               << huge.expires_in;
}

TEST(oauth_token_endpoint, refresh_token_absent_means_no_rotation) {
    auto g = grant_of(
        parse_token_reply(reply(200, R"({"access_token":"a","token_type":"Bearer","expires_in":3600})")));
    EXPECT_TRUE(g.refresh_token.empty());
    EXPECT_TRUE(g.scope.empty());
}

TEST(oauth_token_endpoint, id_token_email_becomes_the_identity) {
    auto token =
        id_token(R"({"iss":"https://accounts.google.com","sub":"1234567890","email":"alice@example.com"})");
    auto g = grant_of(parse_token_reply(
        reply(200, R"({"access_token":"a","token_type":"Bearer","id_token":")" + token + R"("})")));
    EXPECT_EQ(g.identity, "alice@example.com");
}

TEST(oauth_token_endpoint, id_token_falls_back_to_preferred_username_upn_and_sub) {
    // Payload lengths vary so that every base64url padding case (0, 1, 2 '=') is exercised.
    struct case_t {
        std::string claims, expected;
    } cases[] = {
        {R"({"preferred_username":"bob@contoso.com","sub":"x"})", "bob@contoso.com"},
        {R"({"upn":"carol@contoso.com","sub":"xy"})", "carol@contoso.com"},
        {R"({"sub":"AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"})",
         "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"},
        {R"({"email":"d@e.f"})", "d@e.f"},
        {R"({"email":"dd@e.f"})", "dd@e.f"},
        {R"({"email":"ddd@e.f"})", "ddd@e.f"},
        {R"({"email":"","preferred_username":"e@x"})", "e@x"}, // an empty claim is skipped
    };
    for (const auto& c : cases) {
        auto g = grant_of(parse_token_reply(
            reply(200, R"({"access_token":"a","id_token":")" + id_token(c.claims) + R"("})")));
        EXPECT_EQ(g.identity, c.expected) << c.claims;
    }
}

TEST(oauth_token_endpoint, a_broken_id_token_leaves_the_identity_empty_but_the_tokens_stand) {
    for (const std::string& bad :
         std::vector<std::string>{"not-a-jwt", "a.b", "a.!!!.c", "x." + base64url("not json") + ".y",
                                  "x." + base64url(R"(["email","a@b"])") + ".y"}) {
        auto g =
            grant_of(parse_token_reply(reply(200, R"({"access_token":"tok","id_token":")" + bad + R"("})")));
        EXPECT_EQ(g.access_token, "tok") << bad;
        EXPECT_TRUE(g.identity.empty()) << bad;
    }
}

TEST(oauth_token_endpoint, identity_and_scope_are_sanitized) {
    auto token = id_token("{\"email\":\"eve@x\\r\\nInjected: 1\"}");
    auto g = grant_of(parse_token_reply(reply(
        200, "{\"access_token\":\"a\",\"scope\":\"imap\\u0007 smtp\",\"id_token\":\"" + token + "\"}")));
    EXPECT_EQ(g.identity, "eve@x??Injected: 1");
    EXPECT_EQ(g.scope, "imap? smtp");
}

TEST(oauth_token_endpoint, lower_case_bearer_is_accepted) {
    auto g = grant_of(parse_token_reply(reply(200, R"({"access_token":"a","token_type":"bearer"})")));
    EXPECT_EQ(g.access_token, "a");
}

TEST(oauth_token_endpoint, token_type_is_case_insensitive) {
    // RFC 6749 §5.1: "The value is case insensitive."
    auto o = parse_token_reply(reply(200, R"({"access_token":"a","token_type":"BEARER"})"));
    if (!std::holds_alternative<token_grant>(o))
        FAIL() << "server/oauth/token_endpoint.cpp parse_token_reply() compares token_type with \"Bearer\" "
                  "and \"bearer\" only; RFC 6749 §5.1 says it is case insensitive, so \"BEARER\" becomes "
               << std::get<token_failure>(o).summary();
}

TEST(oauth_token_endpoint, other_token_types_are_a_config_error) {
    for (std::string type : {"MAC", "DPoP", "N_A"}) {
        auto f = failure_of(
            parse_token_reply(reply(200, R"({"access_token":"a","token_type":")" + type + R"("})")));
        EXPECT_EQ(f.state, oauth_state::config_error) << type;
        EXPECT_FALSE(f.transient());
        EXPECT_EQ(f.record.error, "unsupported_token_type");
        EXPECT_EQ(f.record.description, type);
    }
}

TEST(oauth_token_endpoint, a_200_without_access_token_is_a_failure) {
    auto f = failure_of(parse_token_reply(reply(200, R"({"token_type":"Bearer","expires_in":3600})")));
    EXPECT_EQ(f.record.error, "invalid_response");
    EXPECT_EQ(f.record.http_status, 200);
    auto empty = failure_of(parse_token_reply(reply(200, R"({"access_token":""})")));
    EXPECT_EQ(empty.record.error, "invalid_response");
    auto not_object = failure_of(parse_token_reply(reply(200, R"(["access_token","a"])")));
    EXPECT_EQ(not_object.record.error, "invalid_response");
}

TEST(oauth_token_endpoint, a_token_reply_with_many_extra_members_still_parses) {
    // The reply is parsed into an arena of 4 bytes per body byte (+4 KiB) that cannot grow; valid JSON whose
    // values need more than that (many small members) must still parse rather than read as a failure.
    // Measured: an array of 255 zeros (a 538-byte body) or an object of 290 one-digit members already
    // overflows it; a realistic 6 KB Microsoft reply (long token strings) fits.
    std::string body = R"({"access_token":"a","token_type":"Bearer","expires_in":3600,"ext":[)";
    for (int i = 0; i < 300; ++i) body += i ? ",0" : "0";
    body += "]}";
    auto o = parse_token_reply(reply(200, body));
    if (auto* f = std::get_if<token_failure>(&o))
        FAIL() << "server/oauth/token_endpoint.cpp with_json(): the fixed arena (body.size()*4+4096, "
                  "null upstream) overflows on a valid 200 reply holding a 300-element array, which is then "
                  "read as "
               << f->summary();
    EXPECT_EQ(std::get<token_grant>(o).access_token, "a");
}

// ---- error replies
// -----------------------------------------------------------------------------------------------

TEST(oauth_token_endpoint, invalid_grant_needs_consent) {
    auto f = failure_of(parse_token_reply(
        reply(400, R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})")));
    EXPECT_EQ(f.state, oauth_state::needs_consent);
    EXPECT_FALSE(f.transient());
    EXPECT_EQ(f.record.error, "invalid_grant");
    EXPECT_EQ(f.record.description, "Token has been expired or revoked.");
    EXPECT_EQ(f.record.http_status, 400);
    EXPECT_GT(f.record.at, 0);
    EXPECT_EQ(f.summary(), "invalid_grant: Token has been expired or revoked. (HTTP 400)");
}

TEST(oauth_token_endpoint, interaction_and_consent_required_need_consent) {
    for (std::string e :
         {"interaction_required", "consent_required", "login_required", "access_denied", "expired_token"}) {
        auto f = failure_of(parse_token_reply(reply(400, R"({"error":")" + e + R"("})")));
        EXPECT_EQ(f.state, oauth_state::needs_consent) << e;
        EXPECT_EQ(f.record.error, e);
    }
}

TEST(oauth_token_endpoint, client_errors_are_config_errors) {
    for (std::string e : {"invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope",
                          "invalid_request"}) {
        auto f = failure_of(
            parse_token_reply(reply(401, R"({"error":")" + e + R"(","error_description":"nope"})")));
        EXPECT_EQ(f.state, oauth_state::config_error) << e;
        EXPECT_FALSE(f.transient());
    }
}

TEST(oauth_token_endpoint, microsoft_secret_mismatch_codes_are_config_errors) {
    // AADSTS700025: a public client sent a secret; AADSTS7000218: a confidential client sent none. Both come
    // with error codes that would otherwise read differently (invalid_client, invalid_grant).
    auto public_with_secret = failure_of(parse_token_reply(reply(
        400,
        R"({"error":"invalid_client","error_description":"AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented. Trace ID: 1"})")));
    EXPECT_EQ(public_with_secret.state, oauth_state::config_error);
    auto missing_secret = failure_of(parse_token_reply(reply(
        401,
        R"({"error":"invalid_grant","error_description":"AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."})")));
    EXPECT_EQ(missing_secret.state, oauth_state::config_error);
    EXPECT_EQ(missing_secret.record.error, "invalid_grant");
    EXPECT_EQ(classify_oauth_error("invalid_grant", "AADSTS70008: The refresh token has expired", 400),
              oauth_state::needs_consent); // other AADSTS codes follow the error code
}

TEST(oauth_token_endpoint, outages_are_transient) {
    auto unavailable = failure_of(parse_token_reply(reply(503, R"({"error":"temporarily_unavailable"})")));
    EXPECT_EQ(unavailable.state, oauth_state::degraded);
    EXPECT_TRUE(unavailable.transient());
    auto throttled = failure_of(parse_token_reply(reply(429, R"({"error":"too_many_requests"})")));
    EXPECT_EQ(throttled.state, oauth_state::degraded);
    auto throttled_bare = failure_of(parse_token_reply(reply(429, "")));
    EXPECT_EQ(throttled_bare.state, oauth_state::degraded);
    EXPECT_EQ(throttled_bare.record.error, "http_429");
    auto in_400 = failure_of(parse_token_reply(reply(400, R"({"error":"temporarily_unavailable"})")));
    EXPECT_EQ(in_400.state, oauth_state::degraded);
    auto server_error = failure_of(parse_token_reply(reply(500, R"({"error":"server_error"})")));
    EXPECT_EQ(server_error.state, oauth_state::degraded);
    for (std::string e : {"slow_down", "authorization_pending"}) // device polling
        EXPECT_EQ(failure_of(parse_token_reply(reply(400, R"({"error":")" + e + R"("})"))).state,
                  oauth_state::degraded)
            << e;
}

TEST(oauth_token_endpoint, a_non_json_500_is_transient) {
    auto f = failure_of(parse_token_reply(reply(500, "<html><body>Internal Server Error</body></html>")));
    EXPECT_EQ(f.state, oauth_state::degraded);
    EXPECT_EQ(f.record.error, "http_500");
    EXPECT_EQ(f.record.http_status, 500);
    EXPECT_TRUE(f.record.description.empty());
    auto gateway = failure_of(parse_token_reply(reply(502, "Bad Gateway")));
    EXPECT_EQ(gateway.state, oauth_state::degraded);
}

TEST(oauth_token_endpoint, a_404_html_page_is_a_config_error) {
    auto f =
        failure_of(parse_token_reply(reply(404, "<!DOCTYPE html><html><title>404 Not Found</title></html>")));
    EXPECT_EQ(f.state, oauth_state::config_error); // a wrong URL does not heal by itself
    EXPECT_EQ(f.record.error, "http_404");
    auto method = failure_of(parse_token_reply(reply(405, "")));
    EXPECT_EQ(method.state, oauth_state::config_error);
}

TEST(oauth_token_endpoint, error_description_is_kept_verbatim_but_sanitized_and_capped) {
    std::string desc = "AADSTS50173: The provided grant has expired due to it being revoked.\\r\\nTrace ID: "
                       "0e7d-11\\u0000x\\t\\\"quoted\\\"";
    auto f = failure_of(
        parse_token_reply(reply(400, R"({"error":"invalid_grant","error_description":")" + desc + R"("})")));
    EXPECT_EQ(f.record.description, "AADSTS50173: The provided grant has expired due to it being "
                                    "revoked.??Trace ID: 0e7d-11?x?\"quoted\"");
    auto long_desc = std::string(2000, 'd');
    auto capped = failure_of(parse_token_reply(
        reply(400, R"({"error":"invalid_grant","error_description":")" + long_desc + R"("})")));
    EXPECT_EQ(capped.record.description, std::string(500, 'd') + "...");
    auto long_error =
        failure_of(parse_token_reply(reply(400, R"({"error":")" + std::string(300, 'e') + R"("})")));
    EXPECT_EQ(long_error.record.error, std::string(100, 'e') + "...");
    EXPECT_EQ(long_error.state, oauth_state::config_error); // an unknown error on a 400
}

TEST(oauth_token_endpoint, transport_failures_are_transient) {
    auto f = transport_failure(http_failure{"connect: Connection refused"});
    EXPECT_EQ(f.state, oauth_state::degraded);
    EXPECT_TRUE(f.transient());
    EXPECT_EQ(f.record.error, "unreachable");
    EXPECT_EQ(f.record.description, "connect: Connection refused");
    EXPECT_EQ(f.record.http_status, 0);
    EXPECT_EQ(f.summary(), "unreachable: connect: Connection refused");
}

// ---- device authorization
// ----------------------------------------------------------------------------------------

TEST(oauth_token_endpoint, device_authorization_rfc8628_reply) {
    auto d = device_of(parse_device_authorization(reply(
        200,
        R"({"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS","user_code":"WDJB-MJHT",)"
        R"("verification_uri":"https://example.com/device","verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT",)"
        R"("expires_in":1800,"interval":7})")));
    EXPECT_EQ(d.device_code, "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS");
    EXPECT_EQ(d.user_code, "WDJB-MJHT");
    EXPECT_EQ(d.verification_uri, "https://example.com/device");
    EXPECT_EQ(d.verification_uri_complete, "https://example.com/device?user_code=WDJB-MJHT");
    EXPECT_EQ(d.expires_in, 1800);
    EXPECT_EQ(d.interval, 7);
}

TEST(oauth_token_endpoint, device_authorization_old_verification_url_spelling_and_defaults) {
    auto d = device_of(parse_device_authorization(reply(
        200,
        R"({"device_code":"dc","user_code":"ABC","verification_url":"https://microsoft.com/devicelogin"})")));
    EXPECT_EQ(d.verification_uri, "https://microsoft.com/devicelogin");
    EXPECT_TRUE(d.verification_uri_complete.empty());
    EXPECT_EQ(d.interval, 5); // RFC 8628 §3.2 default
    EXPECT_EQ(d.expires_in, 900);
    auto both = device_of(parse_device_authorization(reply(
        200,
        R"({"device_code":"dc","user_code":"ABC","verification_url":"https://old","verification_uri":"https://new"})")));
    EXPECT_EQ(both.verification_uri, "https://new");
}

TEST(oauth_token_endpoint, device_authorization_clamps_interval_and_expiry) {
    auto low = device_of(parse_device_authorization(reply(
        200,
        R"({"device_code":"dc","user_code":"u","verification_uri":"https://v","interval":0,"expires_in":1})")));
    EXPECT_EQ(low.interval, 1);
    EXPECT_EQ(low.expires_in, 10);
    auto high = device_of(parse_device_authorization(reply(
        200,
        R"({"device_code":"dc","user_code":"u","verification_uri":"https://v","interval":"3600","expires_in":86400})")));
    EXPECT_EQ(high.interval, 60);
    EXPECT_EQ(high.expires_in, 3600);
}

TEST(oauth_token_endpoint, device_authorization_failures) {
    auto missing_user_code = failure_of(parse_device_authorization(reply(200, R"({"device_code":"dc"})")));
    EXPECT_EQ(missing_user_code.record.error, "invalid_response");
    auto missing_device_code = failure_of(parse_device_authorization(reply(200, R"({"user_code":"u"})")));
    EXPECT_EQ(missing_device_code.record.error, "invalid_response");
    auto unauthorized = failure_of(parse_device_authorization(reply(
        400,
        R"({"error":"unauthorized_client","error_description":"AADSTS70002: The client does not exist or is not enabled for consumers."})")));
    EXPECT_EQ(unauthorized.state, oauth_state::config_error);
    EXPECT_EQ(unauthorized.record.description,
              "AADSTS70002: The client does not exist or is not enabled for consumers.");
    auto down = failure_of(parse_device_authorization(reply(503, "Service Unavailable")));
    EXPECT_EQ(down.state, oauth_state::degraded);
    auto sanitized = device_of(
        parse_device_authorization(reply(200, "{\"device_code\":\"dc\",\"user_code\":\"AB\\r\\nCD\","
                                              "\"verification_uri\":\"https://v\\u001b[2J\"}")));
    EXPECT_EQ(sanitized.user_code, "AB??CD");
    EXPECT_EQ(sanitized.verification_uri, "https://v?[2J");
}

// ---- request forms
// -----------------------------------------------------------------------------------------------

TEST(oauth_token_endpoint, encode_form_escapes_like_rfc6749_appendix_b) {
    EXPECT_EQ(encode_form({{"a", "b"}}), "a=b");
    EXPECT_EQ(encode_form({{"scope", "imap smtp offline_access"}}), "scope=imap+smtp+offline_access");
    EXPECT_EQ(encode_form({{"k", "a&b=c/d?e#f%g+h:i@j,k;l!m$n'o(p)q*r[s]t"}}),
              "k=a%26b%3Dc%2Fd%3Fe%23f%25g%2Bh%3Ai%40j%2Ck%3Bl%21m%24n%27o%28p%29q%2Ar%5Bs%5Dt");
    EXPECT_EQ(encode_form({{"unreserved", "AZaz09-._~"}}), "unreserved=AZaz09-._~");
    EXPECT_EQ(encode_form({{"utf8", "\xc3\xa9"}, {"ctl", std::string("\r\n\0", 3)}}),
              "utf8=%C3%A9&ctl=%0D%0A%00");
    EXPECT_EQ(encode_form({{"a b", "1"}, {"empty", ""}}), "a+b=1&empty=");
    EXPECT_EQ(encode_form({{"redirect_uri", "http://127.0.0.1:8765/oauth/callback"}}),
              "redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Foauth%2Fcallback");
    EXPECT_EQ(encode_form({}), "");
}

TEST(oauth_token_endpoint, refresh_form_sends_the_secret_only_when_set) {
    auto pub = refresh_form(public_client(), "rt-1");
    EXPECT_EQ(value_of(pub, "grant_type"), "refresh_token");
    EXPECT_EQ(value_of(pub, "refresh_token"), "rt-1");
    EXPECT_EQ(value_of(pub, "client_id"), "the-client");
    EXPECT_FALSE(has(pub, "client_secret")); // Microsoft refuses a secret from a public client (AADSTS700025)
    auto conf = refresh_form(confidential_client(), "rt-1");
    EXPECT_EQ(value_of(conf, "client_secret"), "the-secret");
    EXPECT_EQ(encode_form(conf),
              "grant_type=refresh_token&refresh_token=rt-1&client_id=the-client&client_secret=the-secret");
}

TEST(oauth_token_endpoint, code_form_carries_verifier_and_redirect) {
    auto pub = code_form(public_client(), "4/0Ab", "verifier-abc", "http://127.0.0.1:9000/oauth/callback");
    EXPECT_EQ(value_of(pub, "grant_type"), "authorization_code");
    EXPECT_EQ(value_of(pub, "code"), "4/0Ab");
    EXPECT_EQ(value_of(pub, "code_verifier"), "verifier-abc");
    EXPECT_EQ(value_of(pub, "redirect_uri"), "http://127.0.0.1:9000/oauth/callback");
    EXPECT_EQ(value_of(pub, "client_id"), "the-client");
    EXPECT_FALSE(has(pub, "client_secret"));
    auto conf = code_form(confidential_client(), "c", "v", "http://127.0.0.1/cb");
    EXPECT_EQ(value_of(conf, "client_secret"), "the-secret");
}

TEST(oauth_token_endpoint, device_forms) {
    auto start = device_authorization_form(public_client());
    EXPECT_EQ(value_of(start, "scope"), "imap offline_access");
    EXPECT_EQ(value_of(start, "client_id"), "the-client");
    EXPECT_FALSE(has(start, "client_secret"));
    EXPECT_EQ(value_of(device_authorization_form(confidential_client()), "client_secret"), "the-secret");
    auto poll = device_token_form(public_client(), "dc-1");
    EXPECT_EQ(value_of(poll, "grant_type"), "urn:ietf:params:oauth:grant-type:device_code");
    EXPECT_EQ(value_of(poll, "device_code"), "dc-1");
    EXPECT_EQ(value_of(poll, "client_id"), "the-client");
    EXPECT_FALSE(has(poll, "client_secret"));
    EXPECT_EQ(value_of(device_token_form(confidential_client(), "dc-1"), "client_secret"), "the-secret");
}

TEST(oauth_token_endpoint, token_grant_wipe_clears_secrets) {
    token_grant g;
    g.access_token = "access";
    g.refresh_token = "refresh";
    g.wipe();
    EXPECT_TRUE(g.access_token.empty() || g.access_token.find_first_not_of('\0') == std::string::npos);
    EXPECT_TRUE(g.refresh_token.empty() || g.refresh_token.find_first_not_of('\0') == std::string::npos);
}
