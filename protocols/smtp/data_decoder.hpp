// Streams SMTP DATA (RFC 5321 §4.1.1.4, §4.5.2): passes the dot-stuffed bytes through unchanged, finds the one
// true end of data (<CRLF>.<CRLF>), and refuses bare CR or bare LF anywhere (SMTP smuggling, CVE-2023-51764).
// Everything it emits has strictly CRLF line ends, so nothing it forwards can be read differently downstream.
//
// A client whose lines end in LF alone (old scanners, scripts) ends its data with "\n.\n", which is no end of
// data. Strictly, such data is refused and also ends at a lone dot between any line ends, marked `loose_end`:
// the client hears its refusal at once instead of waiting for a CRLF.CRLF that never comes, and the session then
// closes, because bytes after a loose end may be a smuggled command. With line_ends::normalize a bare LF is a
// line end and is forwarded as CRLF (the provider still only ever sees CRLF), and refused data ends at a lone
// dot between any line ends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailgate::protocols::smtp {

class data_decoder {
public:
    enum class status {
        more,     // all input consumed; more data expected
        end,      // the end marker was seen; `consumed` tells where the data ended
        rejected, // the data held a bare CR/LF or exceeded the size limit; it was consumed up to its end marker
    };
    enum class reason { none, bare_line_end, too_big, abandoned };
    enum class line_ends { strict, normalize };

    explicit data_decoder(std::uint64_t max_size, line_ends mode = line_ends::strict)
        : max_size_(max_size), mode_(mode) {}

    // Appends forwardable bytes (including the final ".\r\n" when the end is reached) to `out`. After `rejected`
    // or while discarding, nothing more is emitted. `consumed` is how much of `in` belongs to the data.
    status decode(std::string_view in, std::string& out, std::size_t& consumed);

    reason why() const { return reason_; }
    // Stop emitting and only look for the end marker (the far side is gone).
    void abandon() {
        if (reason_ == reason::none) reject(reason::abandoned);
    }
    bool discarding() const { return reason_ != reason::none; }
    // Message bytes seen: with CRLFs, without dot-stuffing and the terminator (as RFC 1870 SIZE counts them).
    std::uint64_t size() const { return size_; }
    // After `rejected` for a bare line end: the data ended at a lone dot with a bare LF or CR next to it.
    bool loose_end() const { return loose_end_; }

private:
    void reject(reason r);
    // A line end (CRLF, or a bare LF with normalize), forwarded as CRLF; true when it ends a lone dot: the end.
    bool line_end(std::string& out);
    // While discarding refused LF-only data: true when `c` completes a lone-dot line under any line ends.
    bool loose_terminator(char c);

    std::uint64_t max_size_;
    line_ends mode_;
    std::uint64_t size_ = 0;
    bool line_start_ = true;
    bool after_cr_ = false;
    bool dot_line_ = false; // the current line so far is exactly "."
    reason reason_ = reason::none;
    unsigned match_ = 2; // while discarding: how much of "\r\n.\r\n" has matched (starts as after a CRLF)
    // While discarding after a bare line end: where the current line stands for loose_terminator.
    enum class loose { mid_line, line_start, dot, dot_cr } loose_ = loose::mid_line;
    bool loose_end_ = false;
};

} // namespace mailgate::protocols::smtp
