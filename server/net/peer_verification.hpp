// Host-name verification of a provider's certificate (mail endpoints and OAuth2 token endpoints alike).
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>

namespace mailgate::net {

// Turns on the certificate's name (or IP address) check for `host`, with SNI for names (RFC 6066 §3). False when
// OpenSSL refused a setting: the handshake would then verify the chain but not the name, so callers fail closed.
bool expect_peer_name(SSL* ssl, const std::string& host);

// After a failed handshake: why verification failed, when it did.
std::optional<std::string> verification_failure(SSL* ssl, const std::string& host);

} // namespace mailgate::net
