// Token refresh: single flight per account, persisted before waiters proceed.
#include "server/oauth/token_service.hpp"

#include "protocols/common/secret.hpp"
#include "server/common/unix_time.hpp"
#include "server/oauth/token_endpoint.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <random>

namespace mailgate::oauth {

namespace asio = boost::asio;
using store::oauth_state;

namespace {

// A login needs the token for a few seconds: it must not expire on the way.
std::int64_t login_margin(std::int64_t lifetime) { return std::clamp<std::int64_t>(lifetime / 4, 1, 60); }

// Refresh ahead by min(10 min, lifetime/2), less up to a quarter at random so that accounts consented together do
// not refresh together.
std::int64_t ahead_margin(std::int64_t lifetime) {
    static thread_local std::mt19937 random{std::random_device{}()};
    auto margin = std::min<std::int64_t>(600, lifetime / 2);
    return margin -
           static_cast<std::int64_t>(std::uniform_real_distribution<double>(0, 0.25)(random) * margin);
}

std::int64_t backoff_seconds(int failures) {
    return std::min<std::int64_t>(300, std::int64_t(5) << std::min(failures - 1, 8));
}

constexpr std::int64_t keep_alive_age = 7 * 24 * 3600;
constexpr std::int64_t forced_refresh_spacing = 30;

access_grant problem(token_problem p, std::string reason) {
    access_grant g;
    g.problem = p;
    g.reason = std::move(reason);
    return g;
}

token_problem problem_for(oauth_state s) {
    switch (s) {
    case oauth_state::needs_consent: return token_problem::needs_consent;
    case oauth_state::config_error: return token_problem::config_error;
    default: return token_problem::unavailable;
    }
}

struct snapshot {
    std::optional<store::oauth_grant> grant;
    std::optional<domain::oauth_client> client;
    std::optional<store::oauth_tokens> tokens; // when the stored generation differs from the one held
    std::string error;                         // a sealed row that would not open
};

} // namespace

std::string_view to_string(token_problem p) {
    switch (p) {
    case token_problem::none: return "ok";
    case token_problem::needs_consent: return "needs_consent";
    case token_problem::config_error: return "config_error";
    case token_problem::unavailable: return "unavailable";
    case token_problem::internal: return "internal";
    }
    return "internal";
}

struct token_service::flight {
    explicit flight(const asio::any_io_executor& ex) : done(ex) {}
    asio::steady_timer done;            // cancelled when the refresh is over
    std::optional<access_grant> result; // without the token: waiters take it from the entry
};

struct token_service::entry {
    explicit entry(const asio::any_io_executor& ex) : ahead(ex) {}
    ~entry() { protocols::wipe(access_token); }
    std::int64_t generation = -1;
    std::string access_token;
    std::int64_t expires_at = 0;
    std::int64_t obtained_at = 0;
    std::int64_t lifetime = 0;
    std::int64_t used_at = 0;
    domain::sasl_mechanism mechanism = domain::sasl_mechanism::xoauth2;
    std::shared_ptr<flight> in_flight;
    int failures = 0;
    std::int64_t retry_at = 0;
    std::int64_t forced_at = 0;
    asio::steady_timer ahead;

    bool valid_for_login(std::int64_t now) const {
        return !access_token.empty() &&
               expires_at - now > login_margin(lifetime ? lifetime : expires_at - obtained_at);
    }
    void adopt(store::oauth_tokens&& t, std::int64_t now) {
        protocols::wipe(access_token);
        access_token = std::move(t.access_token);
        protocols::wipe(t.refresh_token);
        expires_at = t.access_expires_at;
        generation = t.generation;
        // The stored token's lifetime is unknown; what is left of it is a safe stand-in.
        obtained_at = now;
        lifetime = std::max<std::int64_t>(expires_at - now, 0);
    }
};

token_service::token_service(store::store_service& store, asio::any_io_executor executor,
                             asio::ssl::context& tls, std::chrono::seconds timeout)
    : store_(store), strand_(asio::make_strand(executor)), tls_(tls), timeout_(timeout),
      keep_alive_(strand_) {}

token_service::~token_service() { *stopped_ = true; }

access_grant token_service::grant_from(const entry& e) const {
    access_grant g;
    g.token = e.access_token;
    g.generation = e.generation;
    g.mechanism = e.mechanism;
    return g;
}

asio::awaitable<access_grant> token_service::token_for(store::account account) {
    return asio::co_spawn(strand_, obtain(std::move(account), -1), asio::use_awaitable);
}

asio::awaitable<access_grant> token_service::replace_rejected(store::account account,
                                                              std::int64_t generation) {
    return asio::co_spawn(strand_, obtain(std::move(account), generation), asio::use_awaitable);
}

void token_service::forget(std::int64_t account_id) {
    asio::post(strand_, [this, account_id, stopped = stopped_] {
        if (*stopped) return;
        entries_.erase(account_id);
    });
}

token_view token_service::view(std::int64_t account_id) {
    std::lock_guard lock(view_mutex_);
    auto it = views_.find(account_id);
    return it == views_.end() ? token_view{} : it->second;
}

asio::awaitable<access_grant> token_service::obtain(store::account account,
                                                    std::int64_t rejected_generation) {
    auto id = account.id;
    auto& slot = entries_[id];
    if (!slot) slot = std::make_shared<entry>(strand_);
    auto e = slot; // the map may change while this coroutine waits
    auto known = e->generation;
    snapshot snap;
    try {
        snap = co_await store_.run([id, known](store::account_repository& repo) {
            snapshot s;
            s.grant = repo.oauth().grant(id);
            if (!s.grant) return s;
            s.client =
                repo.oauth().client(s.grant->client, false); // the refresh reads the secret when it needs it
            if (s.grant->generation != known) s.tokens = repo.oauth().tokens(id);
            return s;
        });
    } catch (const std::exception& ex) {
        co_return problem(token_problem::internal, ex.what());
    }
    if (!snap.grant) co_return problem(token_problem::internal, "the account has no OAuth2 grant");
    if (!snap.client)
        co_return problem(token_problem::config_error,
                          "OAuth client '" + snap.grant->client + "' is not configured");
    e->mechanism = snap.client->mechanism;
    protocols::wipe(snap.client->client_secret);
    auto now = unix_now();
    if (snap.tokens && snap.tokens->generation != e->generation) {
        e->adopt(std::move(*snap.tokens), now);
        e->failures = 0;
        e->retry_at = 0;
        schedule_ahead(account, *e);
    }
    const auto& grant = *snap.grant;
    if (grant.state == oauth_state::needs_consent || grant.state == oauth_state::config_error) {
        std::string why =
            grant.state == oauth_state::needs_consent ? "needs consent" : "OAuth client configuration error";
        if (!grant.last_error.error.empty()) why += " (last error: " + grant.last_error.error + ")";
        co_return problem(problem_for(grant.state), why);
    }
    e->used_at = now;
    bool rejected = rejected_generation >= 0;
    if (rejected) {
        if (e->generation > rejected_generation && e->valid_for_login(now)) co_return grant_from(*e);
        if (!e->in_flight && now - e->forced_at < forced_refresh_spacing)
            co_return problem(token_problem::unavailable,
                              "the provider refused a freshly refreshed access token");
        e->forced_at = now;
        protocols::wipe(e->access_token); // known bad: never handed out again
        e->access_token.clear();
    } else if (e->valid_for_login(now)) {
        if (!e->in_flight && e->retry_at <= now && e->expires_at - now <= ahead_margin(e->lifetime))
            asio::co_spawn(strand_, background_refresh(account), asio::detached);
        co_return grant_from(*e);
    }
    if (!e->in_flight && e->retry_at > now) {
        if (!rejected && !e->access_token.empty() && e->expires_at > now) co_return grant_from(*e);
        co_return problem(token_problem::unavailable, "token endpoint failing; next refresh attempt in " +
                                                          std::to_string(e->retry_at - now) + " s");
    }
    co_return co_await refresh(account, *e);
}

asio::awaitable<access_grant> token_service::refresh(const store::account& account, entry& e) {
    if (auto f = e.in_flight) {
        boost::system::error_code ec;
        co_await f->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!f->result)
            co_return problem(token_problem::unavailable, "timed out waiting for the token refresh");
        if (f->result->problem != token_problem::none) co_return *f->result;
        co_return grant_from(e);
    }
    auto f = std::make_shared<flight>(strand_);
    f->done.expires_after(timeout_ * 2 + std::chrono::seconds(10));
    e.in_flight = f;
    {
        std::lock_guard lock(view_mutex_);
        views_[account.id].refreshing = true;
    }
    access_grant result;
    bool failed = false;
    try {
        result = co_await refresh_under_lease(account, e);
    } catch (const std::exception& ex) {
        result = problem(token_problem::internal, ex.what());
        failed = true;
    }
    if (failed) {
        spdlog::error("account '{}': OAuth2 refresh failed: {}", account.name, result.reason);
        try {
            co_await store_.run(
                [id = account.id](store::account_repository& repo) { repo.oauth().release_lease(id); });
        } catch (const std::exception&) {}
    }
    {
        std::lock_guard lock(view_mutex_);
        auto& v = views_[account.id];
        v.refreshing = false;
        v.access_expires_at = e.expires_at;
        v.backoff_until = e.retry_at;
    }
    e.in_flight.reset();
    access_grant shared = result;
    protocols::wipe(shared.token);
    shared.token.clear();
    f->result = std::move(shared);
    f->done.cancel();
    co_return result;
}

asio::awaitable<access_grant> token_service::refresh_under_lease(const store::account& account, entry& e) {
    auto id = account.id;
    auto lease_seconds = timeout_.count() + 10;
    auto give_up = std::chrono::steady_clock::now() + timeout_ + std::chrono::seconds(10);
    auto before = e.generation;
    // Another process (the CLI, another instance) may be refreshing: wait for it rather than refresh twice, which
    // with rotation and reuse detection would revoke the grant.
    for (;;) {
        auto now = unix_now();
        bool leased = co_await store_.run([id, now, lease_seconds](store::account_repository& repo) {
            return repo.oauth().take_lease(id, now, now + lease_seconds);
        });
        if (leased) break;
        if (std::chrono::steady_clock::now() > give_up)
            co_return problem(token_problem::unavailable,
                              "another process holds the refresh of this account");
        asio::steady_timer pause(strand_, std::chrono::milliseconds(250));
        co_await pause.async_wait(asio::use_awaitable);
        auto generation = co_await store_.run([id](store::account_repository& repo) {
            auto g = repo.oauth().grant(id);
            return g ? g->generation : std::int64_t(-1);
        });
        if (generation != before) break; // refreshed elsewhere; the read below picks it up
    }
    struct fresh {
        std::optional<store::oauth_grant> grant;
        std::optional<domain::oauth_client> client;
        store::oauth_tokens tokens;
    };
    auto current = co_await store_.run([id](store::account_repository& repo) {
        fresh f;
        f.grant = repo.oauth().grant(id);
        if (f.grant) f.client = repo.oauth().client(f.grant->client);
        f.tokens = repo.oauth().tokens(id);
        return f;
    });
    auto release = [&]() -> asio::awaitable<void> {
        co_await store_.run([id](store::account_repository& repo) { repo.oauth().release_lease(id); });
    };
    auto now = unix_now();
    if (!current.grant || !current.client) {
        protocols::wipe(current.tokens.access_token);
        protocols::wipe(current.tokens.refresh_token);
        co_await release();
        co_return problem(token_problem::config_error, "the OAuth2 grant or its client is gone");
    }
    if (current.tokens.generation != before) {
        e.adopt(std::move(current.tokens), now);
        protocols::wipe(current.client->client_secret);
        co_await release();
        if (current.grant->state == oauth_state::needs_consent ||
            current.grant->state == oauth_state::config_error)
            co_return problem(problem_for(current.grant->state),
                              "changed elsewhere: " + std::string(store::to_string(current.grant->state)));
        if (e.valid_for_login(now)) {
            schedule_ahead(account, e);
            co_return grant_from(e);
        }
        co_return problem(token_problem::unavailable, "the token refreshed elsewhere is already expiring");
    }
    protocols::wipe(current.tokens.access_token);
    if (current.tokens.refresh_token.empty()) {
        store::oauth_error_record none{"no_refresh_token", "no refresh token is stored: consent again", 0,
                                       now};
        co_await store_.run([&](store::account_repository& repo) {
            repo.oauth().record_failure(id, oauth_state::needs_consent, none);
        });
        ++counters_.needs_consent;
        co_return problem(token_problem::needs_consent, "no refresh token stored");
    }
    auto& client = *current.client;
    auto outcome = co_await request_tokens(
        client.token_url, refresh_form(client, std::move(current.tokens.refresh_token)), tls_, timeout_);
    protocols::wipe(current.tokens.refresh_token);
    protocols::wipe(client.client_secret);
    now = unix_now();
    if (auto* g = std::get_if<token_grant>(&outcome)) {
        store::oauth_token_update update;
        update.access_token = g->access_token;
        update.access_expires_at = now + g->expires_in;
        update.refresh_token = std::move(g->refresh_token);
        if (!g->scope.empty()) update.scopes = g->scope;
        bool rotated = !update.refresh_token.empty();
        // Persisted before anyone uses the new token: a rotated refresh token must survive a crash right now.
        auto generation = co_await store_.run([&](store::account_repository& repo) {
            return repo.oauth().store_tokens(id, std::move(update));
        });
        protocols::wipe(e.access_token);
        e.access_token = std::move(g->access_token);
        g->wipe();
        e.generation = generation;
        e.expires_at = now + g->expires_in;
        e.obtained_at = now;
        e.lifetime = g->expires_in;
        e.failures = 0;
        e.retry_at = 0;
        ++counters_.ok;
        spdlog::info("account '{}': OAuth2 access token refreshed (valid {} s{})", account.name,
                     g->expires_in, rotated ? ", refresh token rotated" : "");
        schedule_ahead(account, e);
        co_return grant_from(e);
    }
    auto failure = std::get<token_failure>(outcome);
    co_await store_.run([&](store::account_repository& repo) {
        repo.oauth().record_failure(id, failure.state, failure.record);
    });
    ++e.failures;
    switch (failure.state) {
    case oauth_state::needs_consent: ++counters_.needs_consent; break;
    case oauth_state::config_error: ++counters_.config_error; break;
    default: ++counters_.transient; e.retry_at = now + backoff_seconds(e.failures);
    }
    if (failure.transient()) {
        spdlog::warn("account '{}': OAuth2 refresh failed, tokens kept, retrying in {} s: {}", account.name,
                     e.retry_at - now, failure.summary());
        if (!e.access_token.empty() && e.expires_at > now + 5) co_return grant_from(e);
        co_return problem(token_problem::unavailable, "token endpoint: " + failure.summary());
    }
    spdlog::error("account '{}': OAuth2 refresh refused, the account is now {}: {}{}", account.name,
                  store::to_string(failure.state), failure.summary(),
                  failure.state == oauth_state::needs_consent
                      ? " (consent again on the admin page or with 'mailgate account oauth')"
                      : "");
    protocols::wipe(e.access_token);
    e.access_token.clear();
    co_return problem(problem_for(failure.state), failure.summary());
}

void token_service::schedule_ahead(const store::account& account, entry& e) {
    auto now = unix_now();
    auto lifetime = std::max<std::int64_t>(e.lifetime, 1);
    auto wait = std::max<std::int64_t>(e.expires_at - ahead_margin(lifetime) - now, 1);
    e.ahead.expires_after(std::chrono::seconds(wait));
    auto obtained = e.obtained_at;
    e.ahead.async_wait([this, account, obtained, stopped = stopped_](boost::system::error_code ec) {
        if (ec || *stopped) return;
        auto it = entries_.find(account.id);
        if (it == entries_.end()) return;
        auto& current = *it->second;
        // Only accounts in use since this token came; the others refresh lazily at their next login.
        if (current.obtained_at != obtained || current.used_at < obtained || current.in_flight) return;
        asio::co_spawn(strand_, background_refresh(account), asio::detached);
    });
}

asio::awaitable<void> token_service::background_refresh(store::account account) {
    auto it = entries_.find(account.id);
    if (it == entries_.end() || it->second->in_flight || *stopped_) co_return;
    auto e = it->second;
    auto result = co_await refresh(account, *e);
    protocols::wipe(result.token);
}

void token_service::start() { asio::co_spawn(strand_, keep_alive_loop(), asio::detached); }

void token_service::stop() {
    *stopped_ = true;
    asio::post(strand_, [this] {
        keep_alive_.cancel();
        for (auto& [id, e] : entries_) e->ahead.cancel();
    });
}

asio::awaitable<void> token_service::keep_alive_loop() {
    auto stopped = stopped_;
    keep_alive_.expires_after(std::chrono::seconds(5)); // soon after start: a gateway that was down a week
    for (;;) {
        boost::system::error_code ec;
        co_await keep_alive_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec || *stopped) co_return;
        try {
            auto due = co_await store_.run([](store::account_repository& repo) {
                std::vector<store::account> out;
                auto now = unix_now();
                for (auto& a : repo.list()) {
                    if (a.credential != store::credential_kind::oauth2 || !a.enabled) continue;
                    auto g = repo.oauth().grant(a.id);
                    if (!g || (g->state != oauth_state::ok && g->state != oauth_state::degraded)) continue;
                    auto last = g->last_refresh_at.value_or(g->consented_at.value_or(0));
                    if (now - last >= keep_alive_age) out.push_back(std::move(a));
                }
                return out;
            });
            for (auto& a : due) {
                if (*stopped) co_return;
                spdlog::info("account '{}': OAuth2 keep-alive refresh (unused for a week)", a.name);
                auto loaded = co_await obtain(a, -1); // brings the stored tokens into memory
                protocols::wipe(loaded.token);
                if (loaded.problem != token_problem::none) continue;
                auto e = entries_[a.id];
                e->used_at = 0; // a keep-alive is no use: no refresh ahead on its account
                if (e->in_flight) continue;
                auto refreshed = co_await refresh(a, *e);
                protocols::wipe(refreshed.token);
            }
        } catch (const std::exception& ex) {
            spdlog::warn("OAuth2 keep-alive scan failed: {}", ex.what());
        }
        keep_alive_.expires_after(std::chrono::hours(1));
    }
}

} // namespace mailgate::oauth
