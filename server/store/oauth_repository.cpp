// OAuth2 rows: clients and grants.
#include "server/store/oauth_repository.hpp"

#include "server/common/unix_time.hpp"
#include "server/store/crypto.hpp"

#include <chrono>

namespace mailgate::store {
namespace {

constexpr const char* client_columns =
    "SELECT name, preset, client_id, authorize_url, token_url, device_url, "
    "revoke_url, scope, mechanism, tenant, from_config, client_secret FROM oauth_clients ";

} // namespace

std::string_view to_string(oauth_state s) {
    switch (s) {
    case oauth_state::ok: return "ok";
    case oauth_state::refreshing: return "refreshing";
    case oauth_state::degraded: return "degraded";
    case oauth_state::needs_consent: return "needs_consent";
    case oauth_state::config_error: return "config_error";
    }
    return "needs_consent";
}

oauth_state oauth_state_from_string(std::string_view s) {
    for (auto v :
         {oauth_state::ok, oauth_state::refreshing, oauth_state::degraded, oauth_state::config_error})
        if (to_string(v) == s) return v;
    return oauth_state::needs_consent;
}

std::string oauth_repository::client_aad(std::string_view name) const {
    return "mailgate oauth client secret v1; client " + std::string(name);
}

std::string oauth_repository::token_aad(std::int64_t account_id, std::string_view field) const {
    return "mailgate oauth " + std::string(field) + " v1; account " + std::to_string(account_id);
}

std::optional<std::string> oauth_repository::open_sealed(std::string_view sealed,
                                                         const std::string& aad) const {
    if (sealed.empty()) return std::string();
    return open(key_.get(), sealed, aad);
}

domain::oauth_client oauth_repository::read_client(statement& q, bool with_secret) {
    domain::oauth_client c;
    c.name = q.column_text(0);
    c.preset = q.column_text(1);
    c.client_id = q.column_text(2);
    c.authorize_url = q.column_text(3);
    c.token_url = q.column_text(4);
    c.device_url = q.column_text(5);
    c.revoke_url = q.column_text(6);
    c.scope = q.column_text(7);
    c.mechanism = q.column_text(8) == "oauthbearer" ? domain::sasl_mechanism::oauthbearer
                                                    : domain::sasl_mechanism::xoauth2;
    c.tenant = q.column_text(9);
    c.from_config = q.column_int64(10) != 0;
    if (with_secret && !q.column_is_null(11)) {
        auto secret = open_sealed(q.column_blob(11), client_aad(c.name));
        if (!secret)
            throw std::runtime_error("the stored secret of OAuth client '" + c.name +
                                     "' failed authentication");
        c.client_secret = std::move(*secret);
    }
    return c;
}

std::vector<domain::oauth_client> oauth_repository::clients() {
    std::lock_guard lock(mutex_);
    std::vector<domain::oauth_client> out;
    auto q = db_.prepare(std::string(client_columns) + "ORDER BY name");
    while (q.step()) {
        out.push_back(read_client(q, false));
        out.back().client_secret = q.column_is_null(11) ? "" : "(set)";
    }
    return out;
}

std::optional<domain::oauth_client> oauth_repository::client(std::string_view name, bool with_secret) {
    std::lock_guard lock(mutex_);
    auto q = db_.prepare(std::string(client_columns) + "WHERE name = ?1");
    q.bind(1, name);
    if (!q.step()) return std::nullopt;
    return read_client(q, with_secret);
}

user_result<void> oauth_repository::write_client(const domain::oauth_client& c, bool from_config) {
    auto existing = db_.prepare("SELECT from_config FROM oauth_clients WHERE name = ?1");
    existing.bind(1, c.name);
    if (existing.step() && existing.column_int64(0) != 0 && !from_config)
        return user_error{"OAuth client '" + c.name + "' comes from the config file; change it there"};
    auto q = db_.prepare(
        "INSERT INTO oauth_clients(name, preset, client_id, client_secret, authorize_url, token_url, "
        "device_url, "
        "revoke_url, scope, mechanism, tenant, from_config) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
        "?11, ?12) "
        "ON CONFLICT(name) DO UPDATE SET preset = excluded.preset, client_id = excluded.client_id, "
        "client_secret = excluded.client_secret, authorize_url = excluded.authorize_url, token_url = "
        "excluded.token_url, "
        "device_url = excluded.device_url, revoke_url = excluded.revoke_url, scope = excluded.scope, "
        "mechanism = excluded.mechanism, tenant = excluded.tenant, from_config = excluded.from_config");
    q.bind(1, c.name).bind(2, c.preset).bind(3, c.client_id);
    if (c.client_secret.empty())
        q.bind_null(4);
    else
        q.bind_blob(4, seal(key_.get(), c.client_secret, client_aad(c.name)));
    q.bind(5, c.authorize_url)
        .bind(6, c.token_url)
        .bind(7, c.device_url)
        .bind(8, c.revoke_url)
        .bind(9, c.scope)
        .bind(10, domain::to_string(c.mechanism))
        .bind(11, c.tenant)
        .bind(12, from_config ? 1 : 0)
        .run();
    return {};
}

user_result<void> oauth_repository::save_client(const domain::oauth_client& c) {
    std::lock_guard lock(mutex_);
    return write_client(c, false);
}

void oauth_repository::sync_config_clients(const std::vector<domain::oauth_client>& from_config) {
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    // A section removed from the file no longer pins its row: it stays (accounts may use it) but becomes editable.
    db_.exec("UPDATE oauth_clients SET from_config = 0");
    for (const auto& c : from_config) (void)write_client(c, true);
    tx.commit();
}

user_result<void> oauth_repository::remove_client(std::string_view name) {
    std::lock_guard lock(mutex_);
    auto used = db_.prepare("SELECT count(*) FROM oauth_grants WHERE client = ?1");
    used.bind(1, name);
    used.step();
    if (auto n = used.column_int64(0); n > 0)
        return user_error{"OAuth client '" + std::string(name) + "' is used by " + std::to_string(n) +
                          " account(s)"};
    auto q = db_.prepare("SELECT from_config FROM oauth_clients WHERE name = ?1");
    q.bind(1, name);
    if (!q.step()) return user_error{"no OAuth client named '" + std::string(name) + "'"};
    if (q.column_int64(0) != 0)
        return user_error{"OAuth client '" + std::string(name) + "' comes from the config file"};
    db_.prepare("DELETE FROM oauth_clients WHERE name = ?1").bind(1, name).run();
    return {};
}

std::optional<oauth_grant> oauth_repository::grant(std::int64_t account_id) {
    std::lock_guard lock(mutex_);
    return grant_unlocked(account_id);
}

std::optional<oauth_grant> oauth_repository::grant_unlocked(std::int64_t account_id) {
    auto q = db_.prepare(
        "SELECT client, state, identity, scopes, consented_at, access_expires_at, last_refresh_at, "
        "generation, "
        "refresh_count, refresh_failures, refresh_token IS NOT NULL AND length(refresh_token) > 0, "
        "last_error, "
        "last_error_description, last_error_status, last_error_at FROM oauth_grants WHERE account_id = ?1");
    q.bind(1, account_id);
    if (!q.step()) return std::nullopt;
    oauth_grant g;
    g.account_id = account_id;
    g.client = q.column_text(0);
    g.state = oauth_state_from_string(q.column_text(1));
    g.identity = q.column_text(2);
    g.scopes = q.column_text(3);
    g.consented_at = q.column_optional_int64(4);
    g.access_expires_at = q.column_optional_int64(5);
    g.last_refresh_at = q.column_optional_int64(6);
    g.generation = q.column_int64(7);
    g.refresh_count = q.column_int64(8);
    g.refresh_failures = q.column_int64(9);
    g.has_refresh_token = q.column_int64(10) != 0;
    g.last_error = {q.column_text(11), q.column_text(12), static_cast<int>(q.column_int64(13)),
                    q.column_int64(14)};
    return g;
}

void oauth_repository::create_grant(std::int64_t account_id, std::string_view client) {
    std::lock_guard lock(mutex_);
    // A new grant replaces the old one whole (its tokens belonged to the old consent).
    transaction tx(db_);
    db_.prepare("DELETE FROM oauth_grants WHERE account_id = ?1").bind(1, account_id).run();
    db_.prepare("INSERT INTO oauth_grants(account_id, client) VALUES (?1, ?2)")
        .bind(1, account_id)
        .bind(2, client)
        .run();
    tx.commit();
}

user_result<void> oauth_repository::set_grant_client(std::int64_t account_id, std::string_view client) {
    std::lock_guard lock(mutex_);
    // Tokens belong to the client that obtained them: a new client needs a new consent.
    db_.prepare(
           "UPDATE oauth_grants SET client = ?1, state = 'needs_consent', refresh_token = NULL, access_token "
           "= NULL, "
           "access_expires_at = NULL, generation = generation + 1 WHERE account_id = ?2 AND client <> ?1")
        .bind(1, client)
        .bind(2, account_id)
        .run();
    return {};
}

oauth_tokens oauth_repository::tokens(std::int64_t account_id) {
    std::string sealed_refresh, sealed_access;
    oauth_tokens out;
    {
        std::lock_guard lock(mutex_);
        auto q =
            db_.prepare("SELECT refresh_token, access_token, access_expires_at, generation FROM oauth_grants "
                        "WHERE account_id = ?1");
        q.bind(1, account_id);
        if (!q.step()) return out;
        if (!q.column_is_null(0)) sealed_refresh = q.column_blob(0);
        if (!q.column_is_null(1)) sealed_access = q.column_blob(1);
        out.access_expires_at = q.column_optional_int64(2).value_or(0);
        out.generation = q.column_int64(3);
    }
    auto refresh = open_sealed(sealed_refresh, token_aad(account_id, "refresh token"));
    auto access = open_sealed(sealed_access, token_aad(account_id, "access token"));
    if (!refresh || !access)
        throw std::runtime_error("the stored OAuth2 tokens of account #" + std::to_string(account_id) +
                                 " failed authentication (tampered, or moved from another account)");
    out.refresh_token = std::move(*refresh);
    out.access_token = std::move(*access);
    return out;
}

std::int64_t oauth_repository::store_tokens(std::int64_t account_id, oauth_token_update&& u) {
    auto sealed_access = seal(key_.get(), u.access_token, token_aad(account_id, "access token"));
    std::string sealed_refresh;
    if (!u.refresh_token.empty())
        sealed_refresh = seal(key_.get(), u.refresh_token, token_aad(account_id, "refresh token"));
    wipe(u.access_token);
    wipe(u.refresh_token);
    auto now = unix_now();
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    db_.prepare(
           "UPDATE oauth_grants SET access_token = ?1, access_expires_at = ?2, state = 'ok', generation = "
           "generation + 1, refresh_lease_until = 0, last_error = '', last_error_description = '', "
           "last_error_status = 0, last_error_at = 0 WHERE account_id = ?3")
        .bind_blob(1, sealed_access)
        .bind(2, u.access_expires_at)
        .bind(3, account_id)
        .run();
    if (!sealed_refresh.empty())
        db_.prepare("UPDATE oauth_grants SET refresh_token = ?1 WHERE account_id = ?2")
            .bind_blob(1, sealed_refresh)
            .bind(2, account_id)
            .run();
    if (u.consent) {
        db_.prepare(
               "UPDATE oauth_grants SET consented_at = ?1, identity = ?2, scopes = ?3, refresh_failures = 0 "
               "WHERE account_id = ?4")
            .bind(1, now)
            .bind(2, u.identity.value_or(""))
            .bind(3, u.scopes.value_or(""))
            .bind(4, account_id)
            .run();
    } else {
        db_.prepare("UPDATE oauth_grants SET last_refresh_at = ?1, refresh_count = refresh_count + 1 WHERE "
                    "account_id = ?2")
            .bind(1, now)
            .bind(2, account_id)
            .run();
        if (u.scopes)
            db_.prepare("UPDATE oauth_grants SET scopes = ?1 WHERE account_id = ?2")
                .bind(1, *u.scopes)
                .bind(2, account_id)
                .run();
    }
    auto q = db_.prepare("SELECT generation FROM oauth_grants WHERE account_id = ?1");
    q.bind(1, account_id);
    auto generation = q.step() ? q.column_int64(0) : 0;
    tx.commit();
    return generation;
}

void oauth_repository::record_failure(std::int64_t account_id, oauth_state state,
                                      const oauth_error_record& e) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE oauth_grants SET state = ?1, last_error = ?2, last_error_description = ?3, "
                "last_error_status = ?4, "
                "last_error_at = ?5, refresh_failures = refresh_failures + 1, refresh_lease_until = 0 WHERE "
                "account_id = ?6")
        .bind(1, to_string(state))
        .bind(2, e.error)
        .bind(3, e.description)
        .bind(4, e.http_status)
        .bind(5, e.at ? e.at : unix_now())
        .bind(6, account_id)
        .run();
}

void oauth_repository::set_state(std::int64_t account_id, oauth_state state) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE oauth_grants SET state = ?1 WHERE account_id = ?2")
        .bind(1, to_string(state))
        .bind(2, account_id)
        .run();
}

bool oauth_repository::take_lease(std::int64_t account_id, std::int64_t now, std::int64_t until) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE oauth_grants SET refresh_lease_until = ?1 WHERE account_id = ?2 AND "
                "refresh_lease_until <= ?3")
        .bind(1, until)
        .bind(2, account_id)
        .bind(3, now)
        .run();
    return db_.changes() == 1;
}

void oauth_repository::release_lease(std::int64_t account_id) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE oauth_grants SET refresh_lease_until = 0 WHERE account_id = ?1")
        .bind(1, account_id)
        .run();
}

} // namespace mailgate::store
