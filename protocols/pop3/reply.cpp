// POP3 status-line helpers.
#include "protocols/pop3/reply.hpp"

#include <algorithm>
#include <cctype>

namespace mailgate::protocols::pop3 {

status reply_status(std::string_view line) {
    auto is = [&](std::string_view word) {
        return line.starts_with(word) && (line.size() == word.size() || line[word.size()] == ' ');
    };
    if (is("+OK")) return status::ok;
    if (is("-ERR")) return status::err;
    return status::malformed;
}

std::string response_code(std::string_view line) {
    auto space = line.find(' ');
    if (space == std::string_view::npos || space + 1 >= line.size() || line[space + 1] != '[') return {};
    auto close = line.find(']', space);
    if (close == std::string_view::npos) return {};
    std::string code(line.substr(space + 2, close - space - 2));
    std::transform(code.begin(), code.end(), code.begin(), [](unsigned char c) { return std::toupper(c); });
    return code;
}

std::string upper_keyword_line(std::string_view line) {
    std::string out(line);
    auto end = out.find(' ');
    if (end == std::string::npos) end = out.size();
    std::transform(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(end), out.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    return out;
}

bool line_safe(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

} // namespace mailgate::protocols::pop3
