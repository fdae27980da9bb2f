// Query string decoding.
#include "server/common/query_string.hpp"

#include <cctype>

namespace mailgate {

std::string form_decode(std::string_view text) {
    std::string out;
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    auto value = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) && hex(text[i + 2])) {
            out += static_cast<char>(value(text[i + 1]) * 16 + value(text[i + 2]));
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t pos = 0;
    while (pos <= query.size()) {
        auto end = query.find('&', pos);
        if (end == std::string_view::npos) end = query.size();
        auto pair = query.substr(pos, end - pos);
        auto eq = pair.find('=');
        if (!pair.empty())
            out.emplace_back(form_decode(pair.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1)));
        pos = end + 1;
    }
    return out;
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view key) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    auto query = target.substr(q + 1);
    query = query.substr(0, query.find('#'));
    for (auto& [k, v] : parse_query(query))
        if (k == key) return std::move(v);
    return std::nullopt;
}

} // namespace mailgate
