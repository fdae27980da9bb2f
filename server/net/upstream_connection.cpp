// Upstream connect + TLS + codec driving.
#include "server/net/upstream_connection.hpp"

#include "server/net/codec_driver.hpp"
#include "server/net/peer_verification.hpp"
#include "server/net/resolved_addresses.hpp"
#include "server/net/timed.hpp"
#include "server/net/tls_session_cache.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>

namespace mailgate::net {

namespace asio = boost::asio;
using boost::system::system_error;

std::string_view to_string(upstream_step s) {
    switch (s) {
    case upstream_step::resolve: return "resolve";
    case upstream_step::connect: return "connect";
    case upstream_step::tls: return "tls";
    case upstream_step::login: return "login";
    case upstream_step::logout: return "logout";
    }
    return "?";
}

namespace {

std::string subject_of(X509* cert) {
    if (!cert) return {};
    BIO* bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(len));
    BIO_free(bio);
    return out;
}

// Where a client codec's failure falls in the taxonomy.
domain::failure failure_of(protocols::upstream_errc e) {
    if (e == protocols::upstream_errc::temporarily_unavailable) return domain::failure::temporary;
    switch (protocols::classify(e)) {
    case protocols::upstream_failure_class::auth: return domain::failure::auth_upstream;
    case protocols::upstream_failure_class::tls: return domain::failure::tls;
    case protocols::upstream_failure_class::protocol: break;
    }
    return domain::failure::protocol;
}

void report(const step_observer& observer, upstream_step step, bool ok, const std::string& detail) {
    if (observer) observer(step, ok, detail);
}

} // namespace

upstream_connection::upstream_connection(asio::any_io_executor executor, asio::ssl::context& context)
    : context_(context), stream_(asio::ip::tcp::socket(executor)) {}

void upstream_connection::close() { stream_.close(); }

asio::awaitable<std::optional<upstream_failure>>
upstream_connection::open(const domain::upstream_endpoint& endpoint,
                          std::chrono::steady_clock::duration timeout, const step_observer& observer) {
    host_ = endpoint.host;
    port_ = endpoint.port;
    auto& recent = provider_addresses();
    auto cached = recent.find(endpoint.host, endpoint.port);
    asio::ip::tcp::resolver::results_type addresses;
    if (cached) {
        addresses = *cached;
    } else {
        asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
        try {
            addresses = co_await timed(
                resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), asio::use_awaitable),
                timeout);
        } catch (const system_error& e) {
            std::string reason = "cannot resolve " + endpoint.host + ": " + e.code().message();
            report(observer, upstream_step::resolve, false, reason);
            co_return upstream_failure{domain::failure::connect, reason};
        }
        recent.remember(endpoint.host, endpoint.port, addresses);
    }
    report(observer, upstream_step::resolve, true,
           std::to_string(addresses.size()) + " address(es)" + (cached ? " (resolved recently)" : ""));

    try {
        auto peer =
            co_await timed(asio::async_connect(stream_.socket(), addresses, asio::use_awaitable), timeout);
        boost::system::error_code ignored;
        stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
        report(observer, upstream_step::connect, true,
               peer.address().to_string() + " port " + std::to_string(peer.port()));
    } catch (const system_error& e) {
        recent.forget(endpoint.host, endpoint.port); // the next attempt looks the name up again
        std::string reason = "cannot connect to " + endpoint.host + " port " + std::to_string(endpoint.port) +
                             ": " + e.code().message();
        report(observer, upstream_step::connect, false, reason);
        co_return upstream_failure{domain::failure::connect, reason};
    }

    if (endpoint.tls == protocols::upstream_tls::implicit) co_return co_await secure(timeout, observer);
    co_return std::nullopt;
}

asio::awaitable<std::optional<upstream_failure>>
upstream_connection::secure(std::chrono::steady_clock::duration timeout, const step_observer& observer) {
    try {
        co_await timed(handshake(), timeout);
    } catch (const system_error& e) {
        auto failure = tls_failure(e);
        report(observer, upstream_step::tls, false, failure.reason);
        co_return failure;
    }
    report(observer, upstream_step::tls, true, tls_summary());
    co_return std::nullopt;
}

asio::awaitable<void> upstream_connection::handshake() {
    SSL* ssl = stream_.begin_tls(context_, tls_role::client);
    if (!expect_peer_name(ssl, host_))
        throw system_error(asio::error::invalid_argument,
                           "cannot set up the host name check for '" + host_ + "'");
    offer_cached_session(ssl, host_, port_);
    co_await stream_.handshake();
    note_handshake_done(ssl);
    tls_.resumed = SSL_session_reused(ssl) == 1;
    tls_.version = SSL_get_version(ssl);
    tls_.cipher = SSL_get_cipher_name(ssl);
    X509* peer = SSL_get1_peer_certificate(ssl);
    tls_.subject = subject_of(peer);
    X509_free(peer);
}

std::string upstream_connection::tls_summary() const {
    return tls_.version + ", " + tls_.cipher + ", verified " + tls_.subject +
           (tls_.resumed ? ", resumed" : "");
}

upstream_failure upstream_connection::tls_failure(const system_error& e) const {
    if (auto why = verification_failure(stream_.ssl(), host_)) return {domain::failure::tls, *why};
    if (e.code() == asio::error::timed_out) return {domain::failure::tls, "TLS handshake timed out"};
    if (e.code() == asio::error::invalid_argument) return {domain::failure::tls, e.what()};
    return {domain::failure::tls, "TLS handshake failed: " + e.code().message()};
}

asio::awaitable<std::optional<upstream_failure>>
upstream_connection::drive(protocols::upstream_codec& codec, upstream_step step,
                           std::chrono::steady_clock::duration timeout, const step_observer& observer) {
    co_return co_await drive(
        codec, step, [timeout](protocols::read_deadline) { return timeout; }, observer);
}

asio::awaitable<std::optional<upstream_failure>> upstream_connection::drive(protocols::upstream_codec& codec,
                                                                            upstream_step step,
                                                                            const io_deadlines& deadlines,
                                                                            const step_observer& observer) {
    std::array<char, 16 * 1024> buffer;
    bool in_tls = false;
    codec_io io{stream_, buffer, deadlines, [&]() -> asio::awaitable<void> {
                    in_tls = true;
                    co_await handshake();
                    in_tls = false;
                    report(observer, upstream_step::tls, true, "STARTTLS, " + tls_summary());
                }};
    try {
        auto outcome = co_await run_io(codec, io);
        if (outcome == protocols::client_step::done) {
            report(observer, step, true, {});
            co_return std::nullopt;
        }
        std::string reason = codec.error().message();
        if (!codec.diagnostics().empty()) reason += ": " + codec.diagnostics();
        auto kind = failure_of(static_cast<protocols::upstream_errc>(codec.error().value()));
        report(observer,
               step == upstream_step::login && kind == domain::failure::tls ? upstream_step::tls : step,
               false, reason);
        co_return upstream_failure{kind, reason, codec.error()};
    } catch (const system_error& e) {
        if (in_tls) {
            auto failure = tls_failure(e);
            report(observer, upstream_step::tls, false, failure.reason);
            co_return failure;
        }
        std::string reason = e.code() == asio::error::timed_out
                                 ? "provider did not answer in time"
                                 : "connection to provider failed: " + e.code().message();
        report(observer, step, false, reason);
        co_return upstream_failure{domain::failure::connect, reason};
    }
}

} // namespace mailgate::net
