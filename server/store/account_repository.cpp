// Account persistence and the sealing of provider secrets.
#include "server/store/account_repository.hpp"

#include "server/common/unix_time.hpp"
#include "server/store/local_user_name.hpp"
#include "server/store/master_key_file.hpp"
#include "server/store/open_database.hpp"
#include "server/store/schema.hpp"

#include <sys/stat.h>

#include <chrono>

namespace mailgate::store {
namespace {

constexpr const char* account_columns =
    "SELECT id, name, local_user, remote_user, provider, enabled, created_at, updated_at, last_login_at, "
    "credential, "
    "(SELECT client FROM oauth_grants g WHERE g.account_id = accounts.id), "
    "pop3_source, pop3_folder, pop3_mark_seen, save_sent, sent_folder, challenge_secret IS NOT NULL FROM "
    "accounts ";

void write_mailbox(database& db, std::int64_t id, const domain::mailbox_options& m) {
    db.prepare("UPDATE accounts SET pop3_source = ?1, pop3_folder = ?2, pop3_mark_seen = ?3, save_sent = ?4, "
               "sent_folder = ?5 WHERE id = ?6")
        .bind(1, domain::to_string(m.pop3))
        .bind(2, m.pop3_folder)
        .bind(3, std::int64_t{m.pop3_mark_seen})
        .bind(4, domain::to_string(m.sent))
        .bind(5, m.sent_folder)
        .bind(6, id)
        .run();
}

bool has_imap(const std::vector<domain::upstream_endpoint>& endpoints) {
    for (const auto& e : endpoints)
        if (e.protocol == domain::mail_protocol::imap) return true;
    return false;
}

bool has_key_check(database& db) {
    return db.prepare("SELECT value FROM meta WHERE key = 'key_check'").step();
}

const char* key_check_label = "mailgate master key check v1";

user_error not_found(std::string_view name) { return {"no account named '" + std::string(name) + "'"}; }

} // namespace

std::string_view to_string(credential_kind k) { return k == credential_kind::oauth2 ? "oauth2" : "password"; }

std::string_view to_string(upstream_status s) {
    switch (s) {
    case upstream_status::unknown: return "unknown";
    case upstream_status::ok: return "ok";
    case upstream_status::auth_failed: return "auth_failed";
    case upstream_status::unreachable: return "unreachable";
    case upstream_status::tls_error: return "tls_error";
    case upstream_status::protocol_error: return "protocol_error";
    }
    return "unknown";
}

upstream_status upstream_status_from_string(std::string_view s) {
    for (auto v : {upstream_status::ok, upstream_status::auth_failed, upstream_status::unreachable,
                   upstream_status::tls_error, upstream_status::protocol_error})
        if (to_string(v) == s) return v;
    return upstream_status::unknown;
}

account_repository::account_repository(const std::filesystem::path& data_dir, password_hasher hasher)
    : account_repository(data_dir, std::string(), hasher) {}

account_repository::account_repository(const std::filesystem::path& data_dir, const std::string& store,
                                       password_hasher hasher)
    : owned_db_(open_database(data_dir, store)), db_(*owned_db_),
      // The schema first: whether a key may be made depends on whether the database has met one.
      key_((migrate(db_), load_or_create_master_key(data_dir / "master.key", !has_key_check(db_)))),
      hasher_(hasher) {
    db_.on_row_change(
        [](void* self, const char* table) {
            std::string_view t(table);
            if (t == "accounts" || t == "endpoints" || t == "senders" || t == "oauth_grants")
                static_cast<account_repository*>(self)->generation_.fetch_add(1, std::memory_order_acq_rel);
        },
        this);
    check_master_key();
    count_challenge_logins_unlocked();
}

void account_repository::count_challenge_logins_unlocked() {
    auto query = db_.prepare("SELECT EXISTS (SELECT 1 FROM accounts WHERE challenge_secret IS NOT NULL)");
    query.step();
    challenge_logins_in_use_.store(query.column_int64(0) != 0, std::memory_order_relaxed);
}

void account_repository::notice_external_changes() {
    std::lock_guard lock(mutex_);
    auto version = db_.data_version();
    if (version != data_version_) {
        data_version_ = version;
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
}

void account_repository::refresh_challenge_logins_in_use() {
    std::lock_guard lock(mutex_);
    count_challenge_logins_unlocked();
}

void account_repository::check_master_key() {
    std::string key_view(reinterpret_cast<const char*>(key_.get().data()), key_.get().size());
    auto check = hmac_sha256(key_view, key_check_label);
    wipe(key_view);
    auto query = db_.prepare("SELECT value FROM meta WHERE key = 'key_check'");
    if (query.step()) {
        if (!constant_time_equal(query.column_blob(0), check))
            throw key_file_error("the master key does not belong to this database (wrong master.key file)");
        return;
    }
    db_.prepare("INSERT INTO meta(key, value) VALUES ('key_check', ?1)").bind_blob(1, check).run();
}

std::string account_repository::secret_aad(std::int64_t account_id) const {
    return "mailgate remote secret v1; account " + std::to_string(account_id);
}

std::string account_repository::challenge_aad(std::int64_t account_id) const {
    return "mailgate challenge secret v1; account " + std::to_string(account_id);
}

user_result<account> account_repository::create(const new_account& a) {
    if (a.name.empty() || a.local_user.empty() || a.remote_user.empty())
        return user_error{"name, local user and remote user must not be empty"};
    if (a.endpoints.empty()) return user_error{"an account needs at least one upstream endpoint"};
    bool oauth2 = a.credential == credential_kind::oauth2;
    if (oauth2 && a.oauth_client.empty())
        return user_error{"an oauth2 account needs an OAuth client (--oauth-client)"};
    if (oauth2 && !oauth_.client(a.oauth_client, false))
        return user_error{"no OAuth client named '" + a.oauth_client + "' (configure [oauth." +
                          a.oauth_client + "] or add it on the admin page)"};
    if (auto ok = domain::validate_mailbox_options(a.mailbox, has_imap(a.endpoints)); !ok) return ok.error();
    auto hash = hasher_.hash(a.local_password); // slow: outside the lock
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    auto now = unix_now();
    std::int64_t id = 0;
    try {
        auto insert = db_.prepare(
            "INSERT INTO accounts(name, local_user, local_password_hash, remote_user, remote_secret, "
            "provider, created_at, updated_at, credential) VALUES (?1, ?2, ?3, ?4, ?8, ?5, ?6, ?6, ?7) "
            "RETURNING id");
        insert.bind(1, a.name)
            .bind(2, a.local_user)
            .bind(3, hash)
            .bind(4, a.remote_user)
            .bind(5, a.provider)
            .bind(6, now)
            .bind(7, to_string(a.credential))
            .bind_blob(8, "");
        insert.step();
        id = insert.column_int64(0);
    } catch (const store_error& e) {
        if (!e.is_constraint()) throw;
        auto clash = db_.prepare("SELECT name FROM accounts WHERE name = ?1").bind(1, a.name).step()
                         ? "an account named '" + a.name + "' already exists"
                         : "local user '" + a.local_user + "' already belongs to another account";
        return user_error{clash};
    }
    // The id is in the AAD, so the secret is sealed after the row exists.
    db_.prepare("UPDATE accounts SET remote_secret = ?1 WHERE id = ?2")
        .bind_blob(1, seal(key_.get(), a.remote_secret, secret_aad(id)))
        .bind(2, id)
        .run();
    if (a.challenge_logins)
        db_.prepare("UPDATE accounts SET challenge_secret = ?1 WHERE id = ?2")
            .bind_blob(1, seal(key_.get(), a.local_password, challenge_aad(id)))
            .bind(2, id)
            .run();
    for (const auto& e : a.endpoints) {
        try {
            db_.prepare("INSERT INTO endpoints(account_id, protocol, url) VALUES (?1, ?2, ?3)")
                .bind(1, id)
                .bind(2, domain::to_string(e.protocol))
                .bind(3, e.url())
                .run();
        } catch (const store_error& err) {
            if (!err.is_constraint()) throw;
            return user_error{"more than one " + std::string(domain::to_string(e.protocol)) +
                              " endpoint given"};
        }
    }
    for (const auto& s : a.senders) {
        db_.prepare("INSERT INTO senders(account_id, address) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
            .bind(1, id)
            .bind(2, s)
            .run();
    }
    write_mailbox(db_, id, a.mailbox);
    if (oauth2)
        db_.prepare("INSERT INTO oauth_grants(account_id, client) VALUES (?1, ?2)")
            .bind(1, id)
            .bind(2, a.oauth_client)
            .run();
    tx.commit();
    if (a.challenge_logins) challenge_logins_in_use_.store(true, std::memory_order_relaxed);
    auto created = load("WHERE id = ?1", std::to_string(id));
    return *created;
}

std::optional<account> account_repository::load(std::string_view where_clause, std::string_view value) {
    auto query = db_.prepare(std::string(account_columns) + std::string(where_clause));
    query.bind(1, value);
    if (!query.step()) return std::nullopt;
    account a;
    a.id = query.column_int64(0);
    a.name = query.column_text(1);
    a.local_user = query.column_text(2);
    a.remote_user = query.column_text(3);
    a.provider = query.column_text(4);
    a.enabled = query.column_int64(5) != 0;
    a.created_at = query.column_int64(6);
    a.updated_at = query.column_int64(7);
    a.last_login_at = query.column_optional_int64(8);
    a.credential = query.column_text(9) == "oauth2" ? credential_kind::oauth2 : credential_kind::password;
    if (!query.column_is_null(10)) a.oauth_client = query.column_text(10);
    a.mailbox.pop3 =
        domain::pop3_source_from_string(query.column_text(11)).value_or(domain::pop3_source::native);
    a.mailbox.pop3_folder = query.column_text(12);
    a.mailbox.pop3_mark_seen = query.column_int64(13) != 0;
    a.mailbox.sent =
        domain::save_sent_from_string(query.column_text(14)).value_or(domain::save_sent::automatic);
    a.mailbox.sent_folder = query.column_text(15);
    a.challenge_logins = query.column_int64(16) != 0;
    load_details(a);
    return a;
}

void account_repository::load_details(account& a) {
    auto endpoints =
        db_.prepare("SELECT url, status, status_at, status_reason FROM endpoints WHERE account_id = ?1");
    endpoints.bind(1, a.id);
    while (endpoints.step()) {
        auto parsed = domain::parse_upstream_url(endpoints.column_text(0));
        if (!parsed) continue; // only valid URLs are ever written
        endpoint_record r{*parsed, upstream_status_from_string(endpoints.column_text(1)),
                          endpoints.column_optional_int64(2), endpoints.column_text(3)};
        a.endpoints.emplace(parsed->protocol, std::move(r));
    }
    auto senders = db_.prepare("SELECT address FROM senders WHERE account_id = ?1 ORDER BY address");
    senders.bind(1, a.id);
    while (senders.step()) a.senders.push_back(senders.column_text(0));
    if (a.credential == credential_kind::oauth2) a.oauth = oauth_.grant_unlocked(a.id);
}

std::vector<account> account_repository::list() {
    std::lock_guard lock(mutex_);
    std::vector<account> out;
    auto query = db_.prepare("SELECT name FROM accounts ORDER BY name");
    while (query.step()) {
        if (auto a = load("WHERE name = ?1", query.column_text(0))) out.push_back(std::move(*a));
    }
    return out;
}

std::set<std::string> account_repository::enabled_names() {
    std::lock_guard lock(mutex_);
    std::set<std::string> out;
    auto query = db_.prepare("SELECT name FROM accounts WHERE enabled = 1");
    while (query.step()) out.insert(query.column_text(0));
    return out;
}

user_result<account> account_repository::find(std::string_view name) {
    std::lock_guard lock(mutex_);
    if (auto a = load("WHERE name = ?1", name)) return std::move(*a);
    return not_found(name);
}

std::optional<account> account_repository::find_by_local_user(std::string_view local_user) {
    std::lock_guard lock(mutex_);
    return load("WHERE local_user = ?1", local_user);
}

std::optional<account> account_repository::find_by_id(std::int64_t id) {
    std::lock_guard lock(mutex_);
    return load("WHERE id = ?1", std::to_string(id));
}

std::optional<account> account_repository::find_by_sender(std::string_view address) {
    std::lock_guard lock(mutex_);
    auto query = db_.prepare("SELECT a.name FROM accounts a WHERE a.enabled = 1 AND ("
                             " EXISTS (SELECT 1 FROM senders s WHERE s.account_id = a.id AND s.address = ?1)"
                             " OR (NOT EXISTS (SELECT 1 FROM senders s WHERE s.account_id = a.id) AND "
                             "lower(a.remote_user) = lower(?1)))"
                             " ORDER BY a.name LIMIT 1");
    query.bind(1, address);
    if (!query.step()) return std::nullopt;
    return load("WHERE name = ?1", query.column_text(0));
}

user_result<void> account_repository::remove(std::string_view name) {
    std::lock_guard lock(mutex_);
    db_.prepare("DELETE FROM accounts WHERE name = ?1").bind(1, name).run();
    if (db_.changes() == 0) return not_found(name);
    count_challenge_logins_unlocked();
    return {};
}

user_result<void> account_repository::set_enabled(std::string_view name, bool enabled) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE accounts SET enabled = ?1, updated_at = ?2 WHERE name = ?3")
        .bind(1, enabled ? 1 : 0)
        .bind(2, unix_now())
        .bind(3, name)
        .run();
    if (db_.changes() == 0) return not_found(name);
    return {};
}

user_result<void> account_repository::set_local_password(std::string_view name, std::string_view password,
                                                         std::optional<bool> challenge_logins) {
    auto hash = hasher_.hash(password);
    std::lock_guard lock(mutex_);
    auto a = load("WHERE name = ?1", name);
    if (!a) return not_found(name);
    bool keep = challenge_logins.value_or(a->challenge_logins);
    transaction tx(db_);
    db_.prepare("UPDATE accounts SET local_password_hash = ?1, updated_at = ?2 WHERE id = ?3")
        .bind(1, hash)
        .bind(2, unix_now())
        .bind(3, a->id)
        .run();
    auto update = db_.prepare("UPDATE accounts SET challenge_secret = ?1 WHERE id = ?2");
    if (keep)
        update.bind_blob(1, seal(key_.get(), password, challenge_aad(a->id)));
    else
        update.bind_null(1);
    update.bind(2, a->id).run();
    tx.commit();
    count_challenge_logins_unlocked();
    return {};
}

user_result<void> account_repository::disable_challenge_logins(std::string_view name) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE accounts SET challenge_secret = NULL, updated_at = ?1 WHERE name = ?2")
        .bind(1, unix_now())
        .bind(2, name)
        .run();
    if (db_.changes() == 0) return not_found(name);
    count_challenge_logins_unlocked();
    return {};
}

user_result<void> account_repository::set_remote_secret(std::string_view name, std::string_view secret) {
    std::lock_guard lock(mutex_);
    auto a = load("WHERE name = ?1", name);
    if (!a) return not_found(name);
    if (a->credential == credential_kind::oauth2)
        return user_error{"account '" + std::string(name) +
                          "' logs in to its provider with OAuth2, not a password: "
                          "give consent again with 'mailgate account oauth " +
                          std::string(name) + "'"};
    db_.prepare("UPDATE accounts SET remote_secret = ?1, updated_at = ?2 WHERE id = ?3")
        .bind_blob(1, seal(key_.get(), secret, secret_aad(a->id)))
        .bind(2, unix_now())
        .bind(3, a->id)
        .run();
    return {};
}

std::optional<std::string> account_repository::local_password_hash(std::string_view local_user) {
    std::lock_guard lock(mutex_);
    auto query = db_.prepare("SELECT local_password_hash FROM accounts WHERE local_user = ?1");
    query.bind(1, local_user);
    if (!query.step()) return std::nullopt;
    return query.column_text(0);
}

const std::string& account_repository::unknown_user_hash() {
    std::call_once(unknown_user_hash_once_, [this] { unknown_user_hash_ = hasher_.hash(random_bytes(32)); });
    return unknown_user_hash_;
}

std::optional<std::string> account_repository::resolve_local_user(std::string_view typed) {
    std::lock_guard lock(mutex_);
    for (const auto& name : local_user_candidates(typed)) {
        auto query = db_.prepare("SELECT local_user FROM accounts WHERE local_user = ?1");
        query.bind(1, name);
        if (query.step()) return query.column_text(0);
    }
    return std::nullopt;
}

std::optional<account> account_repository::verify_local(std::string_view typed, std::string_view password) {
    auto local_user = resolve_local_user(typed);
    auto hash = local_user ? local_password_hash(*local_user) : std::nullopt;
    // An unknown user still pays for one KDF run so timing does not reveal which users exist.
    bool ok = password_hasher::verify(password, hash ? *hash : unknown_user_hash());
    if (!ok || !hash) return std::nullopt;
    return find_by_local_user(*local_user);
}

std::string account_repository::remote_secret(const account& a) {
    return open_remote_secret(a, sealed_remote_secret(a));
}

std::string account_repository::sealed_remote_secret(const account& a) {
    std::lock_guard lock(mutex_);
    auto query = db_.prepare("SELECT remote_secret FROM accounts WHERE id = ?1");
    query.bind(1, a.id);
    if (!query.step()) throw secret_error("account '" + a.name + "' no longer exists");
    return query.column_blob(0);
}

std::string account_repository::open_remote_secret(const account& a, const std::string& sealed) const {
    auto secret = open(key_.get(), sealed, secret_aad(a.id));
    if (!secret)
        throw secret_error(
            "the stored provider password of account '" + a.name +
            "' failed authentication (tampered, or moved from another account); set it again with "
            "'mailgate account passwd " +
            a.name + " --remote'");
    return std::move(*secret);
}

std::optional<std::string> account_repository::challenge_secret(const account& a) {
    std::string sealed;
    {
        std::lock_guard lock(mutex_);
        auto query = db_.prepare("SELECT challenge_secret FROM accounts WHERE id = ?1");
        query.bind(1, a.id);
        if (!query.step() || query.column_is_null(0)) return std::nullopt;
        sealed = query.column_blob(0);
    }
    auto secret = open(key_.get(), sealed, challenge_aad(a.id));
    if (!secret)
        throw secret_error("the stored APOP/CRAM-MD5 secret of account '" + a.name +
                           "' failed authentication (tampered, or moved from another account); set the local "
                           "password again with 'mailgate account passwd " +
                           a.name + " --challenge-logins on'");
    return secret;
}

user_result<account> account_repository::update(std::string_view name, const changes& c) {
    std::lock_guard lock(mutex_);
    auto current = load("WHERE name = ?1", name);
    if (!current) return not_found(name);
    if (c.endpoints && c.endpoints->empty())
        return user_error{"an account needs at least one upstream endpoint"};
    if ((c.local_user && c.local_user->empty()) || (c.remote_user && c.remote_user->empty()))
        return user_error{"local user and remote user must not be empty"};
    if (c.mailbox || c.endpoints) {
        bool imap =
            c.endpoints ? has_imap(*c.endpoints) : current->endpoints.contains(domain::mail_protocol::imap);
        if (auto ok = domain::validate_mailbox_options(c.mailbox.value_or(current->mailbox), imap); !ok)
            return ok.error();
    }
    transaction tx(db_);
    auto id = current->id;
    try {
        if (c.local_user)
            db_.prepare("UPDATE accounts SET local_user = ?1 WHERE id = ?2")
                .bind(1, *c.local_user)
                .bind(2, id)
                .run();
    } catch (const store_error& e) {
        if (!e.is_constraint()) throw;
        return user_error{"local user '" + *c.local_user + "' already belongs to another account"};
    }
    if (c.remote_user)
        db_.prepare("UPDATE accounts SET remote_user = ?1 WHERE id = ?2")
            .bind(1, *c.remote_user)
            .bind(2, id)
            .run();
    if (c.provider)
        db_.prepare("UPDATE accounts SET provider = ?1 WHERE id = ?2").bind(1, *c.provider).bind(2, id).run();
    if (c.endpoints) {
        db_.prepare("DELETE FROM endpoints WHERE account_id = ?1").bind(1, id).run();
        for (const auto& e : *c.endpoints) {
            try {
                db_.prepare("INSERT INTO endpoints(account_id, protocol, url) VALUES (?1, ?2, ?3)")
                    .bind(1, id)
                    .bind(2, domain::to_string(e.protocol))
                    .bind(3, e.url())
                    .run();
            } catch (const store_error& err) {
                if (!err.is_constraint()) throw;
                return user_error{"more than one " + std::string(domain::to_string(e.protocol)) +
                                  " endpoint given"};
            }
        }
    }
    if (c.senders) {
        db_.prepare("DELETE FROM senders WHERE account_id = ?1").bind(1, id).run();
        for (const auto& s : *c.senders)
            db_.prepare("INSERT INTO senders(account_id, address) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
                .bind(1, id)
                .bind(2, s)
                .run();
    }
    if (c.mailbox) write_mailbox(db_, id, *c.mailbox);
    db_.prepare("UPDATE accounts SET updated_at = ?1 WHERE id = ?2").bind(1, unix_now()).bind(2, id).run();
    tx.commit();
    return *load("WHERE id = ?1", std::to_string(id));
}

// Advisory locks of the two-key form, which never meets the one-key migration lock: (account id, slot). Held by
// this process's connection, so a dead instance's slots come free with its connection.
bool account_repository::try_take_session_slot(std::int64_t account_id, unsigned slot) {
    if (db_.dialect() != sql_dialect::postgresql) return true;
    std::lock_guard lock(mutex_);
    auto q = db_.prepare("SELECT pg_try_advisory_lock(CAST(?1 AS integer), CAST(?2 AS integer))");
    q.bind(1, account_id).bind(2, std::int64_t{slot});
    return q.step() && q.column_int64(0) == 1;
}

void account_repository::give_back_session_slot(std::int64_t account_id, unsigned slot) {
    if (db_.dialect() != sql_dialect::postgresql) return;
    std::lock_guard lock(mutex_);
    auto q = db_.prepare("SELECT pg_advisory_unlock(CAST(?1 AS integer), CAST(?2 AS integer))");
    q.bind(1, account_id).bind(2, std::int64_t{slot});
    q.run();
}

bool account_repository::shared() const { return db_.dialect() == sql_dialect::postgresql; }

void account_repository::check_reachable() {
    std::lock_guard lock(mutex_);
    db_.prepare("SELECT count(*) FROM meta").step();
}

std::optional<std::string> account_repository::admin_password_hash() {
    std::lock_guard lock(mutex_);
    auto query = db_.prepare("SELECT value FROM meta WHERE key = 'admin_password_hash'");
    if (!query.step()) return std::nullopt;
    return query.column_blob(0);
}

void account_repository::set_admin_password(std::string_view password) {
    auto hash = hasher_.hash(password);
    std::lock_guard lock(mutex_);
    db_.prepare("INSERT INTO meta(key, value) VALUES ('admin_password_hash', ?1) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind_blob(1, hash)
        .run();
}

void account_repository::record_status(std::int64_t account_id, domain::mail_protocol protocol,
                                       upstream_status status, std::string_view reason) {
    auto now = unix_now();
    {
        std::lock_guard lock(recent_ok_mutex_);
        if (status == upstream_status::ok)
            recent_ok_[{account_id, protocol}] = now;
        else
            recent_ok_.erase({account_id, protocol});
    }
    std::lock_guard lock(mutex_);
    db_.prepare(
           "UPDATE endpoints SET status = ?1, status_at = ?2, status_reason = ?3 WHERE account_id = ?4 AND "
           "protocol = ?5")
        .bind(1, to_string(status))
        .bind(2, now)
        .bind(3, reason)
        .bind(4, account_id)
        .bind(5, domain::to_string(protocol))
        .run();
}

void account_repository::record_login(std::int64_t account_id) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE accounts SET last_login_at = ?1 WHERE id = ?2")
        .bind(1, unix_now())
        .bind(2, account_id)
        .run();
}

bool account_repository::claim_login_record(std::int64_t account_id, domain::mail_protocol protocol) {
    constexpr std::int64_t rewrite_after_seconds = 60;
    auto now = unix_now();
    std::lock_guard lock(recent_ok_mutex_);
    auto [it, fresh] = recent_ok_.try_emplace({account_id, protocol}, now);
    if (fresh) return true;
    if (now - it->second < rewrite_after_seconds) return false;
    it->second = now;
    return true;
}

} // namespace mailgate::store
