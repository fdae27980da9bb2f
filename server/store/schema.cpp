// Schema migrations. Append new steps; never edit a released one (what it does, in either engine).
#include "server/store/schema.hpp"

#include <string>
#include <vector>

namespace mailgate::store {
namespace {

// One schema for both engines: the steps name types by what they hold, each engine spells them its way.
//   {id}       the row id (SQLite's INTEGER PRIMARY KEY is the rowid)   {int}   a 64-bit integer
//   {blob}     bytes                                                    {strict} SQLite's STRICT typing
//   {ci_text}  text compared without case (user names, addresses: COLLATE NOCASE / citext)
struct migration {
    const char* sql;
    const char* postgresql_before = ""; // what only PostgreSQL needs, around the shared part
    const char* postgresql_after = "";
};

// PostgreSQL tells every instance when the tables the login caches follow change (LISTEN mailgate_changes,
// see postgres_database::data_version); SQLite's other processes see PRAGMA data_version move instead.
#define MAILGATE_NOTIFY_ON(table)                                                                            \
    "CREATE TRIGGER " table "_changed AFTER INSERT OR UPDATE OR DELETE ON " table                            \
    " FOR EACH STATEMENT EXECUTE FUNCTION mailgate_notify_change();\n"

const std::vector<migration>& migrations() {
    static const std::vector<migration> steps{
        {// 1: accounts, their endpoints (with last upstream status per protocol), allowed senders, metadata.
         R"sql(
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value {blob} NOT NULL
){strict};
CREATE TABLE accounts (
    id                  {id},
    name                TEXT NOT NULL UNIQUE,
    local_user          {ci_text} NOT NULL UNIQUE,
    local_password_hash TEXT NOT NULL,
    remote_user         TEXT NOT NULL,
    remote_secret       {blob} NOT NULL,
    provider            TEXT NOT NULL,
    enabled             {int} NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at          {int} NOT NULL,
    updated_at          {int} NOT NULL,
    last_login_at       {int}
){strict};
CREATE TABLE endpoints (
    account_id    {int} NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    protocol      TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3', 'smtp')),
    url           TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'unknown',
    status_at     {int},
    status_reason TEXT,
    PRIMARY KEY (account_id, protocol)
){strict};
CREATE TABLE senders (
    account_id {int} NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    address    {ci_text} NOT NULL,
    PRIMARY KEY (account_id, address)
){strict};
)sql",
         "CREATE EXTENSION IF NOT EXISTS citext;",
         "CREATE FUNCTION mailgate_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
         "PERFORM pg_notify('mailgate_changes', TG_TABLE_NAME); RETURN NULL; END $$;\n" MAILGATE_NOTIFY_ON(
             "accounts") MAILGATE_NOTIFY_ON("endpoints") MAILGATE_NOTIFY_ON("senders")},
        {// 2: OAuth2 upstream credentials: the client registrations and, per oauth2 account, its grant.
         R"sql(
ALTER TABLE accounts ADD COLUMN credential TEXT NOT NULL DEFAULT 'password' CHECK (credential IN ('password', 'oauth2'));
CREATE TABLE oauth_clients (
    name          TEXT PRIMARY KEY,
    preset        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret {blob},
    authorize_url TEXT NOT NULL DEFAULT '',
    token_url     TEXT NOT NULL,
    device_url    TEXT NOT NULL DEFAULT '',
    revoke_url    TEXT NOT NULL DEFAULT '',
    scope         TEXT NOT NULL,
    mechanism     TEXT NOT NULL CHECK (mechanism IN ('xoauth2', 'oauthbearer')),
    tenant        TEXT NOT NULL DEFAULT '',
    from_config   {int} NOT NULL DEFAULT 0 CHECK (from_config IN (0, 1))
){strict};
CREATE TABLE oauth_grants (
    account_id             {int} PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    client                 TEXT NOT NULL,
    state                  TEXT NOT NULL DEFAULT 'needs_consent',
    identity               TEXT NOT NULL DEFAULT '',
    scopes                 TEXT NOT NULL DEFAULT '',
    refresh_token          {blob},
    access_token           {blob},
    access_expires_at      {int},
    consented_at           {int},
    last_refresh_at        {int},
    generation             {int} NOT NULL DEFAULT 0,
    refresh_count          {int} NOT NULL DEFAULT 0,
    refresh_failures       {int} NOT NULL DEFAULT 0,
    last_error             TEXT NOT NULL DEFAULT '',
    last_error_description TEXT NOT NULL DEFAULT '',
    last_error_status      {int} NOT NULL DEFAULT 0,
    last_error_at          {int} NOT NULL DEFAULT 0,
    refresh_lease_until    {int} NOT NULL DEFAULT 0
){strict};
)sql",
         "", MAILGATE_NOTIFY_ON("oauth_grants")},
        {// 3: mailbox options (POP3 from an IMAP folder, Sent copies) and the UIDL map for POP3 from IMAP.
         R"sql(
ALTER TABLE accounts ADD COLUMN pop3_source TEXT NOT NULL DEFAULT 'native' CHECK (pop3_source IN ('native', 'imap'));
ALTER TABLE accounts ADD COLUMN pop3_folder TEXT NOT NULL DEFAULT 'INBOX';
ALTER TABLE accounts ADD COLUMN pop3_mark_seen {int} NOT NULL DEFAULT 0 CHECK (pop3_mark_seen IN (0, 1));
ALTER TABLE accounts ADD COLUMN save_sent TEXT NOT NULL DEFAULT 'auto' CHECK (save_sent IN ('auto', 'always', 'never'));
ALTER TABLE accounts ADD COLUMN sent_folder TEXT NOT NULL DEFAULT 'Sent';
UPDATE accounts SET pop3_source = 'imap', sent_folder = 'Sent Messages' WHERE provider = 'icloud'
    AND EXISTS (SELECT 1 FROM endpoints e WHERE e.account_id = accounts.id AND e.protocol = 'imap')
    AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.account_id = accounts.id AND e.protocol = 'pop3');
CREATE TABLE pop3_uidls (
    account_id  {int} NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    folder      TEXT NOT NULL,
    uidvalidity {int} NOT NULL,
    uid         {int} NOT NULL,
    uidl        TEXT NOT NULL,
    message_id  TEXT NOT NULL DEFAULT '',
    size        {int} NOT NULL,
    PRIMARY KEY (account_id, folder, uidvalidity, uid)
){strict};
)sql"},
        {// 4: the reversible local secret APOP and CRAM-MD5 need, sealed like remote_secret; NULL unless the
         // admin enabled those logins for the account.
         R"sql(
ALTER TABLE accounts ADD COLUMN challenge_secret {blob};
)sql"},
        {// 5: the spool queue shared by the instances of one store (store/spool_ledger.hpp): each instance's
         // lease, and each queued message with its owner. The byte columns hold the spool files as they are.
         R"sql(
CREATE TABLE spool_instances (
    instance    TEXT PRIMARY KEY,
    alive_until {int} NOT NULL,
    process     TEXT NOT NULL DEFAULT ''
){strict};
CREATE TABLE spool_messages (
    id       TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    envelope {blob} NOT NULL,
    data     {blob} NOT NULL,
    state    {blob} NOT NULL,
    request  TEXT NOT NULL DEFAULT '' CHECK (request IN ('', 'retry', 'delete'))
){strict};
CREATE INDEX spool_messages_by_owner ON spool_messages (owner);
)sql"},
    };
    return steps;
}

std::string in_dialect(std::string sql, sql_dialect dialect) {
    bool pg = dialect == sql_dialect::postgresql;
    const std::pair<std::string_view, std::string_view> words[] = {
        {"{id}", pg ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY"},
        {"{int}", pg ? "BIGINT" : "INTEGER"},
        {"{blob}", pg ? "BYTEA" : "BLOB"},
        {"{ci_text}", pg ? "CITEXT" : "TEXT COLLATE NOCASE"},
        {"{strict}", pg ? "" : " STRICT"},
    };
    for (auto [word, spelled] : words)
        for (auto at = sql.find(word); at != std::string::npos; at = sql.find(word, at + spelled.size()))
            sql.replace(at, word.size(), spelled);
    return sql;
}

} // namespace

int schema_version() { return static_cast<int>(migrations().size()); }

namespace {

void migrate_locked(database& db) {
    int current = db.schema_version();
    if (current > schema_version())
        throw store_error("database schema version " + std::to_string(current) +
                          " is newer than this mailgate (" + std::to_string(schema_version()) + ")");
    bool pg = db.dialect() == sql_dialect::postgresql;
    for (int v = current; v < schema_version(); ++v) {
        const auto& step = migrations()[static_cast<std::size_t>(v)];
        transaction tx(db);
        if (pg) db.exec(step.postgresql_before);
        db.exec(in_dialect(step.sql, db.dialect()));
        if (pg) db.exec(step.postgresql_after);
        db.set_schema_version(v + 1);
        tx.commit();
    }
}

} // namespace

void migrate(database& db) {
    db.lock_for_migration();
    try {
        migrate_locked(db);
    } catch (...) {
        db.unlock_after_migration();
        throw;
    }
    db.unlock_after_migration();
}

} // namespace mailgate::store
