// The per-context session store behind upstream TLS resumption, kept in the SSL_CTX's ex data.
#include "server/net/tls_session_cache.hpp"

#include <openssl/ssl.h>

#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

namespace mailgate::net {

namespace {

class session_store {
public:
    explicit session_store(std::size_t per_peer) : per_peer_(per_peer) {}
    ~session_store() {
        for (auto& [key, sessions] : peers_)
            for (auto* s : sessions) SSL_SESSION_free(s);
    }

    void keep(const std::string& key, SSL_SESSION* session) {
        std::lock_guard lock(mutex_);
        if ((peers_.size() >= max_peers && !peers_.count(key)) || kept_ >= max_kept) {
            SSL_SESSION_free(session);
            return;
        }
        auto& sessions = peers_[key];
        sessions.push_back(session);
        ++kept_;
        while (sessions.size() > per_peer_) {
            SSL_SESSION_free(sessions.front());
            sessions.pop_front();
            --kept_;
        }
        ++stats_.stored;
    }

    // A live session for `key` (a reference the caller frees), or null.
    SSL_SESSION* take(const std::string& key) {
        std::lock_guard lock(mutex_);
        auto it = peers_.find(key);
        if (it == peers_.end()) return nullptr;
        auto& sessions = it->second;
        auto now = static_cast<long>(std::time(nullptr));
        while (!sessions.empty()) {
            SSL_SESSION* s = sessions.back();
            bool live =
                SSL_SESSION_is_resumable(s) && SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) > now;
            if (!live) {
                SSL_SESSION_free(s);
                sessions.pop_back();
                --kept_;
                continue;
            }
            // A TLS 1.3 ticket is offered once; a TLS 1.2 session stays, and the connection gets a copy (OpenSSL
            // marks the object it used unresumable when that connection ends uncleanly).
            if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
                sessions.pop_back();
                --kept_;
            } else if (!(s = SSL_SESSION_dup(s)))
                return nullptr;
            ++stats_.offered;
            return s;
        }
        peers_.erase(it);
        return nullptr;
    }

    void count_resumed() {
        std::lock_guard lock(mutex_);
        ++stats_.resumed;
    }
    tls_resumption_stats stats() {
        std::lock_guard lock(mutex_);
        return stats_;
    }

private:
    static constexpr std::size_t max_peers = 1024;
    static constexpr std::size_t max_kept = 4096; // about 1 KiB each (the certificates are shared)
    std::size_t kept_ = 0;
    std::size_t per_peer_;
    std::mutex mutex_;
    std::map<std::string, std::deque<SSL_SESSION*>> peers_;
    tls_resumption_stats stats_;
};

void free_store(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<session_store*>(ptr);
}
void free_key(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(ptr); }

int store_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_store);
    return index;
}
int key_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_key);
    return index;
}

session_store* store_of(SSL_CTX* context) {
    return static_cast<session_store*>(SSL_CTX_get_ex_data(context, store_index()));
}

// OpenSSL hands over a new session (for TLS 1.3 after the handshake, when a ticket arrives). A copy is kept: when
// the connection ends without our close_notify (the provider hung up first, or a client vanished) OpenSSL marks
// the connection's own session object unresumable, although the ticket in it is as good as ever.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* store = store_of(SSL_get_SSL_CTX(ssl));
    auto* key = static_cast<std::string*>(SSL_get_ex_data(ssl, key_index()));
    if (!store || !key || !SSL_SESSION_is_resumable(session)) return 0;
    if (SSL_SESSION* copy = SSL_SESSION_dup(session)) store->keep(*key, copy);
    return 0;
}

} // namespace

void enable_session_resumption(SSL_CTX* context, std::size_t per_peer) {
    delete store_of(context);
    SSL_CTX_set_ex_data(context, store_index(), new session_store(per_peer));
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context, on_new_session);
}

void offer_cached_session(SSL* ssl, const std::string& host, std::uint16_t port) {
    auto* store = store_of(SSL_get_SSL_CTX(ssl));
    if (!store) return;
    auto key = std::make_unique<std::string>(host + ":" + std::to_string(port));
    if (SSL_SESSION* session = store->take(*key)) {
        SSL_set_session(ssl, session);
        SSL_SESSION_free(session);
    }
    if (SSL_set_ex_data(ssl, key_index(), key.get()) == 1) key.release();
}

void note_handshake_done(SSL* ssl) {
    auto* store = store_of(SSL_get_SSL_CTX(ssl));
    if (store && SSL_session_reused(ssl)) store->count_resumed();
}

tls_resumption_stats resumption_stats(SSL_CTX* context) {
    auto* store = store_of(context);
    return store ? store->stats() : tls_resumption_stats{};
}

std::string upstream_resumption_metrics(SSL_CTX* context) {
    if (!store_of(context)) return {};
    auto s = resumption_stats(context);
    return "# HELP mailgate_upstream_tls_resumption_offered_total Provider handshakes that offered a cached "
           "session.\n# TYPE mailgate_upstream_tls_resumption_offered_total counter\n"
           "mailgate_upstream_tls_resumption_offered_total " +
           std::to_string(s.offered) +
           "\n# HELP mailgate_upstream_tls_resumed_total Provider handshakes resumed (no full handshake).\n"
           "# TYPE mailgate_upstream_tls_resumed_total counter\nmailgate_upstream_tls_resumed_total " +
           std::to_string(s.resumed) + "\n";
}

} // namespace mailgate::net
