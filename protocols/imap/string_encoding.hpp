// Encoding arbitrary text as an IMAP astring: atom-safe quoted string, or a literal (RFC 9051 §4.3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::protocols::imap {

// The command pieces for `prefix astring astring ...`: with synchronizing literals each piece but the last
// ends in "{n}\r\n" and must wait for the server's "+" before the next is sent. nullopt when a value holds NUL.
// For commands without credentials: the client codec's LOGIN is built from quote() and literal_marker() so
// that its secret goes out through upstream_codec::send_credential().
std::optional<std::vector<std::string>>
encode_command(std::string_view prefix, const std::vector<std::string_view>& args, bool literal_plus);

// A quoted string if the text can be one, else nullopt.
std::optional<std::string> quote(std::string_view text);
// The marker that announces a literal of `size` octets: "{n}\r\n", or "{n+}\r\n" with LITERAL+ (RFC 7888).
std::string literal_marker(std::size_t size, bool literal_plus);

} // namespace mailgate::protocols::imap
