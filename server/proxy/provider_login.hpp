// Logging in to an account's provider endpoint with its stored credential, for every caller (client sessions,
// the connection test, consent checks): the password, or an OAuth2 access token from the token service; then
// connect, TLS, login. A refused access token is replaced once (one refresh for all who saw it) and the login
// retried once on a new connection.
#pragma once

#include "server/net/upstream_connection.hpp"
#include "server/oauth/token_service.hpp"
#include "server/proxy/client_codec.hpp"
#include "server/proxy/early_connection.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <optional>

namespace mailgate::proxy {

struct provider_access {
    store::store_service& store;
    oauth::token_service& tokens;
    boost::asio::ssl::context& tls;
    std::chrono::seconds timeout{30};
};

struct provider_login {
    std::optional<net::upstream_failure> failure;
    std::unique_ptr<net::upstream_connection> connection; // logged in, when no failure
    client_codec codec;
};

// `early`: the connection opened during the local check, taken (waited for) only once the credential is at hand, so
// a login that fails on its credential (needs consent) never waits for a connection.
boost::asio::awaitable<provider_login> log_in_to_provider(const provider_access& access,
                                                          const store::account& account,
                                                          const domain::upstream_endpoint& endpoint,
                                                          const net::step_observer& observer = {},
                                                          early_connection* early = nullptr);

} // namespace mailgate::proxy
