// The gateway's listeners described once: configuration name, what they serve, implicit TLS, default address.
#pragma once

#include <span>
#include <string_view>

namespace mailgate::app {

enum class listener_service { pop3, imap, smtp, admin };

struct listener_entry {
    std::string_view name; // the configuration key is listen.NAME
    listener_service service;
    bool implicit_tls;
    std::string_view default_address;
};

// Every listener, in banner order.
std::span<const listener_entry> listener_table();

// nullptr for a name that is not in the table.
const listener_entry* find_listener(std::string_view name);

// How a mail listener meets its clients, as the banner says it ("implicit TLS", "plaintext, STLS offered").
std::string_view describe_tls(const listener_entry& entry);

} // namespace mailgate::app
