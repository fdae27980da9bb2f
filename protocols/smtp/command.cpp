// SMTP command and path parsing.
#include "protocols/smtp/command.hpp"

#include "protocols/common/ascii.hpp"

namespace mailgate::protocols::smtp {
namespace {

bool plausible_address(std::string_view a) {
    // Printable, no spaces or brackets; UTF-8 allowed (SMTPUTF8). Quoted local parts are refused: legacy
    // devices do not produce them and they complicate re-serialization.
    for (char c : a) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' || c == ',') return false;
    }
    return a.size() <= 254;
}

bool valid_keyword(std::string_view k) {
    if (k.empty()) return false;
    for (char c : k)
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

bool valid_value(std::string_view v) {
    for (char c : v) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '=') return false;
    }
    return true;
}

} // namespace

parsed_command parse_command(std::string_view line) {
    auto space = line.find(' ');
    parsed_command out;
    out.verb = ascii_upper(line.substr(0, space));
    if (space != std::string_view::npos) out.argument = std::string(line.substr(space + 1));
    return out;
}

std::optional<mail_path> parse_path(std::string_view argument, std::string_view prefix) {
    if (argument.size() < prefix.size() || ascii_upper(argument.substr(0, prefix.size())) != prefix)
        return std::nullopt;
    auto rest = argument.substr(prefix.size());
    if (rest.starts_with(' ')) rest.remove_prefix(1);
    if (!rest.starts_with('<')) return std::nullopt;
    auto close = rest.find('>');
    if (close == std::string_view::npos) return std::nullopt;
    mail_path path;
    auto address = rest.substr(1, close - 1);
    // A source route "@a,@b:user@c" (RFC 5321 §4.1.2, obsolete) is dropped to its mailbox.
    if (address.starts_with('@')) {
        auto colon = address.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        address.remove_prefix(colon + 1);
        // What the route leads to must be a mailbox: "<@a:>" is not the null path, "<@a:@b>" not an address.
        if (address.empty() || address.starts_with('@')) return std::nullopt;
    }
    if (!plausible_address(address)) return std::nullopt;
    path.address = std::string(address);
    auto params = rest.substr(close + 1);
    while (!params.empty()) {
        if (params.front() != ' ') return std::nullopt;
        params.remove_prefix(1);
        if (params.empty()) break;
        auto end = params.find(' ');
        auto item = params.substr(0, end);
        params = end == std::string_view::npos ? std::string_view{} : params.substr(end);
        auto eq = item.find('=');
        path_parameter p{ascii_upper(item.substr(0, eq)), {}, eq != std::string_view::npos};
        if (p.has_value) p.value = std::string(item.substr(eq + 1));
        if (!valid_keyword(p.keyword) || (p.has_value && !valid_value(p.value))) return std::nullopt;
        path.parameters.push_back(std::move(p));
    }
    return path;
}

std::string serialize(const mail_path& path) {
    std::string out = "<" + path.address + ">";
    for (const auto& p : path.parameters) out += " " + p.keyword + (p.has_value ? "=" + p.value : "");
    return out;
}

} // namespace mailgate::protocols::smtp
