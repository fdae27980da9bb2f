// Assembles SMTP replies (RFC 5321 §4.2), including multi-line ones, from lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailgate::protocols::smtp {

struct reply {
    int code = 0;
    std::vector<std::string> lines; // text after "NNN-" / "NNN "
};

class reply_assembler {
public:
    enum class result { complete, more, malformed };
    // Feed one line; on `complete`, take() returns the whole reply.
    result feed(std::string_view line);
    reply take();

private:
    reply current_;
};

} // namespace mailgate::protocols::smtp
