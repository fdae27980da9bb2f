// SMTP DATA stream checking.
#include "protocols/smtp/data_decoder.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace mailgate::protocols::smtp {

void data_decoder::reject(reason r) {
    reason_ = r;
    // Resynchronise on the strict terminator only: after a bare line end, "\n.\n" and friends end nothing.
    // What was already seen still counts: at a line start "\r\n" is behind us, after a CR one more.
    match_ = after_cr_ ? 1 : (line_start_ ? 2 : 0);
    if (dot_line_) match_ = after_cr_ ? 4 : 3; // "\r\n." or "\r\n.\r" already seen
    // A CR held back at a line start already makes the line more than a lone dot could be.
    loose_ = line_start_ && !after_cr_ ? loose::line_start : loose::mid_line;
    if (dot_line_) loose_ = after_cr_ ? loose::dot_cr : loose::dot;
}

bool data_decoder::loose_terminator(char c) {
    switch (c) {
    case '\n':
        if (loose_ == loose::dot || loose_ == loose::dot_cr) return true;
        loose_ = loose::line_start;
        return false;
    case '.': loose_ = loose_ == loose::line_start ? loose::dot : loose::mid_line; return false;
    case '\r': loose_ = loose_ == loose::dot ? loose::dot_cr : loose::mid_line; return false;
    default: loose_ = loose::mid_line; return false;
    }
}

bool data_decoder::line_end(std::string& out) {
    out += "\r\n";
    if (dot_line_) return true; // the terminator: not part of the message
    line_start_ = true;
    if ((size_ += 2) > max_size_) reject(reason::too_big);
    return false;
}

data_decoder::status data_decoder::decode(std::string_view in, std::string& out, std::size_t& consumed) {
    static constexpr std::string_view terminator = "\r\n.\r\n";
    out.reserve(out.size() + in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (!discarding() && !after_cr_ && !line_start_ && c != '\r' && c != '\n') {
            // The middle of a line holds nothing to check but line ends: copy it up to the next CR or LF at once.
            // Two memchr passes: string_view::find_first_of would call memchr once per byte of input.
            const char* from = in.data() + i;
            auto* cr = static_cast<const char*>(std::memchr(from, '\r', in.size() - i));
            std::size_t span = cr ? static_cast<std::size_t>(cr - from) : in.size() - i;
            if (auto* lf = static_cast<const char*>(std::memchr(from, '\n', span)))
                span = static_cast<std::size_t>(lf - from);
            auto end = i + span;
            // Emission stops with the byte that crosses the limit, exactly as byte-by-byte processing would.
            std::uint64_t left =
                max_size_ - size_; // size_ <= max_size_ here: otherwise we would be discarding
            auto n = static_cast<std::size_t>(
                std::min<std::uint64_t>(end - i, left == UINT64_MAX ? left : left + 1));
            out.append(in.substr(i, n));
            dot_line_ = false;
            size_ += n;
            if (size_ > max_size_) reject(reason::too_big);
            i += n - 1;
            continue;
        }
        if (discarding()) {
            if ((reason_ == reason::bare_line_end || mode_ == line_ends::normalize) && loose_terminator(c)) {
                // loose_ tracks lines for any mix of line ends: with normalize each is a line end; strictly,
                // only "\r\n.\r\n" is an end, the others are loose.
                loose_end_ = mode_ == line_ends::strict &&
                             (match_ + 1 != terminator.size() || c != terminator[match_]);
                consumed = i + 1;
                return status::rejected;
            }
            if (c == terminator[match_]) {
                if (++match_ == terminator.size()) {
                    consumed = i + 1;
                    return status::rejected;
                }
            } else {
                match_ = c == '\r' ? 1 : 0;
            }
            continue;
        }
        if (after_cr_) {
            if (c != '\n') {
                reject(reason::bare_line_end);
                match_ = c == '\r' ? 1 : 0;
                loose_terminator(c);
                continue;
            }
            after_cr_ = false;
            if (line_end(out)) {
                consumed = i + 1;
                return status::end;
            }
            continue;
        }
        if (c == '\r') {
            after_cr_ = true; // held back until its LF proves it is a line end
            continue;
        }
        if (c == '\n') {
            if (mode_ == line_ends::normalize) { // a line end like CRLF: the CR is added
                if (line_end(out)) {
                    consumed = i + 1;
                    return status::end;
                }
                continue;
            }
            bool lone_dot = dot_line_;
            reject(reason::bare_line_end);
            match_ = 0; // a bare LF breaks any "\r\n.\r\n" in progress
            loose_ = loose::line_start;
            if (lone_dot) { // "\r\n.\n" or "\n.\n": the LF-only client's end of data
                loose_end_ = true;
                consumed = i + 1;
                return status::rejected;
            }
            continue;
        }
        // A dot opening a line is dot-stuffing or the terminator, never message content (RFC 5321 §4.5.2),
        // so it does not count toward the size: the limit applies to the message as RFC 1870 SIZE counts it.
        dot_line_ = line_start_ && c == '.';
        line_start_ = false;
        out += c;
        if (!dot_line_ && ++size_ > max_size_) reject(reason::too_big);
    }
    consumed = in.size();
    return status::more;
}

} // namespace mailgate::protocols::smtp
