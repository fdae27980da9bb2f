// The authorization code flow with PKCE (RFC 7636) and a loopback redirect (RFC 8252): the URL the admin
// opens and the redirected URL (or query) that comes back.
#include "server/oauth/authorization_request.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace mailgate;
using namespace mailgate::oauth;
using mailgate::domain::oauth_client;

namespace {

const std::string redirect = "http://127.0.0.1:8765/oauth/callback";

oauth_client custom_client() {
    oauth_client c;
    c.name = "corp";
    c.client_id = "client 1/ä";
    c.scope = "imap smtp offline_access";
    c.authorize_url = "https://idp.example.com/authorize";
    c.token_url = "https://idp.example.com/token";
    return c;
}

oauth_client google_client() {
    auto c = custom_client();
    c.preset = "google";
    c.client_id = "123.apps.googleusercontent.com";
    c.scope = "https://mail.google.com/";
    c.authorize_url = "https://accounts.google.com/o/oauth2/v2/auth";
    return c;
}

// Minimal form decoding, independent of the code under test.
std::string decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+')
            out += ' ';
        else if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else
            out += s[i];
    }
    return out;
}

// The query of `url` as raw (still encoded) and decoded values; a repeated key fails the test.
struct query_t {
    std::map<std::string, std::string> raw, decoded;
};
query_t query_of(const std::string& url) {
    query_t q;
    auto at = url.find('?');
    if (at == std::string::npos) {
        ADD_FAILURE() << "no query in " << url;
        return q;
    }
    std::string_view rest = std::string_view(url).substr(at + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        auto pair = rest.substr(0, amp);
        auto eq = pair.find('=');
        std::string key(pair.substr(0, eq));
        std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        EXPECT_FALSE(q.raw.contains(key)) << "repeated " << key;
        q.decoded[decode(key)] = decode(value);
        q.raw[key] = std::move(value);
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return q;
}

bool base64url_only(const std::string& s) {
    return s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           std::string::npos;
}

} // namespace

TEST(oauth_authorization_request, s256_challenge_matches_rfc7636_appendix_b) {
    // The verifier is base64url of the appendix's 32 octets (116, 24, 223, 180, ...).
    EXPECT_EQ(s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
              "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    // A second verifier, its challenge computed independently (python3 hashlib.sha256 + urlsafe_b64encode).
    EXPECT_EQ(s256_challenge("dBjftJeZ4CVP-mJ92K9vKqN3y3zp4gmVhYxI2v-NC9k"),
              "naGTZxIaQ_Cn8pXfNLHdNkD6YnycBeO7PWAHEDYsMoI");
}

TEST(oauth_authorization_request, url_carries_every_parameter) {
    auto c = custom_client();
    auto r = start_authorization(c, redirect, "");
    ASSERT_EQ(r.url.rfind("https://idp.example.com/authorize?", 0), 0u) << r.url;
    auto q = query_of(r.url);
    EXPECT_EQ(q.decoded["response_type"], "code");
    EXPECT_EQ(q.decoded["client_id"], "client 1/ä");
    EXPECT_EQ(q.raw["client_id"], "client+1%2F%C3%A4");
    EXPECT_EQ(q.decoded["redirect_uri"], redirect);
    EXPECT_EQ(q.raw["redirect_uri"], "http%3A%2F%2F127.0.0.1%3A8765%2Foauth%2Fcallback"); // encoded
    EXPECT_EQ(q.decoded["scope"], "imap smtp offline_access");
    EXPECT_EQ(q.raw["scope"], "imap+smtp+offline_access");
    EXPECT_EQ(q.decoded["state"], r.state);
    EXPECT_EQ(q.decoded["code_challenge_method"], "S256");
    EXPECT_EQ(q.decoded["code_challenge"], s256_challenge(r.code_verifier));
    EXPECT_NE(q.decoded["code_challenge"], r.code_verifier); // never the plain verifier
    EXPECT_FALSE(q.raw.contains("code_verifier"));
    EXPECT_FALSE(q.raw.contains("login_hint"));
    EXPECT_FALSE(q.raw.contains("access_type"));
    EXPECT_FALSE(q.raw.contains("prompt"));
    EXPECT_EQ(r.redirect_uri, redirect);
    EXPECT_EQ(r.url.find(r.code_verifier), std::string::npos);
}

TEST(oauth_authorization_request, login_hint_is_passed_encoded) {
    auto r = start_authorization(custom_client(), redirect, "office+scans@example.com");
    auto q = query_of(r.url);
    EXPECT_EQ(q.decoded["login_hint"], "office+scans@example.com");
    EXPECT_EQ(q.raw["login_hint"], "office%2Bscans%40example.com");
}

TEST(oauth_authorization_request, google_asks_for_offline_access_and_consent) {
    auto r = start_authorization(google_client(), redirect, "alice@gmail.com");
    auto q = query_of(r.url);
    EXPECT_EQ(q.decoded["access_type"], "offline");
    EXPECT_EQ(q.decoded["prompt"], "consent");
    EXPECT_NE(r.url.find("access_type=offline&prompt=consent"), std::string::npos) << r.url;
    EXPECT_EQ(q.decoded["scope"], "https://mail.google.com/");
}

TEST(oauth_authorization_request, an_authorize_url_with_a_query_is_extended) {
    auto c = custom_client();
    c.authorize_url = "https://idp.example.com/authorize?tenant=x";
    auto r = start_authorization(c, redirect, "");
    EXPECT_EQ(r.url.rfind("https://idp.example.com/authorize?tenant=x&response_type=code&", 0), 0u) << r.url;
}

TEST(oauth_authorization_request, each_call_has_a_fresh_state_and_verifier) {
    std::set<std::string> states, verifiers;
    for (int i = 0; i < 50; ++i) {
        auto r = start_authorization(custom_client(), redirect, "");
        EXPECT_GE(r.code_verifier.size(), 43u); // RFC 7636 §4.1
        EXPECT_LE(r.code_verifier.size(), 128u);
        EXPECT_TRUE(base64url_only(r.code_verifier)) << r.code_verifier;
        EXPECT_GE(r.state.size(), 22u); // at least 128 bits
        EXPECT_TRUE(base64url_only(r.state)) << r.state;
        states.insert(r.state);
        verifiers.insert(r.code_verifier);
        EXPECT_EQ(query_of(r.url).decoded["code_challenge"], s256_challenge(r.code_verifier));
    }
    EXPECT_EQ(states.size(), 50u);
    EXPECT_EQ(verifiers.size(), 50u);
}

TEST(oauth_authorization_request, random_token_is_unpadded_base64url) {
    for (std::size_t n : {1u, 2u, 3u, 16u, 32u, 33u}) {
        auto t = random_token(n);
        EXPECT_EQ(t.size(), (n * 4 + 2) / 3) << n;
        EXPECT_TRUE(base64url_only(t)) << t;
    }
}

TEST(oauth_authorization_request, parses_a_full_redirected_url) {
    auto r = parse_authorization_response(
        "http://127.0.0.1:8765/oauth/"
        "callback?code=4%2F0AeanS0a&scope=https%3A%2F%2Fmail.google.com%2F&state=st-1_x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, "4/0AeanS0a");
    EXPECT_EQ(r->state, "st-1_x");
    EXPECT_TRUE(r->error.empty());
    EXPECT_TRUE(r->error_description.empty());
}

TEST(oauth_authorization_request, parses_a_bare_query_and_trims_what_a_paste_adds) {
    auto bare = parse_authorization_response("code=abc&state=xyz");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->code, "abc");
    EXPECT_EQ(bare->state, "xyz");
    auto leading = parse_authorization_response("?state=s&code=c");
    ASSERT_TRUE(leading);
    EXPECT_EQ(leading->code, "c");
    EXPECT_EQ(leading->state, "s");
    auto pasted = parse_authorization_response("  http://127.0.0.1/cb?code=abc&state=xyz \r\n");
    ASSERT_TRUE(pasted);
    EXPECT_EQ(pasted->code, "abc");
    EXPECT_EQ(pasted->state, "xyz");
}

TEST(oauth_authorization_request, decodes_plus_and_percent_escapes) {
    auto r = parse_authorization_response("?code=a%2Bb+c%3d%3D&state=%7Bx%7D&extra&=v");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, "a+b c==");
    EXPECT_EQ(r->state, "{x}");
    auto broken = parse_authorization_response("code=50%&state=%zz%4");
    ASSERT_TRUE(broken);
    EXPECT_EQ(broken->code, "50%"); // a broken escape stays as it is
    EXPECT_EQ(broken->state, "%zz%4");
    auto at_end = parse_authorization_response("code=%41");
    ASSERT_TRUE(at_end);
    EXPECT_EQ(at_end->code, "A");
}

TEST(oauth_authorization_request, reads_a_provider_refusal) {
    auto r = parse_authorization_response("http://127.0.0.1:8765/oauth/callback?error=access_denied&"
                                          "error_description=The+user+denied+access%0D%0Aevil&state=s1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, "access_denied");
    EXPECT_EQ(r->error_description, "The user denied access??evil"); // decoded, then sanitized
    EXPECT_EQ(r->state, "s1");
    EXPECT_TRUE(r->code.empty());
}

TEST(oauth_authorization_request, neither_code_nor_error_is_nullopt) {
    EXPECT_FALSE(parse_authorization_response("http://127.0.0.1:8765/oauth/callback"));
    EXPECT_FALSE(parse_authorization_response("http://127.0.0.1:8765/oauth/callback?state=only"));
    EXPECT_FALSE(parse_authorization_response(""));
    EXPECT_FALSE(parse_authorization_response("   \r\n"));
    EXPECT_FALSE(parse_authorization_response("?code=&state=s")); // an empty code is no code
    EXPECT_FALSE(parse_authorization_response("hello world"));
}

TEST(oauth_authorization_request, the_fragment_is_ignored) {
    auto r = parse_authorization_response("http://127.0.0.1/cb?code=abc&state=s#code=evil&state=other");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, "abc");
    EXPECT_EQ(r->state, "s");
    auto state_then_fragment = parse_authorization_response("http://127.0.0.1/cb?code=abc&state=s#_=_");
    ASSERT_TRUE(state_then_fragment);
    EXPECT_EQ(state_then_fragment->state, "s");
    // Only a fragment: the code in it is not taken (the loopback redirect sends a query, RFC 6749 §4.1.2).
    EXPECT_FALSE(parse_authorization_response("http://127.0.0.1/cb#code=abc&state=s"));
}

TEST(oauth_authorization_request, round_trip_with_what_start_authorization_made) {
    auto req = start_authorization(custom_client(), redirect, "");
    auto r = parse_authorization_response(redirect + "?code=the-code&state=" + req.state);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->state, req.state);
    EXPECT_EQ(r->code, "the-code");
}
