// IMAP string quoting and literal encoding for commands the gateway sends upstream.
#include "protocols/imap/string_encoding.hpp"

namespace mailgate::protocols::imap {

std::optional<std::string> quote(std::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        // QUOTED-CHAR excludes CR and LF; 8-bit needs UTF8=ACCEPT, so a literal is the safe carrier.
        if (c == '\r' || c == '\n' || c == 0 || c >= 0x80) return std::nullopt;
        if (c == '"' || c == '\\') out += '\\';
        out += static_cast<char>(c);
    }
    out += '"';
    return out;
}

std::optional<std::vector<std::string>> encode_command(std::string_view prefix, const std::vector<std::string_view>& args,
                                                       bool literal_plus) {
    std::vector<std::string> pieces{std::string(prefix)};
    for (auto arg : args) {
        if (arg.find('\0') != std::string_view::npos) return std::nullopt;
        if (auto quoted = quote(arg)) {
            pieces.back() += ' ' + *quoted;
            continue;
        }
        pieces.back() += " {" + std::to_string(arg.size()) + (literal_plus ? "+}\r\n" : "}\r\n");
        if (literal_plus) {
            pieces.back() += arg;
        } else {
            pieces.emplace_back(arg);
        }
    }
    pieces.back() += "\r\n";
    return pieces;
}

} // namespace mailgate::protocols::imap
