// What the protocol sessions need from the configuration and the process, gathered once at startup.
#pragma once

#include "server/net/cidr.hpp"
#include "server/net/server_tls.hpp"
#include "server/oauth/token_service.hpp"
#include "server/proxy/activity.hpp"
#include "server/proxy/login_throttle.hpp"
#include "server/proxy/upstream_slots.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

namespace mailgate::proxy {

struct gateway_settings {
    store::store_service& store;
    const net::server_tls& client_tls;       // local certificates, for STARTTLS/STLS
    boost::asio::ssl::context& upstream_tls; // provider verification
    const net::cidr_list& plaintext_auth;
    activity& live;
    login_throttle& throttle;
    oauth::token_service& tokens;
    std::chrono::seconds upstream_timeout{30};
    std::chrono::seconds login_timeout{60}; // per read before login
    std::chrono::seconds idle_timeout{600}; // relay without traffic either way
    std::chrono::milliseconds failed_login_delay{2000};
    // auth.challenge_logins_over_tls: APOP / CRAM-MD5 advertised on TLS connections too, not only plaintext.
    bool challenge_logins_over_tls = false;
    // Where submitted messages wait for their Sent copy (server/proxy/sent_copy.hpp); empty: no Sent copies.
    std::filesystem::path sent_spool{};
    // limits.max_upstream_per_account for client sessions (null: no cap).
    std::shared_ptr<upstream_slots> slots{};
    // Between attempts of a Sent copy that failed on the connection (a refused APPEND is not retried).
    std::vector<std::chrono::seconds> sent_copy_retries{std::chrono::seconds(10), std::chrono::seconds(60),
                                                        std::chrono::seconds(300)};
};

} // namespace mailgate::proxy
