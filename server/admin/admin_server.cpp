// Beast HTTP(S) loop for the admin page.
#include "server/admin/admin_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <spdlog/spdlog.h>

namespace mailgate::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr auto read_deadline = std::chrono::seconds(30);
constexpr std::size_t header_limit = 8 * 1024;
constexpr std::size_t body_limit = 64 * 1024;

asio::ip::tcp::acceptor bind_acceptor(asio::io_context& io, const net::host_port& address) {
    auto where = "listen.admin " + address.to_string();
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(address.host, ec);
    if (ec) throw std::runtime_error(where + ": '" + address.host + "' is not an IP address");
    asio::ip::tcp::endpoint endpoint(ip, address.port);
    asio::ip::tcp::acceptor acceptor(io);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error(where + ": cannot listen: " + ec.message());
    return acceptor;
}

// The Host values the page answers to (DNS rebinding defence): its address, localhost and, on loopback, both
// loopback spellings, all with the bound port; then each extra name with and without it.
api_settings with_host_names(api_settings settings, const net::host_port& bound) {
    auto port = ":" + std::to_string(bound.port);
    std::vector<std::string> names{bound.to_string(), "localhost" + port};
    if (bound.host == "127.0.0.1" || bound.host == "::1") {
        names.push_back("127.0.0.1" + port);
        names.push_back("[::1]" + port);
    }
    for (const auto& n : settings.host_names) {
        names.push_back(n);
        names.push_back(n + port);
    }
    settings.host_names = std::move(names);
    return settings;
}

} // namespace

admin_server::admin_server(net::io_pool& pool, const net::host_port& address, const net::cidr_list& allow,
                           const net::server_tls* tls, api_settings settings)
    : pool_(pool), allow_(allow), tls_(tls),
      acceptor_(bind_acceptor(pool.main(), address)), address_{address.host,
                                                               acceptor_.local_endpoint().port()},
      api_(with_host_names(std::move(settings), address_)) {
    api_.set_listener_port(address_.port);
}

void admin_server::start() {
    asio::co_spawn(
        acceptor_.get_executor(), [self = shared_from_this()] { return self->accept_loop(); },
        asio::detached);
}

void admin_server::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

asio::awaitable<void> admin_server::accept_loop() {
    while (acceptor_.is_open()) {
        boost::system::error_code ec;
        auto socket =
            co_await acceptor_.async_accept(pool_.next(), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (!acceptor_.is_open()) break;
            continue;
        }
        auto executor = socket.get_executor();
        asio::co_spawn(executor, session(std::move(socket)), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::warn("admin: connection ended with an internal error: {}", ex.what());
            }
        });
    }
}

asio::awaitable<void> admin_server::session(asio::ip::tcp::socket socket) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    std::string client = ec ? "unknown" : remote.address().to_string();
    if (remote.address().is_v6() && remote.address().to_v6().is_v4_mapped())
        client = asio::ip::make_address_v4(asio::ip::v4_mapped, remote.address().to_v6()).to_string();
    if (!allow_.contains(client)) co_return; // not even an error page for networks that are not served
    beast::tcp_stream stream(std::move(socket));
    if (!tls_) {
        co_await serve(stream, client);
        co_return;
    }
    asio::ssl::stream<beast::tcp_stream> secure(std::move(stream), *tls_->current());
    beast::get_lowest_layer(secure).expires_after(read_deadline);
    auto [hs_error] =
        co_await secure.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (hs_error) co_return;
    co_await serve(secure, client);
}

template <class Stream> asio::awaitable<void> admin_server::serve(Stream& stream, std::string client) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(header_limit);
        parser.body_limit(body_limit);
        beast::get_lowest_layer(stream).expires_after(read_deadline);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout)
            co_return;
        response res;
        bool keep_alive = false;
        if (ec == http::error::header_limit) {
            res = admin_api::json_error(http::status::request_header_fields_too_large, 11,
                                        "request headers too large");
        } else if (ec == http::error::body_limit) {
            res = admin_api::json_error(http::status::payload_too_large, 11, "request body too large");
        } else if (ec) {
            if (n == 0 && buffer.size() == 0) co_return; // connection dropped between requests
            res = admin_api::json_error(http::status::bad_request, 11, "malformed HTTP request");
        } else {
            auto req = parser.release();
            keep_alive = req.keep_alive();
            res = co_await api_.handle(std::move(req), client);
            res.keep_alive(keep_alive);
        }
        beast::get_lowest_layer(stream).expires_after(read_deadline);
        auto [write_error, written] =
            co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        if (write_error || !keep_alive) {
            beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
            co_return;
        }
    }
}

} // namespace mailgate::admin
