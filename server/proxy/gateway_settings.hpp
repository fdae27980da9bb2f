// What the protocol sessions need from the configuration and the process, gathered once at startup.
#pragma once

#include "server/net/cidr.hpp"
#include "server/oauth/token_service.hpp"
#include "server/proxy/activity.hpp"
#include "server/proxy/login_throttle.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>

namespace mailgate::proxy {

struct gateway_settings {
    store::store_service& store;
    boost::asio::ssl::context& client_tls;   // local certificate, for STARTTLS/STLS
    boost::asio::ssl::context& upstream_tls; // provider verification
    const net::cidr_list& plaintext_auth;
    activity& live;
    login_throttle& throttle;
    oauth::token_service& tokens;
    std::chrono::seconds upstream_timeout{30};
    std::chrono::seconds login_timeout{60}; // per read before login
    std::chrono::seconds idle_timeout{600}; // relay without traffic either way
    std::chrono::milliseconds failed_login_delay{2000};
};

} // namespace mailgate::proxy
