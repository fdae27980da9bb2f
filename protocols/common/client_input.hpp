// What a server codec receives from a legacy client: the line buffer, whether the client has closed, the check
// for a TLS handshake on a plaintext port, skipping the rest of an over-long line, and the bytes a client
// pipelined past its login. Shared by the POP3, IMAP and SMTP server codecs.
#pragma once

#include "protocols/common/line_buffer.hpp"

#include <string>
#include <string_view>

namespace mailgate::protocols {

class client_input {
public:
    explicit client_input(std::size_t max_line) : lines_(max_line) {}

    // Empty `bytes`: the client closed. False: these are the first bytes of a connection without TLS and they start
    // a TLS handshake (a client set up for implicit TLS on the plain port); nothing is buffered then.
    bool receive(std::string_view bytes, bool tls_active);
    bool client_closed() const { return eof_; }

    // Drops the current over-long line through its LF, also when that LF has not arrived yet.
    void skip_line() { skipping_ = !lines_.discard_line(); }
    // Everything buffered and not yet parsed, handed over (to the relay) and forgotten.
    std::string take_pipelined();

    line_buffer& lines() { return lines_; }
    const line_buffer& lines() const { return lines_; }

private:
    line_buffer lines_;
    bool eof_ = false;
    bool first_ = true;
    bool skipping_ = false;
};

} // namespace mailgate::protocols
