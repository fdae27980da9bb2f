// Client side of SASL PLAIN (RFC 4616) and LOGIN, as the gateway uses them toward providers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailgate::protocols::sasl {

// Base64 of "\0user\0secret"; nullopt when a field holds NUL, which PLAIN cannot carry. The result is a
// credential: it goes out through upstream_codec::send_credential(), which wipes it.
std::optional<std::string> plain_initial_response(std::string_view user, std::string_view secret);

} // namespace mailgate::protocols::sasl
