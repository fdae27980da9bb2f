// Dot-stuffing a message for DATA.
#include "protocols/smtp/dot_stuff.hpp"

namespace mailgate::protocols::smtp {

std::string dot_stuff(std::string_view message) {
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 5);
    bool line_start = true;
    for (char c : message) {
        if (line_start && c == '.') out += '.';
        out += c;
        line_start = c == '\n';
    }
    if (!message.empty() && !message.ends_with("\r\n")) out += "\r\n";
    out += ".\r\n";
    return out;
}

} // namespace mailgate::protocols::smtp
