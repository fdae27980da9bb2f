// A session's own log lines.
#include "server/proxy/session_context.hpp"

#include "protocols/common/session_error.hpp"

namespace mailgate::proxy {

void session_context::plaintext_dropped(std::size_t bytes) const {
    if (bytes > 0) warn("{} bytes sent after STARTTLS before the handshake were dropped unread", bytes);
}

void session_context::dialogue_ended(std::error_code why) const {
    bool routine =
        why == protocols::session_errc::client_quit || why == protocols::session_errc::client_closed;
    if (routine)
        debug("{}", why.message());
    else
        info("closing: {}", why.message());
}

} // namespace mailgate::proxy
