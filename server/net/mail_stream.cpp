// Plaintext/TLS stream over a non-blocking socket with OpenSSL driven by readiness waits.
#include "server/net/mail_stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace mailgate::net {

namespace asio = boost::asio;
using boost::system::error_code;
using boost::system::system_error;

namespace {

// OpenSSL reports "peer closed without close_notify" as SSL_ERROR_SYSCALL with errno 0 or as this reason; both are
// treated as EOF, like asio's stream_truncated.
bool unexpected_eof(int ssl_error) {
    if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return true;
    return ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

// An IPv4 client reached through a dual-stack socket (or named so by an IPv6 balancer) is still that IPv4 client:
// access lists and per-address caps see it as a.b.c.d.
std::string client_address_text(asio::ip::address address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    return address.to_string();
}

} // namespace

mail_stream::mail_stream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    if (ec) {
        peer_address_ = "unknown";
    } else {
        peer_address_ = client_address_text(endpoint.address());
    }
}

void mail_stream::set_peer_address(const std::string& address) {
    error_code ec;
    auto parsed = asio::ip::make_address(address, ec);
    peer_address_ = ec ? address : client_address_text(parsed);
}

mail_stream::mail_stream(mail_stream&& other) noexcept
    : socket_(std::move(other.socket_)), ssl_(other.ssl_), peer_address_(std::move(other.peer_address_)) {
    other.ssl_ = nullptr;
}

mail_stream::~mail_stream() { SSL_free(ssl_); }

SSL* mail_stream::begin_tls(asio::ssl::context& context, tls_role role) {
    socket_.non_blocking(true);
    ssl_ = SSL_new(context.native_handle());
    if (!ssl_)
        throw system_error(error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()));
    SSL_set_fd(ssl_, socket_.native_handle()); // the socket stays owned (and closed) by asio
    if (role == tls_role::client)
        SSL_set_connect_state(ssl_);
    else
        SSL_set_accept_state(ssl_);
    return ssl_;
}

template <class Call> asio::awaitable<int> mail_stream::drive(Call call) {
    for (;;) {
        ERR_clear_error();
        int result = call();
        if (result > 0) co_return result;
        int error = SSL_get_error(ssl_, result);
        if (error == SSL_ERROR_WANT_READ) {
            co_await socket_.async_wait(asio::socket_base::wait_read, asio::use_awaitable);
        } else if (error == SSL_ERROR_WANT_WRITE) {
            co_await socket_.async_wait(asio::socket_base::wait_write, asio::use_awaitable);
        } else if (error == SSL_ERROR_ZERO_RETURN || unexpected_eof(error)) {
            co_return 0;
        } else {
            auto code = ERR_get_error();
            ERR_clear_error();
            if (code == 0)
                throw system_error(error_code(errno ? errno : EIO, boost::system::system_category()));
            throw system_error(error_code(static_cast<int>(code), asio::error::get_ssl_category()));
        }
    }
}

asio::awaitable<void> mail_stream::handshake() {
    if (co_await drive([this] { return SSL_do_handshake(ssl_); }) == 0)
        throw system_error(asio::error::connection_reset);
}

asio::awaitable<std::size_t> mail_stream::read_some(asio::mutable_buffer buffer) {
    if (ssl_) {
        auto* p = static_cast<char*>(buffer.data());
        int n = co_await drive([&] { return SSL_read(ssl_, p, static_cast<int>(buffer.size())); });
        // Fill the rest from records OpenSSL already holds, so a relay forwards bursts, not single records.
        auto total = static_cast<std::size_t>(n);
        while (n > 0 && total < buffer.size() && (SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_))) {
            ERR_clear_error();
            n = SSL_read(ssl_, p + total, static_cast<int>(buffer.size() - total));
            if (n > 0) total += static_cast<std::size_t>(n);
        }
        ERR_clear_error();
        co_return total;
    }
    error_code ec;
    std::size_t n = co_await socket_.async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof || ec == asio::error::connection_reset) co_return 0;
    if (ec) throw system_error(ec);
    co_return n;
}

asio::awaitable<void> mail_stream::write(asio::const_buffer bytes) {
    if (!ssl_) {
        co_await asio::async_write(socket_, bytes, asio::use_awaitable);
        co_return;
    }
    const char* p = static_cast<const char*>(bytes.data());
    std::size_t left = bytes.size();
    while (left > 0) {
        int n = co_await drive([&] { return SSL_write(ssl_, p, static_cast<int>(left)); });
        if (n == 0) throw system_error(asio::error::connection_reset);
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void mail_stream::write_now(std::string_view bytes) {
    if (!socket_.is_open()) return;
    if (ssl_) {
        ERR_clear_error();
        SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
        ERR_clear_error();
        return;
    }
    error_code ignored;
    socket_.non_blocking(true, ignored);
    socket_.write_some(asio::buffer(bytes), ignored);
}

bool mail_stream::has_buffered() const { return ssl_ && (SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_)); }

asio::awaitable<void> mail_stream::wait_readable() {
    // With read-ahead, whole records may sit unprocessed inside OpenSSL while the socket has nothing more.
    if (has_buffered()) co_return;
    co_await socket_.async_wait(asio::socket_base::wait_read, asio::use_awaitable);
}

std::string mail_stream::tls_version() const { return ssl_ ? SSL_get_version(ssl_) : "none"; }

void mail_stream::close() {
    error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
}

} // namespace mailgate::net
