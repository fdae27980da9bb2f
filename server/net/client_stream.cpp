// Upgradable client stream.
#include "server/net/client_stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace mailgate::net {

namespace asio = boost::asio;

client_stream::client_stream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    boost::system::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    peer_address_ = ec ? "unknown" : endpoint.address().to_string();
}

asio::any_io_executor client_stream::get_executor() {
    return tls_ ? tls_->get_executor() : socket_.get_executor();
}

asio::awaitable<std::size_t> client_stream::read_some(asio::mutable_buffer buffer) {
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    std::size_t n = tls_ ? co_await tls_->async_read_some(buffer, token) : co_await socket_.async_read_some(buffer, token);
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset)
        co_return 0;
    if (ec) throw boost::system::system_error(ec);
    co_return n;
}

asio::awaitable<void> client_stream::write(asio::const_buffer bytes) {
    if (tls_)
        co_await asio::async_write(*tls_, bytes, asio::use_awaitable);
    else
        co_await asio::async_write(socket_, bytes, asio::use_awaitable);
}

asio::awaitable<void> client_stream::start_tls(asio::ssl::context& context) {
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(socket_), context);
    co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
}

std::string client_stream::tls_version() const { return tls_ ? SSL_get_version(tls_->native_handle()) : "none"; }

void client_stream::close() {
    boost::system::error_code ignored;
    if (tls_)
        tls_->lowest_layer().close(ignored);
    else
        socket_.close(ignored);
}

} // namespace mailgate::net
