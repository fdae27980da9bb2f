// Accumulates bytes from a peer and hands out CRLF-terminated lines, with a hard length limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailgate::protocols {

class line_buffer {
public:
    enum class result { line, need_more, too_long, bare_lf };

    explicit line_buffer(std::size_t max_line) : max_line_(max_line) {}
    line_buffer(const line_buffer&) = default;
    line_buffer(line_buffer&&) = default;
    line_buffer& operator=(const line_buffer&) = default;
    line_buffer& operator=(line_buffer&&) = default;
    // Pre-login lines carry passwords: nothing read is handed back to the heap unwiped.
    ~line_buffer();

    void append(std::string_view bytes);
    // A lone LF then ends a line like CRLF (SMTP's smtp.bare_lf = normalize) instead of being `bare_lf`.
    void accept_bare_lf(bool accept) { accept_bare_lf_ = accept; }

    // On `line`, `out` holds the line without its CRLF (valid until the next call).
    // A lone LF is a protocol violation (strict by default); a line longer than the limit is `too_long`.
    result next_line(std::string_view& out);

    // Raw bytes (IMAP literals): true when `n` bytes were available and were taken into `out`.
    bool take_bytes(std::size_t n, std::string_view& out);

    std::size_t buffered() const { return data_.size() - pos_; }
    std::string_view rest() const { return std::string_view(data_).substr(pos_); }
    // Drops everything buffered, wiping it.
    void clear();
    // Drops the current (over-long) line through its LF; false when no LF has arrived yet (all is dropped).
    bool discard_line();
    // Wipes the bytes already handed out and whatever earlier compactions left past the end of the buffer,
    // keeping what is not consumed yet: for server codecs once a line that may hold a credential is parsed.
    // Not done on every compaction, which would cost the SMTP DATA path a second pass over every byte.
    void wipe_spent() noexcept;

private:
    void compact();

    std::string data_;
    std::size_t pos_ = 0;
    std::size_t max_line_;
    bool accept_bare_lf_ = false;
};

} // namespace mailgate::protocols
