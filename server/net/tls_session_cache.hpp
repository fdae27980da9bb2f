// Client-side TLS session cache for provider connections. Resuming (a TLS 1.3 ticket or a TLS 1.2 session id)
// skips the full handshake's key exchange and certificate chain on every login. A session is offered again only
// to the same host name and port through the same verifying context it was first verified under.
#pragma once

#include <cstdint>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace mailgate::net {

struct tls_resumption_stats {
    std::uint64_t offered = 0; // handshakes that offered a cached session
    std::uint64_t resumed = 0; // ... and were resumed by the provider
    std::uint64_t stored = 0;  // sessions (tickets) received and kept
};

// Gives `context` (a client context) its own cache, freed with the context. TLS 1.3 tickets are used once each
// (RFC 8446 C.4); TLS 1.2 sessions until they expire. At most `per_peer` sessions per host:port, 4,096 in all.
// Many are kept because a burst of logins (a restart, an office arriving at 9:00) needs a ticket each: a full
// handshake instead costs CPU, and its connection then holds its own decoded copy of the provider's certificate
// (~2.5 KiB per idle session, where resumed connections share one).
void enable_session_resumption(SSL_CTX* context, std::size_t per_peer = 256);

// Before the handshake: ties `ssl` to "host:port" and offers a cached session for it, if the context has a cache.
void offer_cached_session(SSL* ssl, const std::string& host, std::uint16_t port);
// After the handshake: counts whether the offered session was resumed.
void note_handshake_done(SSL* ssl);

tls_resumption_stats resumption_stats(SSL_CTX* context);
// The stats as Prometheus lines (mailgate_upstream_tls_*_total); empty without a cache.
std::string upstream_resumption_metrics(SSL_CTX* context);

} // namespace mailgate::net
