// IMAP string quoting and literal encoding for commands the gateway sends upstream.
#include "protocols/imap/string_encoding.hpp"

#include "protocols/common/secret.hpp"

namespace mailgate::protocols::imap {

std::optional<std::string> quote(std::string_view text) {
    std::string out;
    // Sized once: passwords are quoted, and a growing string would free copies of their first bytes.
    out.reserve(text.size() * 2 + 2);
    out += '"';
    for (unsigned char c : text) {
        // QUOTED-CHAR excludes CR and LF; 8-bit needs UTF8=ACCEPT, so a literal is the safe carrier.
        if (c == '\r' || c == '\n' || c == 0 || c >= 0x80) {
            wipe(out);
            return std::nullopt;
        }
        if (c == '"' || c == '\\') out += '\\';
        out += static_cast<char>(c);
    }
    out += '"';
    return out;
}

std::string literal_marker(std::size_t size, bool literal_plus) {
    return "{" + std::to_string(size) + (literal_plus ? "+}\r\n" : "}\r\n");
}

std::optional<std::vector<std::string>>
encode_command(std::string_view prefix, const std::vector<std::string_view>& args, bool literal_plus) {
    std::vector<std::string> pieces{std::string(prefix)};
    for (auto arg : args) {
        if (arg.find('\0') != std::string_view::npos) return std::nullopt;
        if (auto quoted = quote(arg)) {
            pieces.back() += ' ' + *quoted;
            continue;
        }
        pieces.back() += " " + literal_marker(arg.size(), literal_plus);
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
