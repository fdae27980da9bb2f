// SMTP session driver: client-side codec, provider-side codec, and the account choice between them.
#include "server/proxy/smtp_session.hpp"

#include "protocols/smtp/server.hpp"
#include "server/net/codec_driver.hpp"
#include "server/proxy/challenge_logins.hpp"
#include "server/proxy/login_flow.hpp"
#include "server/proxy/spool_submission.hpp"
#include "server/proxy/submission_upstream.hpp"
#include "server/proxy/upstream_login.hpp"

namespace mailgate::proxy {

namespace asio = boost::asio;
namespace smtp = protocols::smtp;

namespace {

constexpr std::size_t read_size = 64 * 1024;

// smtp.spool = all: the local credential alone; the provider is asked when the queued message is delivered.
asio::awaitable<void> authenticate_for_spool(smtp::server& codec, spool_submission& queue,
                                             const session_context& label, net::connection_slot& slot,
                                             const gateway_settings& settings) {
    std::string password = codec.password();
    std::string user = codec.user();
    auto r = co_await local_login(settings, label, user, password, codec.proof());
    if (!r.ok()) {
        codec.login_result(client_outcome(r));
        co_return;
    }
    record_login_ok(settings, label, user, r.account, " (mail is queued)");
    queue.use_account(std::move(*r.record));
    slot.logged_in();
    codec.login_result(protocols::login_outcome::ok, spool_submission::capabilities());
}

} // namespace

std::string_view smtp_session::refusal_line(net::refusal why) const {
    return smtp::server::refusal_line(why);
}

asio::awaitable<void> smtp_session::serve(net::mail_stream& stream, const net::listener_spec&,
                                          net::connection_slot& slot) {
    session_context label{"smtp", slot.id(), stream.peer_address()};
    smtp::server codec({.starttls_offered = !stream.tls_active(),
                        .plaintext_auth_allowed = settings_.plaintext_auth.contains(stream.peer_address()),
                        .relay_allowed = smtp_.relay_without_auth.contains(stream.peer_address()),
                        .tls_active = stream.tls_active(),
                        .host_name = local_helo_name(),
                        .client_address = stream.peer_address(),
                        .max_message_size = smtp_.max_message_size,
                        .normalize_bare_lf = smtp_.normalize_bare_lf,
                        .challenges = challenge_logins_for(settings_)});
    // Large reads during DATA: a 25 MB message costs a quarter of the loop turns it would with 16 KiB.
    auto buffer = std::make_unique_for_overwrite<char[]>(read_size);
    submission_upstream* upstream = nullptr; // set below; the live-session entry's closer needs it first
    live_session entry(settings_.live, label.id, "smtp", std::string(label.peer),
                       stream.socket().get_executor(), [&stream, &upstream, &codec](close_reason reason) {
                           bool busy = codec.in_data() || codec.has_open_transaction();
                           if (reason == close_reason::shutdown_idle && busy)
                               return; // mid-transaction: the grace
                           // Between transactions the client may hear why; inside DATA a reply would be misread.
                           if (reason != close_reason::account_removed && !codec.in_data())
                               stream.write_now(codec.goodbye());
                           stream.close();
                           if (upstream) upstream->close_connection();
                       });
    submission_upstream up(settings_, smtp_.data_timeout, label, entry, slot);
    upstream = &up;
    std::optional<spool_submission> queue;
    if (smtp_.spool) queue.emplace(*smtp_.spool, settings_, label, entry);
    bool spooling = false; // the current transaction is queued, not re-originated now
    // Until the first AUTH or MAIL the pre-login deadline applies too (a stranger's time is bounded), after it
    // only RFC 5321's per-command timeouts.
    net::codec_io io{stream,
                     {buffer.get(), read_size},
                     [&](protocols::read_deadline d) {
                         return slot.step_limit(d == protocols::read_deadline::data ? smtp_.data_timeout
                                                                                    : smtp_.command_timeout);
                     },
                     [&]() -> asio::awaitable<void> {
                         co_await up.quit(); // the codec forgets AUTH: so does the provider side
                         label.plaintext_dropped(codec.plaintext_dropped());
                         stream.begin_tls(*settings_.client_tls.current(), net::tls_role::server);
                         co_await stream.handshake();
                     }};
    try {
        for (;;) {
            auto next = co_await net::run_io(codec, io);
            if (auto* s = std::get_if<protocols::session_step>(&next)) {
                if (*s == protocols::session_step::authenticate) {
                    if (queue && smtp_.spool->spools(true))
                        co_await authenticate_for_spool(codec, *queue, label, slot, settings_);
                    else
                        co_await up.authenticate(codec);
                    spooling = queue && queue->has_account();
                    continue;
                }
                label.dialogue_ended(codec.error());
                co_await up.quit();
                co_return;
            }
            auto step = std::get<protocols::transaction_step>(next);
            using kind = protocols::transaction_step::kind;
            switch (step.what) {
            case kind::select_account:
                spooling = queue && smtp_.spool->spools(false);
                if (spooling) {
                    co_await up.quit(); // a provider session of an earlier, unspooled transaction
                    co_await queue->select_account(codec);
                    slot.logged_in();
                } else
                    co_await up.select_account(codec);
                break;
            case kind::command:
            case kind::verdict:
                if (spooling)
                    co_await queue->exchange(codec, step);
                else
                    co_await up.exchange(codec, step);
                break;
            case kind::data:
                if (spooling)
                    queue->send_data(codec, step.bytes);
                else
                    co_await up.send_data(codec, step.bytes);
                break;
            case kind::abort:
                if (spooling)
                    queue->abort();
                else
                    up.abort();
                break;
            }
        }
    } catch (const boost::system::system_error& e) {
        label.info("{}", e.code() == asio::error::timed_out ? "timed out" : e.code().message());
        up.drop();
    }
}

} // namespace mailgate::proxy
