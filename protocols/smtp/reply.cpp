// SMTP reply parsing: three digits, then '-' (more lines follow) or ' '/end (last line).
#include "protocols/smtp/reply.hpp"

namespace mailgate::protocols::smtp {

reply_assembler::result reply_assembler::feed(std::string_view line) {
    if (line.size() < 3) return result::malformed;
    int code = 0;
    for (int i = 0; i < 3; ++i) {
        char c = line[static_cast<std::size_t>(i)];
        if (c < '0' || c > '9') return result::malformed;
        code = code * 10 + (c - '0');
    }
    if (code < 200 || code > 599) return result::malformed;
    if (!current_.lines.empty() && current_.code != code) return result::malformed;
    current_.code = code;
    bool last = line.size() == 3 || line[3] == ' ';
    if (!last && line[3] != '-') return result::malformed;
    current_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    return last ? result::complete : result::more;
}

reply reply_assembler::take() {
    reply r = std::move(current_);
    current_ = {};
    return r;
}

} // namespace mailgate::protocols::smtp
