// POP3 status-line helpers.
#include "protocols/pop3/reply.hpp"

#include "protocols/common/ascii.hpp"

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
    return ascii_upper(line.substr(space + 2, close - space - 2));
}

std::string upper_keyword_line(std::string_view line) {
    auto end = line.find(' ');
    if (end == std::string_view::npos) return ascii_upper(line);
    return ascii_upper(line.substr(0, end)) + std::string(line.substr(end));
}

bool line_safe(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

} // namespace mailgate::protocols::pop3
