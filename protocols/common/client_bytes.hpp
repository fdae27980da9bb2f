// Checks every client-facing server codec applies to what a legacy client sends.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace mailgate::protocols {

// Control characters other than TAB never occur in POP3, IMAP or SMTP commands: binary garbage, not a client.
inline bool has_control_bytes(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7f;
    });
}

// A TLS record (0x16 = handshake) as the very first byte of a plaintext connection: a client set up for implicit
// TLS on the plain port. Clears `first` once any byte has been seen.
inline bool tls_handshake_on_plaintext(std::string_view bytes, bool& first, bool tls_active) {
    bool hit = first && !tls_active && !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x16;
    if (!bytes.empty()) first = false;
    return hit;
}

// Overwrites a credential held by a codec once it has been handed on.
inline void wipe(std::string& s) {
    std::fill(s.begin(), s.end(), '\0');
    s.clear();
}

} // namespace mailgate::protocols
