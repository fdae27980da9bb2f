// Runs a pre-login server codec (POP3, IMAP) over a client stream: the codec speaks the protocol, the shared
// codec driver does its I/O and STARTTLS, and this adapter takes the codec's own steps - the gateway login, and
// finally the relay (or, for POP3 served from an IMAP folder, the maildrop session).
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/session_error.hpp"
#include "server/net/codec_driver.hpp"
#include "server/net/connection_limits.hpp"
#include "server/net/relay.hpp"
#include "server/proxy/login_flow.hpp"
#include "server/proxy/maildrop_session.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace mailgate::proxy {

// What the pre-login dialogue leaves to the rest of the session.
struct logged_in_session {
    std::unique_ptr<net::upstream_connection> upstream; // set once logged in: then relay
    std::string account;
};

// The pre-login dialogue, until the codec asks to relay (returns with `upstream` set) or the session ends. A
// coroutine of its own so that its frame (the read buffer, the login's state) is freed before the session idles
// in the relay: GCC keeps every local of a coroutine in its frame for the coroutine's whole life.
template <class Codec>
boost::asio::awaitable<void>
talk_until_logged_in(Codec& codec, net::mail_stream& stream, net::connection_slot& slot,
                     const gateway_settings& settings, const session_context& label,
                     domain::mail_protocol protocol, maildrop_session* maildrop, logged_in_session& session,
                     live_session& entry) {
    namespace asio = boost::asio;
    std::array<char, 1024> buffer; // pre-login commands are short; literals arrive over several reads
    net::codec_io io{stream, buffer,
                     [&](protocols::read_deadline) { return slot.step_limit(settings.login_timeout); },
                     [&]() -> asio::awaitable<void> {
                         label.plaintext_dropped(codec.plaintext_dropped());
                         stream.begin_tls(*settings.client_tls.current(), net::tls_role::server);
                         co_await stream.handshake();
                     }};
    for (;;) {
        auto step = co_await net::run_io(codec, io);
        if (std::holds_alternative<protocols::relay_bytes>(step)) co_return;
        switch (std::get<protocols::session_step>(step)) {
        case protocols::session_step::authenticate: {
            std::string password = codec.password();
            auto result =
                co_await gateway_login(settings, label, protocol, codec.user(), password, codec.proof());
            if (maildrop && result.ok() && serves_pop3_from_imap(*result.record))
                if (auto failed = co_await maildrop->open(result)) {
                    result.failed = failed;
                    result.upstream->close();
                    result.upstream.reset();
                }
            codec.login_result(client_outcome(result), provider_capabilities_of(result));
            session.upstream = std::move(result.upstream);
            session.account = result.account;
            if (session.upstream) {
                entry->set_account(session.account);
                slot.logged_in();
            }
            break;
        }
        case protocols::session_step::close:
            label.dialogue_ended(codec.error());
            session.upstream.reset();
            co_return;
        }
    }
}

template <class Codec>
boost::asio::awaitable<void> drive_session(Codec& codec, net::mail_stream& stream, net::connection_slot& slot,
                                           const gateway_settings& settings, const session_context& label,
                                           domain::mail_protocol protocol,
                                           maildrop_session* maildrop = nullptr) {
    logged_in_session session;
    auto& upstream = session.upstream;
    // The admin can close this session (account disabled or deleted).
    live_session entry(settings.live, label.id, std::string(label.protocol), std::string(label.peer),
                       stream.socket().get_executor(), [&stream, &upstream, &codec](close_reason reason) {
                           if (reason == close_reason::shutdown_idle && upstream)
                               return; // relaying: gets the grace
                           // Once relaying, a line of ours could land inside the provider's data: just close.
                           if (reason != close_reason::account_removed && !upstream)
                               stream.write_now(codec.goodbye());
                           stream.close();
                           if (upstream) upstream->close();
                       });
    try {
        co_await talk_until_logged_in(codec, stream, slot, settings, label, protocol, maildrop, session,
                                      entry);
        if (!upstream) co_return;
        if (maildrop && maildrop->opened()) {
            co_await maildrop->serve(stream, *upstream, codec.take_pipelined(), entry->counters());
            co_return;
        }
        auto outcome = co_await net::relay(stream, upstream->stream(), codec.take_pipelined(),
                                           settings.idle_timeout, entry->counters());
        // Closing without the protocol's goodbye: a vanished client's POP3 DELEs are rolled back.
        upstream->close();
        label.info("account '{}': session ended ({}{}), {} bytes up, {} bytes down", session.account,
                   net::to_string(outcome.end), outcome.error ? ": " + outcome.error.message() : "",
                   outcome.client_to_upstream, outcome.upstream_to_client);
    } catch (const boost::system::system_error& e) {
        if (upstream) upstream->close();
        label.info("{}",
                   e.code() == boost::asio::error::timed_out ? "timed out before login" : e.code().message());
    }
}

} // namespace mailgate::proxy
