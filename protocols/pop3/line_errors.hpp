// What a POP3 client hears for a line the gateway cannot take, before login (pop3::server) and after it
// (pop3::maildrop) alike; each ends the connection.
#pragma once

#include <string_view>

namespace mailgate::protocols::pop3::line_errors {

inline constexpr std::string_view too_long = "-ERR Line too long";
inline constexpr std::string_view bare_lf = "-ERR Lines must end with CRLF";
inline constexpr std::string_view control_bytes = "-ERR Invalid characters in command";

} // namespace mailgate::protocols::pop3::line_errors
