// Local authentication + upstream login.
#include "server/proxy/login_flow.hpp"

#include "server/common/log_rate_limit.hpp"

#include "server/proxy/failure_report.hpp"
#include "server/proxy/provider_login.hpp"
#include "server/proxy/upstream_login.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

namespace mailgate::proxy {

namespace asio = boost::asio;

protocols::login_outcome client_outcome(const login_result& result) {
    return result.ok() ? protocols::login_outcome::ok : client_reply(*result.failed);
}

protocols::provider_capabilities provider_capabilities_of(const login_result& result) {
    if (!result.ok() || !result.codec) return {};
    return result.codec->post_login_capabilities();
}

namespace {

// Shown in logs: printable, short, so a hostile user name cannot forge log lines.
std::string loggable(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
}

// A name that matches no account may be a password typed into the user field: never shown as typed. A keyed hash
// (per process) still lets an admin see that the same unknown name keeps coming back.
std::string unknown_user_label(std::string_view user) {
    static const std::string key = store::random_bytes(32);
    return "unknown user #" + store::to_hex(store::hmac_sha256(key, user).substr(0, 4));
}

// A login that could not be checked because the store does not answer (the client was asked to retry): one line
// for a burst of them.
void report_store_down(const session_context& label, std::string_view why) {
    static log_rate_limit store_down_log;
    if (auto n = store_down_log.occurred())
        label.warn(
            "the account store does not answer, asked the client to retry ({} such login(s) since the last "
            "report): {}",
            n, why);
}

// The protocol spoken to the provider for a client session of `protocol`.
domain::mail_protocol provider_protocol(domain::mail_protocol protocol, const store::account& account) {
    if (protocol == domain::mail_protocol::pop3 && account.mailbox.pop3 == domain::pop3_source::imap)
        return domain::mail_protocol::imap;
    return protocol;
}

const domain::upstream_endpoint* provider_endpoint(domain::mail_protocol protocol,
                                                   const store::account& account) {
    auto found = account.endpoints.find(provider_protocol(protocol, account));
    return found == account.endpoints.end() ? nullptr : &found->second.endpoint;
}

asio::awaitable<void> pause(std::chrono::milliseconds delay) {
    if (delay.count() <= 0) co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
}

} // namespace

asio::awaitable<login_result> local_login(const gateway_settings& settings, const session_context& label,
                                          const std::string& user, std::string& password,
                                          const protocols::login_proof& proof,
                                          const std::function<void(const store::account&)>* before_kdf) {
    login_result result;
    auto attempt = settings.throttle.begin(label.peer, user);
    if (attempt.refused()) {
        // Unchecked: from here a right password is answered like a wrong one, so guessing gains nothing.
        store::wipe(password);
        if (attempt.first_refusal()) {
            label.warn(
                "{} failed logins from this address in {} s: further logins refused unchecked until they "
                "age out",
                attempt.failures(), settings.throttle.policy().window.count());
            settings.live.record({std::chrono::system_clock::now(), event_kind::login_failed,
                                  std::string(label.protocol), std::string(label.peer), "",
                                  "too many failed logins from this address: refusing logins for a while"});
        }
        co_await pause(settings.failed_login_delay);
        co_return result;
    }
    co_await pause(attempt.delay());
    // Overlapping the KDF with the provider connect only for an address that has not failed: a guesser must not
    // make us open provider connections.
    store::local_login checked;
    std::string store_down;
    try {
        if (proof.kind == protocols::proof_kind::password)
            checked = co_await settings.store.authenticate(user, password, std::string(label.peer),
                                                           attempt.failures() == 0 ? before_kdf : nullptr);
        else
            checked = co_await settings.store.check_challenge(user, password, proof);
    } catch (const store::store_error& e) {
        store_down = e.what();
    }
    store::wipe(password);
    if (!store_down.empty()) {
        // The database is away (a PostgreSQL restart): the client hears "try again later", not a dropped line.
        attempt.finish(login_throttle::result::not_checked);
        report_store_down(label, store_down);
        result.failed = domain::failure::temporary;
        co_return result;
    }
    if (checked.verdict == store::local_check::busy) {
        attempt.finish(login_throttle::result::not_checked);
        label.warn("password checks are queued to their limit; asked the client to retry");
        result.failed = domain::failure::temporary;
        co_return result;
    }
    auto& account = checked.record;
    if (!account || !account->enabled) {
        attempt.finish(checked.verdict == store::local_check::repeated_wrong
                           ? login_throttle::result::repeated_failure
                       : account ? login_throttle::result::success // right password, account disabled
                                 : login_throttle::result::failure);
        auto who = checked.known_user ? "user '" + loggable(user) + "'" : unknown_user_label(user);
        label.info("local login failed for {}{}", who,
                   account                         ? " (account disabled)"
                   : checked.challenge_not_allowed ? " (APOP/CRAM-MD5 is not allowed for this account: allow "
                                                     "it, or set the client to a normal password)"
                                                   : "");
        settings.live.record({std::chrono::system_clock::now(), event_kind::login_failed,
                              std::string(label.protocol), std::string(label.peer),
                              account ? account->name : "", "local login failed for " + who});
        // The same delay for unknown users, wrong passwords and disabled accounts: no hint which it was.
        co_await pause(settings.failed_login_delay);
        co_return result;
    }
    attempt.finish(login_throttle::result::success);
    result.failed.reset();
    result.account = account->name;
    result.record = std::move(account);
    co_return result;
}

void record_login_ok(const gateway_settings& settings, const session_context& label, const std::string& user,
                     const std::string& account, std::string_view note) {
    label.info("user '{}' logged in as account '{}'{}", loggable(user), account, note);
    settings.live.record({std::chrono::system_clock::now(), event_kind::login_ok, std::string(label.protocol),
                          std::string(label.peer), account, "user '" + loggable(user) + "'"});
}

asio::awaitable<login_result> gateway_login(const gateway_settings& settings, const session_context& label,
                                            domain::mail_protocol protocol, const std::string& user,
                                            std::string& password, const protocols::login_proof& proof) {
    // Made only when a KDF run starts: a cached login (the common case) allocates nothing for it.
    std::shared_ptr<early_connection> early;
    auto executor = co_await asio::this_coro::executor;
    std::function<void(const store::account&)> connect_early = [&](const store::account& account) {
        auto* endpoint = provider_endpoint(protocol, account);
        if (!endpoint) return;
        early = std::make_shared<early_connection>(executor);
        early->start(settings.upstream_tls, *endpoint, settings.upstream_timeout);
    };
    auto local = co_await local_login(settings, label, user, password, proof, &connect_early);
    if (!local.ok()) {
        if (early) early->abandon();
        co_return local;
    }
    auto provider = co_await open_provider_session(settings, label, protocol, *local.record, early.get());
    if (provider.ok()) record_login_ok(settings, label, user, local.account, "");
    co_return provider;
}

asio::awaitable<std::optional<store::account>> relay_sender_account(const gateway_settings& settings,
                                                                    const session_context& label,
                                                                    protocols::smtp::server& codec) {
    std::string sender = codec.sender();
    std::optional<store::account> account;
    try {
        account = co_await settings.store.run(
            [&](store::account_repository& repo) { return repo.find_by_sender(sender); });
    } catch (const store::store_error& e) {
        report_store_down(label, e.what());
        codec.login_result(protocols::login_outcome::provider_temp);
        co_return std::nullopt;
    }
    if (!account) {
        label.info("no account may send as <{}> (relay without AUTH)", sender);
        codec.login_result(protocols::login_outcome::bad_credentials);
    }
    co_return account;
}

asio::awaitable<login_result> open_provider_session(const gateway_settings& settings,
                                                    const session_context& label,
                                                    domain::mail_protocol protocol,
                                                    const store::account& account_record,
                                                    early_connection* early, provider_use use) {
    login_result result;
    const auto* account = &account_record;
    result.record = account_record;
    result.account = account->name;
    // POP3 served from an IMAP folder logs in to the IMAP endpoint (server/proxy/maildrop_session.hpp).
    protocol = provider_protocol(protocol, *account);
    auto endpoint = account->endpoints.find(protocol);
    if (endpoint == account->endpoints.end()) {
        label.warn("account '{}' has no {} endpoint", account->name, domain::to_string(protocol));
        result.failed = domain::failure::internal;
        result.reason = "the account has no " + std::string(domain::to_string(protocol)) + " endpoint";
        co_return result;
    }
    std::shared_ptr<void> slot;
    if (use == provider_use::client && settings.slots) {
        std::optional<std::shared_ptr<void>> taken;
        try {
            taken = co_await settings.slots->acquire(account->id);
        } catch (const store::store_error& e) {
            report_store_down(label, e.what());
            if (early) early->abandon();
            result.failed = domain::failure::temporary;
            result.reason = "the account store does not answer";
            co_return result;
        }
        if (!taken) {
            label.warn("account '{}' has {} provider session(s) open on all instances, the most "
                       "limits.max_upstream_per_account allows: login refused for now",
                       account->name, settings.slots->limit());
            if (early) early->abandon();
            result.failed = domain::failure::temporary;
            result.reason = "too many sessions of this account at the provider";
            co_return result;
        }
        slot = std::move(*taken);
    }
    auto login = co_await log_in_to_provider(
        {settings.store, settings.tokens, settings.upstream_tls, settings.upstream_timeout}, *account,
        endpoint->second.endpoint, {}, early);
    auto& failure = login.failure;
    auto& upstream = login.connection;
    auto id = account->id;
    if (failure) {
        if (auto status = account_status(failure->kind))
            settings.store.record(
                [id, protocol, status = *status, reason = failure->reason](store::account_repository& repo) {
                    repo.record_status(id, protocol, status, reason);
                });
        label.warn("account '{}': provider {}: {} ({}): {}", account->name, endpoint->second.endpoint.url(),
                   log_phrase(failure->kind), metric_label(failure->kind), failure->reason);
        settings.live.count_upstream_error(std::string(label.protocol),
                                           std::string(metric_label(failure->kind)));
        settings.live.record({std::chrono::system_clock::now(), event_kind::upstream_error,
                              std::string(label.protocol), std::string(label.peer), account->name,
                              std::string(metric_label(failure->kind)) + ": " + failure->reason});
        result.failed = failure->kind;
        result.reason = failure->reason;
        co_return result;
    }
    if (settings.store.repository().claim_login_record(id, protocol))
        settings.store.record([id, protocol](store::account_repository& repo) {
            repo.record_status(id, protocol, store::upstream_status::ok, "");
            repo.record_login(id);
        });
    label.debug("account '{}' connected to {} ({}{})", account->name, endpoint->second.endpoint.url(),
                upstream->tls().version, upstream->tls().resumed ? ", resumed session" : "");
    result.failed.reset();
    upstream->hold(std::move(slot));
    result.upstream = std::move(upstream);
    result.codec = std::move(login.codec);
    co_return result;
}

} // namespace mailgate::proxy
