// SMTP session driver: client-side codec, provider-side codec, and the account choice between them.
#include "server/proxy/smtp_session.hpp"

#include "protocols/smtp/client.hpp"
#include "protocols/smtp/server.hpp"
#include "server/net/codec_driver.hpp"
#include "server/net/timed.hpp"
#include "server/proxy/login_flow.hpp"
#include "server/proxy/upstream_login.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace mailgate::proxy {

namespace asio = boost::asio;
namespace smtp = protocols::smtp;

namespace {

// RFC 5321 §4.5.3.2: how long to wait for the provider's replies.
constexpr std::chrono::seconds command_reply_timeout{300};
constexpr std::chrono::seconds data_end_reply_timeout{600};
constexpr std::size_t read_size = 64 * 1024;

// The provider session currently serving this client.
struct provider {
    std::unique_ptr<net::upstream_connection> connection;
    std::unique_ptr<protocols::upstream_codec> codec;
    std::optional<store::account> account;

    smtp::client& client() { return static_cast<smtp::client&>(*codec); }
    void adopt(login_result& r) {
        connection = std::move(r.upstream);
        codec = std::move(r.codec);
        account = std::move(r.record);
    }
    // Without QUIT: used when a transaction must not complete (closing mid-DATA discards the message).
    void drop() {
        if (connection) connection->close();
        connection.reset();
        codec.reset();
    }
};

asio::awaitable<void> quit_politely(provider& p) {
    if (p.connection) {
        p.codec->logout();
        co_await p.connection->drive(*p.codec, net::upstream_step::logout, std::chrono::seconds(10));
    }
    p.drop();
}

} // namespace

std::string_view smtp_session::refusal_line(net::refusal why) const { return smtp::server::refusal_line(why); }

asio::awaitable<void> smtp_session::serve(net::mail_stream& stream, const net::listener_spec&,
                                          net::connection_slot& slot) {
    session_context label{"smtp", slot.id(), stream.peer_address()};
    smtp::server codec({.starttls_offered = !stream.tls_active(),
                        .plaintext_auth_allowed = settings_.plaintext_auth.contains(stream.peer_address()),
                        .relay_allowed = smtp_.relay_without_auth.contains(stream.peer_address()),
                        .tls_active = stream.tls_active(),
                        .host_name = local_helo_name(),
                        .client_address = stream.peer_address(),
                        .max_message_size = smtp_.max_message_size});
    provider up;
    // Large reads during DATA: a 25 MB message costs a quarter of the loop turns it would with 16 KiB.
    auto buffer = std::make_unique_for_overwrite<char[]>(read_size);
    std::uint64_t messages = 0;
    live_session entry(settings_.live, label.id, "smtp", std::string(label.peer), stream.socket().get_executor(),
                       [&stream, &up, &codec](close_reason reason) {
                           bool busy = codec.in_data() || codec.has_open_transaction();
                           if (reason == close_reason::shutdown_idle && busy) return; // mid-transaction: the grace
                           // Between transactions the client may hear why; inside DATA a reply would be misread.
                           if (reason != close_reason::account_removed && !codec.in_data())
                               stream.write_now(codec.goodbye());
                           stream.close();
                           // Only close: the session coroutine may be inside a provider exchange using the codec
                           // and connection right now; it fails out of it and destroys them itself.
                           if (up.connection) up.connection->close();
                       });
    // Until the first AUTH or MAIL the pre-login deadline applies too (a stranger's time is bounded), after it
    // only RFC 5321's per-command timeouts.
    net::codec_io io{stream, {buffer.get(), read_size},
                     [&](protocols::read_deadline d) {
                         return slot.step_limit(d == protocols::read_deadline::data ? smtp_.data_timeout
                                                                                    : smtp_.command_timeout);
                     },
                     [&]() -> asio::awaitable<void> {
                         co_await quit_politely(up); // the codec forgets AUTH: so does the provider side
                         log_plaintext_dropped(label, codec.plaintext_dropped());
                         stream.begin_tls(settings_.client_tls, net::tls_role::server);
                         co_await stream.handshake();
                     }};
    auto provider_deadlines = [](protocols::read_deadline d) -> std::chrono::steady_clock::duration {
        return d == protocols::read_deadline::data_verdict ? data_end_reply_timeout : command_reply_timeout;
    };
    try {
        for (;;) {
            auto next = co_await net::run_io(codec, io);
            if (auto* s = std::get_if<protocols::session_step>(&next)) {
                if (*s == protocols::session_step::close) {
                    log_dialogue_end(label, codec.error());
                    co_await quit_politely(up);
                    co_return;
                }
                std::string password = codec.password();
                auto r = co_await gateway_login(settings_, label, domain::mail_protocol::smtp, codec.user(), password);
                if (r.ok()) {
                    up.adopt(r);
                    entry->set_account(up.account->name);
                    slot.logged_in();
                }
                codec.login_result(client_outcome(r), up.connection ? up.codec->post_login_capabilities() : protocols::provider_capabilities{});
                continue;
            }
            auto step = std::get<protocols::transaction_step>(next);
            using kind = protocols::transaction_step::kind;
            switch (step.what) {
            case kind::select_account: {
                std::string sender = codec.sender();
                auto account = co_await settings_.store.run(
                    [&](store::account_repository& repo) { return repo.find_by_sender(sender); });
                if (!account) {
                    label.info("no account may send as <{}> (relay without AUTH)", sender);
                    codec.login_result(protocols::login_outcome::bad_credentials);
                    break;
                }
                slot.logged_in(); // a relay network's sender with a known account: past the stranger phase
                if (up.connection && up.account && up.account->id == account->id) {
                    codec.login_result(protocols::login_outcome::ok, up.codec->post_login_capabilities());
                    break;
                }
                co_await quit_politely(up);
                auto r = co_await open_provider_session(settings_, label, domain::mail_protocol::smtp, *account);
                if (r.ok()) {
                    up.adopt(r);
                    entry->set_account(up.account->name);
                    label.info("sending as <{}> through account '{}' (relay without AUTH)", sender, account->name);
                    codec.login_result(protocols::login_outcome::ok, up.codec->post_login_capabilities());
                } else {
                    // The sender's local side is right whatever the provider said: never "no such account".
                    auto outcome = client_outcome(r);
                    if (outcome == protocols::login_outcome::bad_credentials) outcome = protocols::login_outcome::provider_perm;
                    codec.login_result(outcome);
                }
                break;
            }
            case kind::command:
            case kind::verdict: {
                if (!up.connection && up.account) { // dropped after a refused message: log in again
                    auto r = co_await open_provider_session(settings_, label, domain::mail_protocol::smtp, *up.account);
                    if (!r.ok()) {
                        codec.upstream_failed();
                        break;
                    }
                    up.adopt(r);
                }
                if (!up.connection) {
                    codec.upstream_failed();
                    break;
                }
                bool verdict = step.what == kind::verdict;
                if (verdict)
                    up.client().await_verdict();
                else
                    up.client().transact(std::string(step.bytes));
                auto failure =
                    co_await up.connection->drive(*up.codec, net::upstream_step::login, provider_deadlines);
                if (failure) {
                    label.warn("account '{}': provider connection failed: {}", up.account ? up.account->name : "?",
                               failure->reason);
                    up.drop();
                    codec.upstream_failed();
                    break;
                }
                const auto& reply = up.client().last_reply();
                if (verdict) {
                    ++messages;
                    label.info("account '{}': message {}: provider said {} {}", up.account ? up.account->name : "?",
                               messages, reply.code, reply.lines.empty() ? "" : reply.lines.back().substr(0, 120));
                }
                codec.upstream_reply(reply);
                break;
            }
            case kind::data:
                try {
                    if (!up.connection) throw boost::system::system_error(asio::error::not_connected);
                    co_await net::timed(up.connection->stream().write(asio::buffer(step.bytes)), smtp_.data_timeout);
                    entry->counters().up += step.bytes.size();
                    codec.upstream_written();
                } catch (const boost::system::system_error& e) {
                    label.warn("provider connection failed during DATA: {}", e.code().message());
                    up.drop();
                    codec.upstream_failed();
                }
                break;
            case kind::abort:
                label.warn("message refused (bare CR/LF or over size); provider transaction dropped");
                up.drop();
                break;
            }
        }
    } catch (const boost::system::system_error& e) {
        label.info("{}",
                     e.code() == asio::error::timed_out ? "timed out" : e.code().message());
        up.drop();
    }
}

} // namespace mailgate::proxy
