// What a mail client needs to connect to the gateway for one account: Thunderbird autoconfig (config-v1.1.xml)
// and Outlook's POX autodiscover, built from the account and the gateway's own listeners.
#pragma once

#include "server/store/account.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::admin {

struct mail_listener {
    domain::mail_protocol protocol;
    std::uint16_t port = 0;
    bool implicit_tls = false; // else plaintext with STARTTLS/STLS offered
};

struct client_setup {
    std::string server_name; // what clients type as the server: a name the LAN certificate carries
    std::vector<mail_listener> listeners;
};

// The listeners of the protocols `a` has a provider endpoint for, implicit TLS first.
std::vector<mail_listener> listeners_for(const client_setup& setup, const store::account& a);

std::string autoconfig_xml(const client_setup& setup, const store::account& a, std::string_view address);
std::string autodiscover_xml(const client_setup& setup, const store::account& a, std::string_view address);
// The reply to an autodiscover request for an address the gateway has no account for.
std::string autodiscover_error_xml();

// For the admin page's "Set up a client" view: {server, user, address, servers: [{protocol, port, security}]}.
boost::json::object setup_json(const client_setup& setup, const store::account& a);

// The <EMailAddress> of an Outlook autodiscover request body.
std::optional<std::string> autodiscover_request_address(std::string_view body);

} // namespace mailgate::admin
