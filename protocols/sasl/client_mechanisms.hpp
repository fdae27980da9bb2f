// Client side of the SASL mechanisms the gateway uses toward providers: PLAIN (RFC 4616) for passwords, XOAUTH2
// and OAUTHBEARER (RFC 7628) for OAuth2 access tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailgate::protocols::sasl {

// Every result below is a credential: it goes out through upstream_codec::send_credential() (or
// hold_credential(), send_with_initial_response()), which remembers it for redaction and wipes it.

// Base64 of "\0user\0secret"; nullopt when a field holds NUL, which PLAIN cannot carry.
std::optional<std::string> plain_initial_response(std::string_view user, std::string_view secret);

// Base64 of "user=" user "\x01auth=Bearer " token "\x01\x01" (Google's and Microsoft's XOAUTH2); nullopt when
// the user or token holds \x01, CR, LF or NUL.
std::optional<std::string> xoauth2_initial_response(std::string_view user, std::string_view token);

// Base64 of the RFC 7628 §3.1 message: the GS2 header "n,a=" saslname(user) "," (RFC 5801; "n,," for an empty
// user), then the kvpairs host (left out when empty), port (left out when 0) and auth, each ended by \x01, and
// a final \x01. nullopt when the user, token or host holds \x01, CR, LF or NUL.
std::optional<std::string> oauthbearer_initial_response(std::string_view user, std::string_view token,
                                                        std::string_view host, std::uint16_t port);

// The answer to a provider's error report after a failed bearer login, which makes it send its final reply:
// an empty response for XOAUTH2, base64("\x01") for OAUTHBEARER (RFC 7628 §3.2.3).
inline constexpr std::string_view xoauth2_error_answer = "";
inline constexpr std::string_view oauthbearer_error_answer = "AQ==";

} // namespace mailgate::protocols::sasl
