// Listener accept loop and per-connection session start.
#include "server/net/listener.hpp"

#include "server/net/timed.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

namespace mailgate::net {

namespace asio = boost::asio;
namespace {
std::atomic<std::size_t> session_count{0};
}

std::size_t listener::active_sessions() { return session_count.load(); }

listener::listener(io_pool& pool, listener_spec spec, std::shared_ptr<session_handler> handler,
                   listener_settings settings)
    : pool_(pool), spec_(std::move(spec)), handler_(std::move(handler)), settings_(settings), acceptor_(pool.main()) {
    auto where = "listen." + spec_.name + " " + spec_.address.to_string();
    boost::system::error_code ec;
    auto address = asio::ip::make_address(spec_.address.host, ec);
    if (ec) throw std::runtime_error(where + ": '" + spec_.address.host + "' is not an IP address");
    asio::ip::tcp::endpoint endpoint(address, spec_.address.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && address.is_v6()) acceptor_.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error(where + ": cannot listen: " + ec.message());
}

void listener::start() {
    asio::co_spawn(acceptor_.get_executor(), [self = shared_from_this()] { return self->accept_loop(); }, asio::detached);
}

void listener::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

asio::awaitable<void> listener::accept_loop() {
    while (acceptor_.is_open()) {
        boost::system::error_code ec;
        auto socket = co_await acceptor_.async_accept(pool_.next(), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
            spdlog::warn("listen.{}: accept failed: {}", spec_.name, ec.message());
            continue; // e.g. EMFILE: keep serving the sessions we have
        }
        // Replies go out as the protocol produces them; Nagle + delayed ACK would add ~40 ms to multi-segment ones.
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        auto executor = socket.get_executor();
        asio::co_spawn(executor, run_session(std::move(socket)), [name = spec_.name](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::warn("{}: session ended with an internal error: {}", name, ex.what());
            }
        });
    }
}

asio::awaitable<void> listener::run_session(asio::ip::tcp::socket socket) {
    ++session_count;
    struct counter_guard {
        ~counter_guard() { --session_count; }
    } guard;
    auto self = shared_from_this();
    mail_stream stream(std::move(socket));
    bool allowed = settings_.allow->contains(stream.peer_address());
    try {
        if (spec_.implicit_tls) {
            stream.begin_tls(*settings_.tls, tls_role::server);
            co_await timed(stream.handshake(), settings_.handshake_timeout);
        }
    } catch (const boost::system::system_error& e) {
        // Scanners and clients that dislike the certificate end here; one debug line is enough.
        spdlog::debug("{}: TLS handshake with {} failed: {}", spec_.name, stream.peer_address(), e.code().message());
        stream.close();
        co_return;
    }
    if (!allowed) {
        spdlog::info("{}: refused {} (not in access.allow)", spec_.name, stream.peer_address());
        co_await handler_->refuse(stream);
    } else {
        co_await handler_->serve(stream, spec_);
    }
    stream.close();
}

} // namespace mailgate::net
