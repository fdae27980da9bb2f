// "Test connection": resolve, connect, TLS, log in with the stored credential, log out; one report per step.
// Used by `mailgate account test` and the admin page; the caller records the outcome as the endpoint's upstream
// status (the probe itself never touches the database, so it can run on an I/O thread).
#pragma once

#include "server/net/upstream_connection.hpp"
#include "server/proxy/provider_login.hpp"
#include "server/store/account_repository.hpp"

#include <boost/asio/awaitable.hpp>

namespace mailgate::proxy {

struct probe_result {
    bool ok = false;               // every step succeeded
    store::upstream_status status; // what the login part says about the endpoint
    std::string reason;
};

boost::asio::awaitable<probe_result> probe_endpoint(const store::account& account,
                                                    const domain::upstream_endpoint& endpoint,
                                                    const provider_access& access,
                                                    const net::step_observer& observer);

} // namespace mailgate::proxy
