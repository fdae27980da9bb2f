// Runs a pre-login server codec (POP3, IMAP) over a client stream: the codec speaks the protocol, this loop does
// the I/O, STARTTLS, the gateway login and finally the relay. Protocol sessions supply only how a login outcome is
// reported back to their codec.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/session_error.hpp"
#include "server/net/connection_limits.hpp"
#include "server/net/relay.hpp"
#include "server/net/timed.hpp"
#include "server/proxy/login_flow.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace mailgate::proxy {

// `report(codec, login_result&)` hands the outcome to the codec. `goodbye` is the line a client still in the
// pre-login dialogue gets when the gateway shuts down.
template <class Codec, class Report>
boost::asio::awaitable<void> drive_session(Codec& codec, net::mail_stream& stream, net::connection_slot& slot,
                                           const gateway_settings& settings,
                                           const session_label& label, net::mail_protocol protocol,
                                           std::string_view goodbye, Report report) {
    namespace asio = boost::asio;
    std::unique_ptr<net::upstream_connection> upstream;
    std::string account;
    std::array<char, 1024> buffer; // pre-login commands are short; literals arrive over several reads
    // The admin can close this session (account disabled or deleted).
    live_session entry(settings.live, label.id, std::string(label.protocol), std::string(label.peer),
                       stream.socket().get_executor(), [&stream, &upstream, goodbye](close_reason reason) {
                           if (reason == close_reason::shutdown_idle && upstream) return; // relaying: gets the grace
                           // Once relaying, a line of ours could land inside the provider's data: just close.
                           if (reason != close_reason::account_removed && !upstream) stream.write_now(goodbye);
                           stream.close();
                           if (upstream) upstream->close();
                       });
    try {
        for (;;) {
            auto next = codec.next();
            switch (next.kind) {
            case protocols::action_kind::write:
                co_await net::timed(stream.write(asio::buffer(next.bytes)),
                                    slot.step_limit(settings.login_timeout));
                codec.wrote();
                break;
            case protocols::action_kind::read: {
                auto n = co_await net::timed(stream.read_some(asio::buffer(buffer)),
                                             slot.step_limit(settings.login_timeout));
                codec.received(std::string_view(buffer.data(), n));
                break;
            }
            case protocols::action_kind::start_tls:
                stream.begin_tls(settings.client_tls, net::tls_role::server);
                co_await net::timed(stream.handshake(), slot.step_limit(settings.login_timeout));
                codec.tls_started();
                break;
            case protocols::action_kind::authenticate: {
                std::string password = codec.password();
                auto result = co_await gateway_login(settings, label, protocol, codec.user(), password);
                report(codec, result);
                upstream = std::move(result.upstream);
                account = result.account;
                if (upstream) {
                    entry->set_account(account);
                    slot.logged_in();
                }
                break;
            }
            case protocols::action_kind::relay: {
                auto outcome = co_await net::relay(stream, upstream->stream(), codec.take_pipelined(),
                                                   settings.idle_timeout, entry->counters());
                // Closing without the protocol's goodbye: a vanished client's POP3 DELEs are rolled back.
                upstream->close();
                spdlog::info("{} #{} account '{}': session ended ({}), {} bytes up, {} bytes down", label.protocol,
                             label.id, account, net::to_string(outcome.end), outcome.client_to_upstream,
                             outcome.upstream_to_client);
                co_return;
            }
            case protocols::action_kind::close: {
                auto why = codec.error();
                bool routine = why == protocols::session_errc::client_quit || why == protocols::session_errc::client_closed;
                if (routine)
                    spdlog::debug("{} #{} from {}: {}", label.protocol, label.id, label.peer, why.message());
                else
                    spdlog::info("{} #{} from {}: closing: {}", label.protocol, label.id, label.peer, why.message());
                co_return;
            }
            case protocols::action_kind::done: co_return;
            case protocols::action_kind::select_account: // SMTP-only actions: never produced by POP3/IMAP codecs
            case protocols::action_kind::upstream_command:
            case protocols::action_kind::upstream_data:
            case protocols::action_kind::upstream_abort: co_return;
            }
        }
    } catch (const boost::system::system_error& e) {
        if (upstream) upstream->close();
        spdlog::info("{} #{} from {}: {}", label.protocol, label.id, label.peer,
                     e.code() == asio::error::timed_out ? "timed out before login" : e.code().message());
    }
}

} // namespace mailgate::proxy
