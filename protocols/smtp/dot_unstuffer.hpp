// The message inside SMTP DATA as it was written (RFC 5321 §4.5.2 reversed): the leading dot of each line
// removed and the final "." line dropped. Input is what the data decoder forwards (strictly CRLF, ending in
// CRLF "." CRLF), in chunks of any size.
#pragma once

#include <string>
#include <string_view>

namespace mailgate::protocols::smtp {

class dot_unstuffer {
public:
    // Appends the message bytes of `wire` to `out`; bytes after the end marker are ignored.
    void feed(std::string_view wire, std::string& out);
    bool ended() const { return state_ == state::ended; }

private:
    enum class state { line_start, dot, dot_cr, in_line, ended };
    state state_ = state::line_start;
};

} // namespace mailgate::protocols::smtp
