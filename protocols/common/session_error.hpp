// Why a server codec (facing a legacy client) ended the session. All values end the session; the codec has
// already queued the protocol's goodbye where one is due.
#pragma once

#include <system_error>

namespace mailgate::protocols {

enum class session_errc {
    client_quit = 1,   // orderly end: the client said QUIT/LOGOUT
    client_closed,     // the client closed the connection
    line_too_long,     // a command line over the protocol's limit
    too_many_failures, // repeated failed logins
    garbage,           // bytes that are not the protocol (binary, NUL, bare LF)
    tls_on_plaintext,  // a TLS ClientHello on a plaintext port
    upstream_failed,   // the provider broke while the gateway served the client itself (POP3 maildrop)
    internal_error,    // the gateway's own data breaks the protocol (a maildrop UIDL outside RFC 1939 §7)
};

const std::error_category& session_category() noexcept;

inline std::error_code make_error_code(session_errc e) noexcept {
    return {static_cast<int>(e), session_category()};
}

} // namespace mailgate::protocols

template <> struct std::is_error_code_enum<mailgate::protocols::session_errc> : std::true_type {};
