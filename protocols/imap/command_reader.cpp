// IMAP command assembly and tokenizing.
#include "protocols/imap/command_reader.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/secret.hpp"

#include <charconv>

namespace mailgate::protocols::imap {
namespace {

// ATOM-CHAR excludes atom-specials: ( ) { SP CTL % * " \ ] — "]" is allowed in an astring (RFC 9051 §9).
// A backslash is taken inside an atom as Dovecot does: Outlook sends `LOGIN LAN\user ...` unquoted.
bool astring_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' && c != '"';
}

// A trailing "{n}" (synchronizing) or "{n+}" (LITERAL+) at the end of a line.
bool literal_suffix(std::string_view line, std::size_t& size, bool& synchronizing, bool& valid,
                    std::size_t& start) {
    if (!line.ends_with('}')) return false;
    auto open = line.rfind('{');
    if (open == std::string_view::npos) return false;
    auto inner = line.substr(open + 1, line.size() - open - 2);
    synchronizing = true;
    if (inner.ends_with('+')) {
        synchronizing = false;
        inner.remove_suffix(1);
    }
    start = open;
    valid = false;
    if (inner.empty() || inner.size() > 19) return true;
    for (char c : inner)
        if (c < '0' || c > '9') return true;
    auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), size);
    valid = ec == std::errc{};
    return true;
}

} // namespace

namespace {

// Passwords arrive as quoted strings too: the value is sized before it is built (a growing string frees
// copies of its first bytes) and the moved-from local is wiped (short strings keep their bytes when moved).
template <class Strings> bool tokenize_into(std::string_view text, Strings& out) {
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c == ' ') {
            ++i;
        } else if (c == '"') {
            ++i;
            std::size_t length = 0;
            for (std::size_t j = i; j < text.size() && text[j] != '"'; ++j, ++length)
                if (text[j] == '\\' && j + 1 < text.size()) ++j;
            std::string value;
            value.reserve(length);
            bool closed = false;
            while (i < text.size()) {
                char q = text[i++];
                // QUOTED-CHAR is a TEXT-CHAR: NUL, CR and LF only travel in literals (RFC 9051 §9).
                if (q == '\0' || q == '\r' || q == '\n') break;
                if (q == '"') {
                    closed = true;
                    break;
                }
                if (q == '\\') {
                    if (i >= text.size() || (text[i] != '"' && text[i] != '\\')) break;
                    q = text[i++];
                }
                value += q;
            }
            if (closed) out.push_back(std::move(value));
            wipe(value);
            if (!closed) return false;
        } else if (c == '(' || c == ')') {
            out.emplace_back(1, c); // lists (ID parameters) are only skipped, never interpreted
            ++i;
        } else if (astring_char(c) || static_cast<unsigned char>(c) >= 0x80) {
            auto start = i;
            while (i < text.size() && (astring_char(text[i]) || static_cast<unsigned char>(text[i]) >= 0x80))
                ++i;
            out.emplace_back(text.substr(start, i - start));
        } else {
            return false;
        }
    }
    return true;
}

} // namespace

bool tokenize(std::string_view text, std::vector<std::string>& out) { return tokenize_into(text, out); }

void command_reader::reset() {
    size_ = 0;
    literal_left_ = 0;
    in_literal_ = false;
    nul_in_literal_ = false;
    wipe(segments_); // LOGIN's password is in a segment or a literal
    wipe(literals_);
    wipe(command_.args);
    command_ = {};
}

command_reader::status command_reader::next(line_buffer& input) {
    for (;;) {
        if (in_literal_) {
            std::string_view bytes;
            if (!input.take_bytes(literal_left_, bytes)) {
                // Take what is there so the line buffer's limit does not apply to literal bytes.
                if (input.buffered() == 0) return status::need_more;
                std::size_t n = input.buffered();
                input.take_bytes(n, bytes);
                nul_in_literal_ |= bytes.find('\0') != std::string_view::npos;
                literals_.back().append(bytes);
                literal_left_ -= n;
                return status::need_more;
            }
            nul_in_literal_ |= bytes.find('\0') != std::string_view::npos;
            literals_.back().append(bytes);
            literal_left_ = 0;
            in_literal_ = false;
            continue;
        }
        std::string_view line;
        switch (input.next_line(line)) {
        case line_buffer::result::need_more: return status::need_more;
        case line_buffer::result::too_long: return status::too_long;
        case line_buffer::result::bare_lf: return status::bare_lf;
        case line_buffer::result::line: break;
        }
        size_ += line.size() + 2;
        if (size_ > max_command_) return status::too_long;
        std::size_t literal_size = 0, start = 0;
        bool synchronizing = false, valid = false;
        if (!literal_suffix(line, literal_size, synchronizing, valid, start)) {
            segments_.emplace_back(line);
            return finish();
        }
        if (!valid) return status::bad_literal;
        // The literal and at least the CRLF that must follow it have to fit.
        if (literal_size > max_command_ || size_ + literal_size + 2 > max_command_) return status::too_long;
        size_ += literal_size;
        segments_.emplace_back(line.substr(0, start));
        literals_.emplace_back();
        literals_.back().reserve(literal_size);
        literal_left_ = literal_size;
        in_literal_ = literal_size > 0;
        if (synchronizing) return status::send_continuation;
    }
}

std::pair<std::string, std::string> command_reader::head() const {
    if (segments_.empty()) return {};
    std::string_view first = segments_.front();
    auto space = first.find(' ');
    if (space == std::string_view::npos) return {std::string(first), {}};
    auto rest = first.substr(space + 1);
    return {std::string(first.substr(0, space)), ascii_upper(rest.substr(0, rest.find(' ')))};
}

command command_reader::assemble(std::size_t literal_count) const {
    secret_strings tokens;
    bool ok = true;
    // The tag and command name come from the first segment; arguments may mix text and literals.
    for (std::size_t i = 0; i < segments_.size(); ++i) {
        ok = tokenize_into(segments_[i], tokens) && ok;
        if (i < literal_count) tokens.push_back(literals_[i]);
    }
    command c;
    const auto& first = segments_.front();
    auto space = first.find(' ');
    c.tag = first.substr(0, space);
    if (space != std::string::npos) {
        auto rest = std::string_view(first).substr(space + 1);
        c.name = ascii_upper(rest.substr(0, rest.find(' ')));
    }
    // tokens[0] is the tag and tokens[1] the name when both are plain atoms.
    std::size_t skip = 0;
    if (!tokens.empty() && tokens[0] == c.tag) ++skip;
    if (tokens.size() > skip && ascii_upper(tokens[skip]) == c.name && !c.name.empty()) ++skip;
    c.args.assign(tokens.begin() + static_cast<std::ptrdiff_t>(std::min(skip, tokens.size())), tokens.end());
    c.args_valid = ok;
    wipe(tokens);
    return c;
}

command command_reader::partial() const {
    if (segments_.empty()) return {};
    // The last literal is the one being announced: not here yet.
    return assemble(literals_.empty() ? 0 : literals_.size() - 1);
}

command_reader::status command_reader::finish() {
    // Reported with the whole command, so the answer does not depend on how the bytes were split.
    if (nul_in_literal_) return status::nul_in_literal;
    wipe(command_.args);
    command_ = assemble(literals_.size());
    wipe(segments_);
    wipe(literals_);
    size_ = 0;
    return status::complete;
}

} // namespace mailgate::protocols::imap
