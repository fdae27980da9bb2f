// Streams SMTP DATA (RFC 5321 §4.1.1.4, §4.5.2): passes the dot-stuffed bytes through unchanged, finds the one
// true end of data (<CRLF>.<CRLF>), and refuses bare CR or bare LF anywhere (SMTP smuggling, CVE-2023-51764).
// Everything it emits has strictly CRLF line ends, so nothing it forwards can be read differently downstream.
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

    explicit data_decoder(std::uint64_t max_size) : max_size_(max_size) {}

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

private:
    void reject(reason r);

    std::uint64_t max_size_;
    std::uint64_t size_ = 0;
    bool line_start_ = true;
    bool after_cr_ = false;
    bool dot_line_ = false; // the current line so far is exactly "."
    reason reason_ = reason::none;
    unsigned match_ = 2; // while discarding: how much of "\r\n.\r\n" has matched (starts as after a CRLF)
};

} // namespace mailgate::protocols::smtp
