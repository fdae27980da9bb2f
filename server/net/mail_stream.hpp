// A mail connection, either side: plaintext TCP that can become TLS in-session (STARTTLS/STLS) or at once
// (implicit TLS). OpenSSL is driven directly over the non-blocking socket instead of asio::ssl::stream, whose fixed
// per-stream buffers (~34 KiB) we cannot afford for thousands of idle sessions; with SSL_MODE_RELEASE_BUFFERS an
// idle TLS connection then holds only OpenSSL's own state, and a plaintext one holds nothing but the socket.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

typedef struct ssl_st SSL;

namespace mailgate::net {

enum class tls_role { client, server };

class mail_stream {
public:
    explicit mail_stream(boost::asio::ip::tcp::socket socket);
    mail_stream(mail_stream&&) noexcept;
    ~mail_stream();

    // Reads what is available; 0 means the peer closed (EOF, close_notify, or a truncated TLS stream).
    boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer);
    boost::asio::awaitable<void> write(boost::asio::const_buffer bytes);
    // Best effort, never waits: for a last line (a shutdown goodbye) just before close().
    void write_now(std::string_view bytes);
    // Completes when read_some would not block (decrypted bytes already buffered count as readable).
    boost::asio::awaitable<void> wait_readable();
    // Whether TLS holds bytes (decrypted, or whole records read ahead) that read_some returns without the socket.
    bool has_buffered() const;

    // Creates the TLS state; configure it through ssl() (SNI, host checks) before handshake().
    SSL* begin_tls(boost::asio::ssl::context& context, tls_role role);
    boost::asio::awaitable<void> handshake();

    bool tls_active() const { return ssl_ != nullptr; }
    SSL* ssl() const { return ssl_; }
    std::string tls_version() const;
    const std::string& peer_address() const { return peer_address_; }
    // The client a trusted balancer's PROXY header names, in place of the balancer's own address.
    void set_peer_address(const std::string& address);
    boost::asio::ip::tcp::socket& socket() { return socket_; }
    void close();

private:
    // Runs one OpenSSL call until it completes, waiting on the socket as OpenSSL asks.
    template <class Call> boost::asio::awaitable<int> drive(Call call);

    boost::asio::ip::tcp::socket socket_;
    SSL* ssl_ = nullptr;
    std::string peer_address_;
};

} // namespace mailgate::net
