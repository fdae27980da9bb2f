// The listener table and the banner's wording for it.
#include "server/app/listener_table.hpp"

#include <algorithm>

namespace mailgate::app {
namespace {

constexpr listener_entry entries[] = {
    {"pop3", listener_service::pop3, false, "127.0.0.1:1110"},
    {"pop3s", listener_service::pop3, true, "127.0.0.1:1995"},
    {"imap", listener_service::imap, false, "127.0.0.1:1143"},
    {"imaps", listener_service::imap, true, "127.0.0.1:1993"},
    {"smtp", listener_service::smtp, false, "127.0.0.1:1587"},
    {"smtps", listener_service::smtp, true, "127.0.0.1:1465"},
    {"admin", listener_service::admin, false, "127.0.0.1:8080"}, // HTTPS is admin.tls's choice, not the port's
};

} // namespace

std::span<const listener_entry> listener_table() { return entries; }

const listener_entry* find_listener(std::string_view name) {
    auto it = std::find_if(std::begin(entries), std::end(entries), [&](const auto& e) { return e.name == name; });
    return it == std::end(entries) ? nullptr : &*it;
}

std::string_view describe_tls(const listener_entry& entry) {
    if (entry.implicit_tls) return "implicit TLS";
    // POP3 calls its upgrade command STLS (RFC 2595 §4).
    return entry.service == listener_service::pop3 ? "plaintext, STLS offered" : "plaintext, STARTTLS offered";
}

} // namespace mailgate::app
