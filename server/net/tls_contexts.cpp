// Construction of the upstream and local TLS contexts.
#include "server/net/tls_contexts.hpp"

#include "server/net/ticket_keys.hpp"
#include "server/net/tls_session_cache.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <stdexcept>

namespace mailgate::net {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_upstream_context(const std::filesystem::path& extra_ca_file, bool resume) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(native, 1); // one read() per burst instead of two per record
    ctx->set_default_verify_paths();
    if (!extra_ca_file.empty()) ctx->load_verify_file(extra_ca_file.string());
    ctx->set_verify_mode(ssl::verify_peer);
    if (resume) enable_session_resumption(native);
    return ctx;
}

namespace {

// The legacy profile (tls.min_version below 1.2): modern suites first (server preference), then the AES-CBC-SHA
// suites that TLS 1.0/1.1 clients have: ECDHE where the client offers it (Windows Vista and later, Android 4+,
// iOS 5+), plain RSA key exchange for the rest (Android 2.x, Java 6, old macOS Mail). No RC4, 3DES, export or
// anonymous suites: Debian's OpenSSL has none of them, which is why Windows XP's TLS cannot connect.
constexpr const char* legacy_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:"
    "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA:@SECLEVEL=0";

int protocol_floor(min_tls floor) {
    switch (floor) {
    case min_tls::v1_0: return TLS1_VERSION;
    case min_tls::v1_1: return TLS1_1_VERSION;
    case min_tls::v1_2: return TLS1_2_VERSION;
    case min_tls::v1_3: return TLS1_3_VERSION;
    }
    return TLS1_2_VERSION;
}

std::string key_slot(SSL_CTX* native) {
    EVP_PKEY* key = X509_get0_pubkey(SSL_CTX_get0_certificate(native));
    return key && EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?";
}

} // namespace

std::shared_ptr<ssl::context> make_server_context(const std::vector<key_pair_files>& pairs, min_tls floor) {
    if (pairs.empty()) throw std::runtime_error("tls.cert: no certificate");
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    int version = protocol_floor(floor);
    if (legacy_profile(floor)) {
        // TLS 1.0/1.1 clients need SHA-1 and CBC suites that OpenSSL 3 only allows at level 0.
        SSL_CTX_set_security_level(native, 0);
        SSL_CTX_set_cipher_list(native, legacy_ciphers);
    }
    SSL_CTX_set_min_proto_version(native, version);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                     ssl::context::single_dh_use);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    enable_rotating_tickets(native);
    // One certificate per key type: OpenSSL keeps a slot for each and serves the one the client can verify.
    std::vector<std::string> slots;
    for (const auto& pair : pairs) {
        boost::system::error_code ec;
        ctx->use_certificate_chain_file(pair.cert.string(), ec);
        if (ec)
            throw std::runtime_error("tls.cert: cannot load '" + pair.cert.string() + "': " + ec.message());
        auto slot = key_slot(native);
        if (std::find(slots.begin(), slots.end(), slot) != slots.end())
            throw std::runtime_error("tls.cert: '" + pair.cert.string() + "' is a second " + slot +
                                     " certificate; give one certificate per key type");
        slots.push_back(slot);
        ctx->use_private_key_file(pair.key.string(), ssl::context::pem, ec);
        if (ec || SSL_CTX_check_private_key(native) != 1)
            throw std::runtime_error("tls.key: '" + pair.key.string() +
                                     "' cannot be loaded or does not belong to '" + pair.cert.string() + "'" +
                                     (ec ? ": " + ec.message() : std::string()));
    }
    return ctx;
}

std::string to_string(min_tls v) {
    switch (v) {
    case min_tls::v1_0: return "1.0";
    case min_tls::v1_1: return "1.1";
    case min_tls::v1_2: return "1.2";
    case min_tls::v1_3: return "1.3";
    }
    return "?";
}

} // namespace mailgate::net
