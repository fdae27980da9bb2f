// The OAuth2 token and device-authorization endpoints (RFC 6749, RFC 8628, RFC 7636): request forms, and replies
// parsed into tokens or an error classified into the account state it leads to.
#pragma once

#include "server/domain/oauth_client.hpp"
#include "server/oauth/https_post.hpp"
#include "server/store/oauth_grant.hpp"

#include <cstdint>
#include <string>
#include <variant>

namespace mailgate::oauth {

// Secrets inside: wipe() when done.
struct token_grant {
    std::string access_token;
    std::int64_t expires_in = 3600; // seconds
    std::string refresh_token;      // empty: not rotated (keep the old one)
    std::string scope;
    std::string identity; // from the id_token (email, preferred_username, upn, sub) when one came
    void wipe();
};

struct token_failure {
    store::oauth_state state =
        store::oauth_state::degraded; // degraded: transient; needs_consent; config_error
    store::oauth_error_record record; // error code, description verbatim, HTTP status
    bool transient() const { return state == store::oauth_state::degraded; }
    std::string summary() const; // "invalid_grant: AADSTS70008 ... (HTTP 400)"
};

using token_outcome = std::variant<token_grant, token_failure>;

struct device_authorization {
    std::string device_code; // a secret for the poller
    std::string user_code;
    std::string verification_uri;
    std::string verification_uri_complete;
    std::int64_t expires_in = 900;
    std::int64_t interval = 5;
};

// Which state an OAuth error leads to (RFC 6749 §5.2, OIDC, Microsoft's AADSTS codes).
store::oauth_state classify_oauth_error(std::string_view error, std::string_view description,
                                        int http_status);

form_fields refresh_form(const domain::oauth_client& c, std::string refresh_token);
form_fields code_form(const domain::oauth_client& c, std::string code, const std::string& verifier,
                      const std::string& redirect_uri);
form_fields device_authorization_form(const domain::oauth_client& c);
form_fields device_token_form(const domain::oauth_client& c, const std::string& device_code);

token_outcome parse_token_reply(const http_response& reply);
std::variant<device_authorization, token_failure> parse_device_authorization(const http_response& reply);
token_failure transport_failure(const http_failure& f);

// POSTs a form to the client's endpoint and parses the reply; the form is wiped.
boost::asio::awaitable<token_outcome> request_tokens(const std::string& url, form_fields form,
                                                     boost::asio::ssl::context& tls,
                                                     std::chrono::seconds timeout);

} // namespace mailgate::oauth
