// The rotating ticket keys, kept in the SSL_CTX's ex data; rotation happens lazily on use (no timer).
#include "server/net/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <array>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace mailgate::net {

namespace {

struct ticket_key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    std::chrono::steady_clock::time_point born{};
    bool valid = false;
};

class key_ring {
public:
    explicit key_ring(std::chrono::seconds rotation) : rotation_(rotation) {}
    ~key_ring() { OPENSSL_cleanse(keys_, sizeof keys_); }

    // The key to issue a ticket under (rotated first when due).
    ticket_key current() {
        std::lock_guard lock(mutex_);
        rotate_if_due();
        return keys_[0];
    }
    // The current or previous key named `name`; invalid when unknown.
    ticket_key find(const unsigned char* name) {
        std::lock_guard lock(mutex_);
        rotate_if_due();
        for (auto& key : keys_)
            if (key.valid && std::memcmp(key.name.data(), name, 16) == 0) return key;
        return {};
    }

private:
    void rotate_if_due() {
        auto now = std::chrono::steady_clock::now();
        if (keys_[0].valid && now - keys_[0].born < rotation_) return;
        // Too old to be "previous" either (the gateway slept through a period): drop it.
        keys_[1] = keys_[0].valid && now - keys_[0].born < 2 * rotation_ ? keys_[0] : ticket_key{};
        ticket_key fresh;
        if (RAND_bytes(fresh.name.data(), 16) != 1 || RAND_bytes(fresh.aes.data(), 32) != 1 ||
            RAND_bytes(fresh.hmac.data(), 32) != 1)
            throw std::runtime_error("no randomness for a TLS ticket key");
        fresh.born = now;
        fresh.valid = true;
        keys_[0] = fresh;
        OPENSSL_cleanse(&fresh, sizeof fresh);
    }

    std::chrono::seconds rotation_;
    std::mutex mutex_;
    ticket_key keys_[2];
};

void free_ring(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<key_ring*>(ptr); }

int ring_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_ring);
    return index;
}

bool set_hmac_key(EVP_MAC_CTX* hmac, ticket_key& key) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(hmac, params) == 1;
}

// OpenSSL's contract: issuing returns 1 (or -1 on error); accepting returns 0 for an unknown key (full
// handshake), 1 to accept, 2 to accept and issue a fresh ticket.
int on_ticket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* hmac,
              int issuing) {
    auto* ring = static_cast<key_ring*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index()));
    if (!ring) return issuing ? -1 : 0;
    try {
        if (issuing) {
            auto key = ring->current();
            int ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) == 1 &&
                     EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) == 1 &&
                     set_hmac_key(hmac, key);
            std::memcpy(name, key.name.data(), 16);
            OPENSSL_cleanse(&key, sizeof key);
            return ok ? 1 : -1;
        }
        auto key = ring->find(name);
        if (!key.valid) return 0;
        int ok = EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) == 1 &&
                 set_hmac_key(hmac, key);
        OPENSSL_cleanse(&key, sizeof key);
        if (!ok) return -1;
        // Always a fresh ticket: TLS 1.3 clients use each ticket once (RFC 8446 C.4), and OpenSSL sends none
        // after a resumption unless asked to renew; a ticket under the previous key must be replaced anyway.
        return 2;
    } catch (const std::exception&) {
        return -1;
    }
}

} // namespace

void enable_rotating_tickets(SSL_CTX* context, std::chrono::seconds rotation, long cached_sessions) {
    delete static_cast<key_ring*>(SSL_CTX_get_ex_data(context, ring_index()));
    SSL_CTX_set_ex_data(context, ring_index(), new key_ring(rotation));
    SSL_CTX_set_tlsext_ticket_key_evp_cb(context, on_ticket);
    SSL_CTX_set_timeout(context, static_cast<long>(rotation.count()));
    static const unsigned char id_context[] = "mailgate";
    SSL_CTX_set_session_id_context(context, id_context, sizeof id_context - 1);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(context, cached_sessions);
}

} // namespace mailgate::net
