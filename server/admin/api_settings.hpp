// What the admin API works with: the store, the live sessions, the upstream TLS settings, the token service, and
// the Host names it answers to.
#pragma once

#include "server/oauth/token_service.hpp"
#include "server/proxy/activity.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace mailgate::proxy {
class spool_service;
}
namespace mailgate::net {
class certificate_manager;
}

namespace mailgate::admin {

struct client_setup;
class gateway_health;

struct api_settings {
    store::store_service& store;
    proxy::activity& live;
    boost::asio::ssl::context& upstream_tls;
    std::chrono::seconds upstream_timeout;
    oauth::token_service& tokens;
    std::vector<std::string> host_names; // accepted Host values (DNS rebinding defence), see admin_server
    bool https = false;
    proxy::spool_service* spool = nullptr;            // the SMTP queue (null in tests without one)
    net::certificate_manager* certificates = nullptr; // the LAN certificates (null: none to show)
    const client_setup* setup = nullptr; // listeners and server name for autoconfig (null: not served)
    gateway_health* health = nullptr;    // readiness and drain (null: /healthz says ok while it answers)
};

} // namespace mailgate::admin
