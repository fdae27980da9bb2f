// A whole message made into SMTP DATA (RFC 5321 §4.5.2): a dot added before each line that starts with one, and
// the CRLF "." CRLF end marker. The message must already be CRLF-only.
#pragma once

#include <string>
#include <string_view>

namespace mailgate::protocols::smtp {

std::string dot_stuff(std::string_view message);

} // namespace mailgate::protocols::smtp
