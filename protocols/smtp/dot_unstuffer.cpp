#include "protocols/smtp/dot_unstuffer.hpp"

namespace mailgate::protocols::smtp {

void dot_unstuffer::feed(std::string_view wire, std::string& out) {
    for (char c : wire) {
        switch (state_) {
        case state::ended: return;
        case state::line_start:
            if (c == '.') {
                state_ = state::dot; // stuffing, or the end marker
                continue;
            }
            break;
        case state::dot:
            if (c == '\r') {
                state_ = state::dot_cr;
                continue;
            }
            break;
        case state::dot_cr:
            if (c == '\n') {
                state_ = state::ended;
                return;
            }
            out += '\r'; // not the marker after all (the decoder never forwards this)
            break;
        case state::in_line: break;
        }
        out += c;
        state_ = c == '\n' ? state::line_start : state::in_line;
    }
}

} // namespace mailgate::protocols::smtp
