// ASCII case helpers: protocol keywords are case-insensitive ASCII, never locale-dependent.
#pragma once

#include <string>
#include <string_view>

namespace mailgate::protocols {

inline std::string ascii_upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

} // namespace mailgate::protocols
