// Checks every client-facing server codec applies to what a legacy client sends.
#pragma once

#include "protocols/common/secret.hpp" // wipe(), for the codecs' credentials

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

} // namespace mailgate::protocols
