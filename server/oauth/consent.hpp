// Obtaining an account's first tokens (or new ones after needs_consent): the device authorization grant (RFC 8628)
// and the authorization code exchange with PKCE. Both store the tokens with the consent facts (who, scopes, when);
// a running gateway sees the new generation at its next login. Shared by the CLI and the admin page.
#pragma once

#include "server/oauth/token_endpoint.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <variant>

namespace mailgate::oauth {

struct consent_result {
    bool ok = false;
    std::string identity; // who consented, when the provider said
    std::string scopes;
    std::int64_t expires_in = 0;
    std::optional<token_failure> failure;
    std::string message() const; // one line for the CLI and the page; never a token
};

// Step 1 of the device flow: the codes to show.
boost::asio::awaitable<std::variant<device_authorization, token_failure>>
begin_device_consent(const domain::oauth_client& client, boost::asio::ssl::context& tls,
                     std::chrono::seconds timeout);

// Step 2: polls honouring interval and slow_down until the user approves, refuses, or the code expires;
// `cancelled` is asked before each poll. Stores the tokens on success.
boost::asio::awaitable<consent_result>
finish_device_consent(store::store_service& store, std::int64_t account_id,
                      const domain::oauth_client& client, device_authorization device,
                      boost::asio::ssl::context& tls, std::chrono::seconds timeout,
                      std::function<bool()> cancelled = {});

// The authorization code flow's exchange; stores the tokens on success. `code` is wiped.
boost::asio::awaitable<consent_result>
exchange_code(store::store_service& store, std::int64_t account_id, const domain::oauth_client& client,
              std::string code, const std::string& verifier, const std::string& redirect_uri,
              boost::asio::ssl::context& tls, std::chrono::seconds timeout);

} // namespace mailgate::oauth
