// Small parsers for POP3 status lines (+OK / -ERR [CODE] text) shared by the client and server codecs.
#pragma once

#include <string>
#include <string_view>

namespace mailgate::protocols::pop3 {

enum class status { ok, err, malformed };

status reply_status(std::string_view line);
// The RFC 2449 response code in brackets after -ERR/+OK, upper-cased; empty when there is none.
std::string response_code(std::string_view line);
// A CAPA line with its keyword upper-cased and arguments kept.
std::string upper_keyword_line(std::string_view line);
// True when text can go on a command line as is (no CR, LF or NUL).
bool line_safe(std::string_view text);

} // namespace mailgate::protocols::pop3
