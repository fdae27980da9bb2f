// Why an upstream (provider-facing) login failed; shared by the POP3, IMAP and SMTP client codecs.
#pragma once

#include <string_view>
#include <system_error>

namespace mailgate::protocols {

// Every value is fatal for the upstream connection: the client codec stops and the driver closes.
enum class upstream_errc {
    malformed_reply = 1,     // the provider sent something that is not the protocol
    line_too_long,           // a reply line exceeded the codec's limit
    greeting_rejected,       // the provider refused the connection in its greeting
    starttls_unsupported,    // STARTTLS/STLS required by the endpoint but not advertised
    starttls_refused,        // the provider answered STARTTLS/STLS with an error
    data_after_starttls,     // bytes arrived after the STARTTLS reply, before the handshake (CVE-2011-0411)
    no_usable_mechanism,     // the provider offers no login we can use (e.g. LOGINDISABLED, no AUTH)
    credential_unencodable,  // the stored credential holds a byte the protocol cannot carry
    auth_rejected,           // the provider rejected the stored credential
    temporarily_unavailable, // the provider said "try later" to the login
    closed,                  // the provider closed the connection
    reply_too_large,         // a multi-line reply exceeded the codec's line or byte limit
    token_rejected,          // the provider refused the OAuth2 access token (expired, revoked, wrong scope)
    command_refused,         // after login: the provider answered a mailbox command with NO or BAD
};

const std::error_category& upstream_category() noexcept;

inline std::error_code make_error_code(upstream_errc e) noexcept {
    return {static_cast<int>(e), upstream_category()};
}

// Coarse class of an upstream failure, used for the account's status and the client's reply.
enum class upstream_failure_class { protocol, tls, auth };
upstream_failure_class classify(upstream_errc e) noexcept;

} // namespace mailgate::protocols

template <> struct std::is_error_code_enum<mailgate::protocols::upstream_errc> : std::true_type {};
