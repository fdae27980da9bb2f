// Construction of the upstream and local TLS contexts.
#include "server/net/tls_contexts.hpp"

#include "server/net/ticket_keys.hpp"
#include "server/net/tls_session_cache.hpp"

#include <openssl/ssl.h>

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

std::shared_ptr<ssl::context> make_server_context(const std::filesystem::path& cert_chain,
                                                  const std::filesystem::path& key, min_tls floor) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    int version = TLS1_2_VERSION;
    switch (floor) {
    case min_tls::v1_0: version = TLS1_VERSION; break;
    case min_tls::v1_1: version = TLS1_1_VERSION; break;
    case min_tls::v1_2: version = TLS1_2_VERSION; break;
    case min_tls::v1_3: version = TLS1_3_VERSION; break;
    }
    if (version < TLS1_2_VERSION) {
        // TLS 1.0/1.1 clients need SHA-1 and CBC suites that OpenSSL 3 only allows at level 0.
        SSL_CTX_set_security_level(native, 0);
        SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
    }
    SSL_CTX_set_min_proto_version(native, version);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                     ssl::context::single_dh_use);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    enable_rotating_tickets(native);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert_chain.string(), ec);
    if (ec) throw std::runtime_error("tls.cert: cannot load '" + cert_chain.string() + "': " + ec.message());
    ctx->use_private_key_file(key.string(), ssl::context::pem, ec);
    if (ec || SSL_CTX_check_private_key(native) != 1)
        throw std::runtime_error("tls.key: '" + key.string() +
                                 "' cannot be loaded or does not belong to tls.cert" +
                                 (ec ? ": " + ec.message() : std::string()));
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
