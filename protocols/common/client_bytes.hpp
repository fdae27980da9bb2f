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

// Overwrites a credential held by a codec once it has been handed on.
inline void wipe(std::string& s) {
    std::fill(s.begin(), s.end(), '\0');
    s.clear();
}

} // namespace mailgate::protocols
