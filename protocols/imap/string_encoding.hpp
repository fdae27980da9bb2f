// Encoding arbitrary text as an IMAP astring: atom-safe quoted string, or a literal (RFC 9051 §4.3).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::protocols::imap {

// The command pieces for `prefix astring astring ...`: with synchronizing literals each piece but the last
// ends in "{n}\r\n" and must wait for the server's "+" before the next is sent. nullopt when a value holds NUL.
std::optional<std::vector<std::string>> encode_command(std::string_view prefix, const std::vector<std::string_view>& args,
                                                       bool literal_plus);

// A quoted string if the text can be one, else nullopt.
std::optional<std::string> quote(std::string_view text);

} // namespace mailgate::protocols::imap
