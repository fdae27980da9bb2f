// PKCE and the authorization URL.
#include "server/oauth/authorization_request.hpp"

#include "protocols/common/base64.hpp"
#include "protocols/common/upstream_codec.hpp"
#include "server/common/query_string.hpp"
#include "server/oauth/https_post.hpp"
#include "server/store/crypto.hpp"

#include <openssl/evp.h>

namespace mailgate::oauth {
namespace {

std::string base64url(std::string_view bytes) {
    auto out = protocols::base64_encode(bytes);
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

} // namespace

std::string random_token(std::size_t n) {
    auto bytes = store::random_bytes(n);
    auto out = base64url(bytes);
    store::wipe(bytes);
    return out;
}

std::string s256_challenge(const std::string& verifier) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(verifier.data(), verifier.size(), digest, &size, EVP_sha256(), nullptr);
    return base64url(std::string_view(reinterpret_cast<const char*>(digest), size));
}

authorization_request start_authorization(const domain::oauth_client& c, const std::string& redirect_uri,
                                          const std::string& login_hint) {
    authorization_request r;
    r.state = random_token(24);
    r.code_verifier = random_token(48); // 64 characters, within RFC 7636's 43..128
    r.redirect_uri = redirect_uri;
    form_fields query{{"response_type", "code"},
                      {"client_id", c.client_id},
                      {"redirect_uri", redirect_uri},
                      {"scope", c.scope},
                      {"state", r.state},
                      {"code_challenge", s256_challenge(r.code_verifier)},
                      {"code_challenge_method", "S256"}};
    if (!login_hint.empty()) query.emplace_back("login_hint", login_hint);
    // Google issues a refresh token only for offline access, and again only when consent is asked for.
    if (c.preset == "google") {
        query.emplace_back("access_type", "offline");
        query.emplace_back("prompt", "consent");
    }
    r.url =
        c.authorize_url + (c.authorize_url.find('?') == std::string::npos ? "?" : "&") + encode_form(query);
    return r;
}

std::optional<authorization_response> parse_authorization_response(std::string_view text) {
    auto trimmed = text;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r' || trimmed.back() == ' '))
        trimmed.remove_suffix(1);
    while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
    std::string query;
    if (auto q = trimmed.find('?'); q != std::string_view::npos)
        query = std::string(trimmed.substr(q + 1));
    else
        query = std::string(trimmed);
    if (auto hash = query.find('#'); hash != std::string::npos) query.resize(hash);
    authorization_response out;
    for (auto& [key, value] : parse_query(query)) {
        if (key == "code")
            out.code = std::move(value);
        else if (key == "state")
            out.state = std::move(value);
        else if (key == "error")
            out.error = protocols::sanitize_peer_text(value, 100);
        else if (key == "error_description")
            out.error_description = protocols::sanitize_peer_text(value, 500);
    }
    if (out.code.empty() && out.error.empty()) return std::nullopt;
    return out;
}

} // namespace mailgate::oauth
