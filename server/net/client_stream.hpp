// A legacy client's connection: plaintext that can be upgraded in-session (STARTTLS/STLS), or implicit TLS.
// The TLS state is allocated only when TLS starts, so plaintext sessions carry none.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <string>

namespace mailgate::net {

class client_stream {
public:
    explicit client_stream(boost::asio::ip::tcp::socket socket);

    // Reads what is available; 0 means the peer closed (EOF or TLS close_notify/truncation).
    boost::asio::awaitable<std::size_t> read_some(boost::asio::mutable_buffer buffer);
    boost::asio::awaitable<void> write(boost::asio::const_buffer bytes);
    // Server-side handshake; afterwards all I/O is encrypted. The caller discards any plaintext it had buffered.
    boost::asio::awaitable<void> start_tls(boost::asio::ssl::context& context);

    bool tls_active() const { return tls_ != nullptr; }
    std::string tls_version() const;
    const std::string& peer_address() const { return peer_address_; }
    boost::asio::any_io_executor get_executor();
    void close();

private:
    boost::asio::ip::tcp::socket socket_;
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
    std::string peer_address_;
};

} // namespace mailgate::net
