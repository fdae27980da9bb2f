// "Test connection": resolve, connect, TLS, log in with the stored credential, log out; one report per step.
// Used by `mailgate account test` and the admin page. Records the outcome as the endpoint's upstream status.
#pragma once

#include "server/net/upstream_connection.hpp"
#include "server/store/account_repository.hpp"

#include <boost/asio/awaitable.hpp>

namespace mailgate::proxy {

struct probe_settings {
    boost::asio::ssl::context& tls;
    std::chrono::steady_clock::duration timeout;
};

// True when every step succeeded.
boost::asio::awaitable<bool> probe_endpoint(store::account_repository& repo, const store::account& account,
                                            const net::upstream_endpoint& endpoint, std::string secret,
                                            probe_settings settings, const net::step_observer& observer);

} // namespace mailgate::proxy
