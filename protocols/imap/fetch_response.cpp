#include "protocols/imap/fetch_response.hpp"

#include "protocols/common/ascii.hpp"

#include <charconv>

namespace mailgate::protocols::imap {
namespace {

template <class Number> std::optional<Number> number(std::string_view s) {
    Number n{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
}

// A cursor over one response; literals are taken in order as their markers are passed.
class reader {
public:
    reader(std::string_view text, const std::vector<std::string>& literals)
        : text_(text), literals_(literals) {}

    void skip_spaces() {
        while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
    }
    bool take(char c) {
        skip_spaces();
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    bool peek(char c) {
        skip_spaces();
        return pos_ < text_.size() && text_[pos_] == c;
    }

    // An atom; a BODY[...]<...> item name is one atom, spaces and parentheses inside its brackets included.
    std::optional<std::string_view> atom() {
        skip_spaces();
        auto start = pos_;
        int depth = 0;
        while (pos_ < text_.size()) {
            char c = text_[pos_];
            if (c == '[') ++depth;
            if (c == ']' && depth > 0) --depth;
            if (depth == 0 && (c == ' ' || c == '(' || c == ')' || c == '{' || c == '"')) break;
            ++pos_;
        }
        if (pos_ == start || depth != 0) return std::nullopt;
        return text_.substr(start, pos_ - start);
    }

    // NIL, a quoted string or a literal.
    std::optional<std::string> nstring() {
        skip_spaces();
        if (pos_ >= text_.size()) return std::nullopt;
        if (text_[pos_] == '"') return quoted();
        if (text_[pos_] == '{' || text_[pos_] == '~') return literal();
        auto a = atom();
        if (a && ascii_upper(*a) == "NIL") return std::string();
        return std::nullopt;
    }

    // Any value (for items we do not use): atom, string, literal or a parenthesized list of them.
    bool skip_value(int depth = 0) {
        if (depth > 16) return false;
        if (take('(')) {
            while (!take(')')) {
                if (pos_ >= text_.size() || !skip_value(depth + 1)) return false;
            }
            return true;
        }
        skip_spaces();
        if (pos_ < text_.size() && (text_[pos_] == '"' || text_[pos_] == '{' || text_[pos_] == '~'))
            return nstring().has_value();
        return atom().has_value();
    }

    bool at_end() {
        skip_spaces();
        return pos_ == text_.size();
    }

private:
    std::optional<std::string> quoted() {
        std::string out;
        for (++pos_; pos_ < text_.size(); ++pos_) {
            char c = text_[pos_];
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c == '\\' && pos_ + 1 < text_.size()) c = text_[++pos_];
            out += c;
        }
        return std::nullopt;
    }
    std::optional<std::string> literal() {
        if (text_[pos_] == '~') ++pos_;
        auto close = text_.find('}', pos_);
        if (close == std::string_view::npos || next_literal_ >= literals_.size()) return std::nullopt;
        pos_ = close + 1;
        return literals_[next_literal_++];
    }

    std::string_view text_;
    const std::vector<std::string>& literals_;
    std::size_t pos_ = 0;
    std::size_t next_literal_ = 0;
};

} // namespace

std::optional<fetch_response> parse_fetch(std::string_view text, const std::vector<std::string>& literals) {
    reader r(text, literals);
    fetch_response out;
    auto seq = r.atom();
    if (!seq) return std::nullopt;
    auto n = number<std::uint32_t>(*seq);
    auto kind = r.atom();
    if (!n || !kind || ascii_upper(*kind) != "FETCH" || !r.take('(')) return std::nullopt;
    out.sequence = *n;
    while (!r.take(')')) {
        auto name_atom = r.atom();
        if (!name_atom) return std::nullopt;
        auto name = ascii_upper(*name_atom);
        if (name == "UID") {
            auto v = r.atom();
            if (!v || !(out.uid = number<std::uint32_t>(*v))) return std::nullopt;
        } else if (name == "RFC822.SIZE") {
            auto v = r.atom();
            if (!v || !(out.size = number<std::uint64_t>(*v))) return std::nullopt;
        } else if (name == "FLAGS") {
            if (!r.take('(')) return std::nullopt;
            while (!r.take(')')) {
                auto flag = r.atom();
                if (!flag) return std::nullopt;
                out.flags.push_back(ascii_upper(*flag));
            }
        } else if (name.starts_with("BODY[")) {
            auto value = r.nstring();
            if (!value) return std::nullopt;
            out.sections.emplace_back(std::move(name), std::move(*value));
        } else if (!r.skip_value()) {
            return std::nullopt;
        }
    }
    if (!r.at_end()) return std::nullopt;
    return out;
}

std::optional<std::uint64_t> trailing_literal(std::string_view segment) {
    if (!segment.ends_with('}')) return std::nullopt;
    auto open = segment.rfind('{');
    if (open == std::string_view::npos) return std::nullopt;
    auto digits = segment.substr(open + 1, segment.size() - open - 2);
    if (digits.ends_with('+') || digits.ends_with('-')) digits.remove_suffix(1);
    if (digits.size() > 19) return std::nullopt;
    return number<std::uint64_t>(digits);
}

std::string message_id_of(std::string_view header) {
    std::string unfolded;
    bool in_field = false;
    while (!header.empty()) {
        auto end = header.find('\n');
        auto line = header.substr(0, end);
        header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            if (in_field) unfolded.append(line);
            continue;
        }
        if (in_field) break;
        auto colon = line.find(':');
        if (colon != std::string_view::npos && ascii_upper(line.substr(0, colon)) == "MESSAGE-ID") {
            in_field = true;
            unfolded.assign(line.substr(colon + 1));
        }
    }
    auto first = unfolded.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    auto last = unfolded.find_last_not_of(" \t");
    unfolded = unfolded.substr(first, last - first + 1);
    if (unfolded.size() > 998) return {};
    for (unsigned char c : unfolded)
        if (c < 0x20 || c >= 0x7f) return {};
    return unfolded;
}

} // namespace mailgate::protocols::imap
