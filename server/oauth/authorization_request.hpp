// The authorization code flow with PKCE S256 (RFC 7636) and a loopback redirect (RFC 8252 §7.3): the URL the admin
// opens, and the redirected URL that comes back (by the gateway's callback or pasted by the admin).
#pragma once

#include "server/domain/oauth_client.hpp"

#include <optional>
#include <string>

namespace mailgate::oauth {

struct authorization_request {
    std::string state;         // unguessable; bound to whoever started the flow
    std::string code_verifier; // a secret until the code is exchanged
    std::string redirect_uri;  // http://127.0.0.1:PORT/oauth/callback
    std::string url;           // what the admin's browser opens
};

// `login_hint`: the account's remote user, so the provider preselects it.
authorization_request start_authorization(const domain::oauth_client& c, const std::string& redirect_uri,
                                          const std::string& login_hint);

struct authorization_response {
    std::string code;
    std::string state;
    std::string error; // the provider refused (access_denied, ...)
    std::string error_description;
};

// Reads ?code=...&state=... (or ?error=...) from a redirected URL or just its query; nullopt when neither is there.
std::optional<authorization_response> parse_authorization_response(std::string_view url_or_query);

// base64url without padding of `n` random bytes.
std::string random_token(std::size_t n);
// BASE64URL(SHA256(verifier)).
std::string s256_challenge(const std::string& verifier);

} // namespace mailgate::oauth
