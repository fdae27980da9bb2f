// The listener table and the banner's wording for it.
#include "server/app/listener_table.hpp"

namespace mailgate::app {
namespace {

constexpr listener_entry entries[] = {
    {"pop3", listener_service::pop3, false, "127.0.0.1:1110"},
    {"pop3s", listener_service::pop3, true, "127.0.0.1:1995"},
    {"imap", listener_service::imap, false, "127.0.0.1:1143"},
    {"imaps", listener_service::imap, true, "127.0.0.1:1993"},
    {"smtp", listener_service::smtp, false, "127.0.0.1:1587"},
    {"smtps", listener_service::smtp, true, "127.0.0.1:1465"},
    // HTTPS on the admin port is admin.tls's choice.
    {"admin", listener_service::admin, false, "127.0.0.1:8080"},
};

} // namespace

std::span<const listener_entry> listener_table() { return entries; }

const listener_entry* find_listener(std::string_view name) {
    for (const auto& e : entries)
        if (e.name == name) return &e;
    return nullptr;
}

std::string_view describe_tls(const listener_entry& entry) {
    if (entry.implicit_tls) return "implicit TLS";
    // POP3 calls its upgrade command STLS (RFC 2595 §4).
    if (entry.service == listener_service::pop3) return "plaintext, STLS offered";
    return "plaintext, STARTTLS offered";
}

} // namespace mailgate::app
