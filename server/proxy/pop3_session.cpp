// POP3 session driver.
#include "server/proxy/pop3_session.hpp"

#include "protocols/pop3/server.hpp"
#include "server/net/relay.hpp"
#include "server/net/timed.hpp"
#include "server/proxy/login_flow.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace mailgate::proxy {

namespace asio = boost::asio;
namespace pop3 = protocols::pop3;

namespace {

pop3::login_outcome to_outcome(login_status s) {
    switch (s) {
    case login_status::ok: return pop3::login_outcome::ok;
    case login_status::bad_credentials: return pop3::login_outcome::bad_credentials;
    case login_status::provider_temporary: return pop3::login_outcome::provider_temp;
    case login_status::provider_permanent: return pop3::login_outcome::provider_perm;
    }
    return pop3::login_outcome::provider_temp;
}

} // namespace

asio::awaitable<void> pop3_session::refuse(net::mail_stream& stream) {
    static const std::string line = "-ERR [AUTH] mailgate: your network is not allowed\r\n";
    co_await net::timed(stream.write(asio::buffer(line)), std::chrono::seconds(10));
}

asio::awaitable<void> pop3_session::serve(net::mail_stream& stream, const net::listener_spec& spec) {
    session_label label{"pop3", next_session_id(), stream.peer_address()};
    pop3::server codec({.stls_offered = !stream.tls_active(),
                        .plaintext_login_allowed = settings_.plaintext_auth.contains(stream.peer_address()),
                        .tls_active = stream.tls_active()});
    spdlog::debug("pop3 #{} from {} on {} ({})", label.id, label.peer, spec.name, stream.tls_version());
    std::unique_ptr<net::upstream_connection> upstream;
    std::string account;
    std::array<char, 1024> buffer;
    try {
        for (;;) {
            auto next = codec.next();
            switch (next.kind) {
            case protocols::action_kind::write:
                co_await net::timed(stream.write(asio::buffer(next.bytes)), settings_.login_timeout);
                codec.wrote();
                break;
            case protocols::action_kind::read: {
                auto n = co_await net::timed(stream.read_some(asio::buffer(buffer)), settings_.login_timeout);
                codec.received(std::string_view(buffer.data(), n));
                break;
            }
            case protocols::action_kind::start_tls:
                stream.begin_tls(settings_.client_tls, net::tls_role::server);
                co_await net::timed(stream.handshake(), settings_.login_timeout);
                codec.tls_started();
                break;
            case protocols::action_kind::authenticate: {
                std::string password = codec.password();
                auto result = co_await gateway_login(settings_, label, net::mail_protocol::pop3, codec.user(), password);
                codec.login_result(to_outcome(result.status));
                upstream = std::move(result.upstream);
                account = result.account;
                break;
            }
            case protocols::action_kind::relay: {
                auto outcome = co_await net::relay(stream, upstream->stream(), codec.take_pipelined(),
                                                   settings_.idle_timeout);
                // A client that vanished without QUIT gets no QUIT sent for it: the provider rolls back DELE.
                upstream->close();
                spdlog::info("pop3 #{} account '{}': session ended ({}), {} bytes up, {} bytes down", label.id,
                             account, net::to_string(outcome.end), outcome.client_to_upstream,
                             outcome.upstream_to_client);
                co_return;
            }
            case protocols::action_kind::close: {
                auto why = codec.error();
                if (why == protocols::session_errc::client_quit || why == protocols::session_errc::client_closed)
                    spdlog::debug("pop3 #{} from {}: {}", label.id, label.peer, why.message());
                else
                    spdlog::info("pop3 #{} from {}: closing: {}", label.id, label.peer, why.message());
                co_return;
            }
            case protocols::action_kind::done: co_return;
            }
        }
    } catch (const boost::system::system_error& e) {
        if (upstream) upstream->close();
        spdlog::info("pop3 #{} from {}: {}", label.id, label.peer,
                     e.code() == asio::error::timed_out ? "timed out before login" : e.code().message());
    }
}

} // namespace mailgate::proxy
