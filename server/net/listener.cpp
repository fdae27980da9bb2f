// Listener accept loop, admission (access.allow, caps) and per-connection session start.
#include "server/net/listener.hpp"

#include "server/common/log_rate_limit.hpp"
#include "server/net/proxy_header_reader.hpp"
#include "server/net/timed.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <cerrno>

namespace mailgate::net {

namespace asio = boost::asio;
namespace {

// Out of descriptors or kernel memory: accepting again at once would fail the same way and spin a core.
bool resource_exhausted(const boost::system::error_code& ec) {
    int v = ec.value();
    return ec.category() == boost::system::system_category() &&
           (v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM);
}

constexpr auto min_backoff = std::chrono::milliseconds(50);
constexpr auto max_backoff = std::chrono::milliseconds(1000);

// A co_spawn completion handler that logs what ended a coroutine with an exception, once.
auto log_failure(std::string what) {
    return [what = std::move(what)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::warn("{}: {}", what, ex.what());
        }
    };
}

// A connection that fails the handshake is a scanner or a client that dislikes the certificate: worth a line now
// and then, not one per attempt.
log_rate_limit handshake_failures;

// A client whose TLS this gateway cannot speak at all (Windows XP offers only RC4/3DES; an old client below
// tls.min_version) is something the administrator can act on: said at info level, with what to do.
bool unusable_client_tls(const boost::system::error_code& ec) {
    if (ec.category() != boost::asio::error::get_ssl_category()) return false;
    auto reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    return reason == SSL_R_NO_SHARED_CIPHER || reason == SSL_R_UNSUPPORTED_PROTOCOL ||
           reason == SSL_R_VERSION_TOO_LOW;
}

// " and N more ..." for a rate-limited line that stands for n occurrences.
std::string more_since_last(std::size_t n) {
    return n > 1 ? " and " + std::to_string(n - 1) + " more such since the last report" : "";
}

// A balancer sends the header at once; a connection that sends nothing is a port scan or a misconfigured one.
constexpr auto proxy_header_deadline = std::chrono::seconds(10);

} // namespace

listener::listener(io_pool& pool, listener_spec spec, std::shared_ptr<session_handler> handler,
                   listener_settings settings)
    : pool_(pool), spec_(std::move(spec)), handler_(std::move(handler)), settings_(settings),
      acceptor_(pool.main()) {
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
    // Port 0 asked the kernel for a free port: from here on the spec names the one it gave.
    spec_.address.port = acceptor_.local_endpoint().port();
}

void listener::start() {
    asio::co_spawn(
        acceptor_.get_executor(), [self = shared_from_this()] { return self->accept_loop(); },
        log_failure("listen." + spec_.name + ": no longer accepting"));
}

void listener::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

void listener::turn_away(mail_stream& stream, refusal why, std::string_view detail) {
    static log_rate_limit not_allowed_log, busy_log;
    auto& limiter = why == refusal::not_allowed ? not_allowed_log : busy_log;
    if (auto n = limiter.occurred())
        spdlog::warn("listen.{}: refused {} ({}){}", spec_.name, stream.peer_address(), detail,
                     more_since_last(n));
    // No TLS work for a client we will not serve: on an implicit-TLS port it just sees the connection close.
    if (!spec_.implicit_tls) stream.write_now(handler_->refusal_line(why));
    stream.close();
}

asio::awaitable<void> listener::accept_loop() {
    auto backoff = min_backoff;
    log_rate_limit accept_errors;
    asio::steady_timer pause(acceptor_.get_executor());
    while (acceptor_.is_open()) {
        boost::system::error_code ec;
        auto socket =
            co_await acceptor_.async_accept(pool_.next(), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
            if (auto n = accept_errors.occurred())
                spdlog::warn("listen.{}: accept failed {} time(s) since the last report: {}", spec_.name, n,
                             ec.message());
            if (resource_exhausted(ec)) {
                // Keep serving the sessions we have; the pending connections wait in the backlog meanwhile.
                pause.expires_after(backoff);
                co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                backoff = std::min(backoff * 2, max_backoff);
            }
            continue;
        }
        backoff = min_backoff;
        // Replies go out as the protocol produces them; Nagle + delayed ACK would add ~40 ms to multi-segment ones.
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        mail_stream stream(std::move(socket));
        if (!spec_.proxy_protocol) {
            admit(std::move(stream));
            continue;
        }
        if (!settings_.proxy_trusted->contains(stream.peer_address())) {
            static log_rate_limit untrusted_log;
            if (auto n = untrusted_log.occurred())
                spdlog::warn("listen.{}: closed a connection from {}: it is not in proxy.trusted, and this "
                             "listener expects a PROXY header{}",
                             spec_.name, stream.peer_address(), more_since_last(n));
            stream.close();
            continue;
        }
        auto executor = stream.socket().get_executor();
        asio::co_spawn(executor, admit_proxied(std::move(stream)),
                       log_failure("listen." + spec_.name + ": reading a PROXY header failed"));
    }
}

asio::awaitable<void> listener::admit_proxied(mail_stream stream) {
    auto self = shared_from_this();
    std::string error;
    try {
        auto got = co_await timed(read_proxy_header(stream.socket()), proxy_header_deadline);
        if (auto* header = std::get_if<protocols::proxy_header>(&got)) {
            if (header->proxied) stream.set_peer_address(header->source_address);
        } else {
            error = std::get<std::string>(got);
        }
    } catch (const boost::system::system_error& e) {
        error = e.code() == asio::error::timed_out ? "no PROXY header within 10 s" : e.code().message();
    }
    if (!error.empty()) {
        static log_rate_limit bad_header_log;
        if (auto n = bad_header_log.occurred())
            spdlog::warn("listen.{}: closed a connection from {}: {}{}", spec_.name, stream.peer_address(),
                         error, more_since_last(n));
        stream.close();
        co_return;
    }
    admit(std::move(stream));
}

void listener::admit(mail_stream stream) {
    if (!settings_.allow->contains(stream.peer_address())) {
        turn_away(stream, refusal::not_allowed, "not in access.allow");
        return;
    }
    cap_reached why{};
    auto slot = settings_.limits->admit(stream.peer_address(), why);
    if (!slot) {
        turn_away(stream, refusal::busy, std::string(to_string(why)) + " reached");
        return;
    }
    auto executor = stream.socket().get_executor();
    auto who = spec_.name + " #" + std::to_string(slot->id()) + " from " + stream.peer_address();
    asio::co_spawn(executor, run_session(std::move(stream), std::move(*slot)),
                   log_failure(who + ": session ended with an internal error"));
}

asio::awaitable<void> listener::run_session(mail_stream stream, connection_slot slot) {
    auto self = shared_from_this();
    try {
        if (spec_.implicit_tls) {
            stream.begin_tls(*settings_.tls->current(), tls_role::server);
            // The handshake is part of the pre-login phase and its deadline.
            co_await timed(stream.handshake(), slot.step_limit(std::chrono::seconds(30)));
        }
    } catch (const boost::system::system_error& e) {
        if (auto n = handshake_failures.occurred()) {
            if (unusable_client_tls(e.code()))
                spdlog::info(
                    "{}: TLS handshake with {} failed: {}: the client's TLS is too old for this gateway "
                    "(Windows XP cannot use TLS here: set it up without SSL; Vista/7-era clients need "
                    "tls.min_version = 1.0) ({} such failure(s) since the last report)",
                    spec_.name, stream.peer_address(), e.code().message(), n);
            else
                spdlog::debug(
                    "{}: TLS handshake with {} failed: {} ({} such failure(s) since the last report)",
                    spec_.name, stream.peer_address(), e.code().message(), n);
        }
        stream.close();
        co_return;
    }
    co_await handler_->serve(stream, spec_, slot);
    stream.close();
}

} // namespace mailgate::net
