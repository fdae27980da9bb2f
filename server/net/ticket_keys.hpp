// LAN-side TLS resumption: session tickets (RFC 5077, RFC 8446 §4.6.1) under a key that rotates, so a client that
// reconnects every few minutes skips the full handshake, and a stolen or leaked ticket key opens at most two
// rotation periods of sessions. Keys live in memory only; a restart starts afresh (clients fall back to a full
// handshake).
#pragma once

#include <chrono>

typedef struct ssl_ctx_st SSL_CTX;

namespace mailgate::net {

// Installs the ticket key callback on a server context: tickets are issued under the current key and accepted
// under it or the previous one, and every accepted ticket is replaced by a fresh one. Session lifetime = `rotation`, so no ticket outlives its key.
// TLS 1.2 clients without tickets use OpenSSL's session-id cache, bounded to `cached_sessions`.
void enable_rotating_tickets(SSL_CTX* context, std::chrono::seconds rotation = std::chrono::hours(1),
                             long cached_sessions = 4096);

} // namespace mailgate::net
