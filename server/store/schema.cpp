// Schema migrations. Append new steps; never edit a released one.
#include "server/store/schema.hpp"

#include <string>
#include <vector>

namespace mailgate::store {
namespace {

const std::vector<const char*>& migrations() {
    static const std::vector<const char*> steps{
        // 1: accounts, their endpoints (with last upstream status per protocol), allowed senders, metadata.
        R"sql(
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE accounts (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    local_user          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    local_password_hash TEXT NOT NULL,
    remote_user         TEXT NOT NULL,
    remote_secret       BLOB NOT NULL,
    provider            TEXT NOT NULL,
    enabled             INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_login_at       INTEGER
) STRICT;
CREATE TABLE endpoints (
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    protocol      TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3', 'smtp')),
    url           TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'unknown',
    status_at     INTEGER,
    status_reason TEXT,
    PRIMARY KEY (account_id, protocol)
) STRICT;
CREATE TABLE senders (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    address    TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (account_id, address)
) STRICT;
)sql",
        // 2: OAuth2 upstream credentials: the client registrations and, per oauth2 account, its grant.
        R"sql(
ALTER TABLE accounts ADD COLUMN credential TEXT NOT NULL DEFAULT 'password' CHECK (credential IN ('password', 'oauth2'));
CREATE TABLE oauth_clients (
    name          TEXT PRIMARY KEY,
    preset        TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret BLOB,
    authorize_url TEXT NOT NULL DEFAULT '',
    token_url     TEXT NOT NULL,
    device_url    TEXT NOT NULL DEFAULT '',
    revoke_url    TEXT NOT NULL DEFAULT '',
    scope         TEXT NOT NULL,
    mechanism     TEXT NOT NULL CHECK (mechanism IN ('xoauth2', 'oauthbearer')),
    tenant        TEXT NOT NULL DEFAULT '',
    from_config   INTEGER NOT NULL DEFAULT 0 CHECK (from_config IN (0, 1))
) STRICT;
CREATE TABLE oauth_grants (
    account_id             INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    client                 TEXT NOT NULL,
    state                  TEXT NOT NULL DEFAULT 'needs_consent',
    identity               TEXT NOT NULL DEFAULT '',
    scopes                 TEXT NOT NULL DEFAULT '',
    refresh_token          BLOB,
    access_token           BLOB,
    access_expires_at      INTEGER,
    consented_at           INTEGER,
    last_refresh_at        INTEGER,
    generation             INTEGER NOT NULL DEFAULT 0,
    refresh_count          INTEGER NOT NULL DEFAULT 0,
    refresh_failures       INTEGER NOT NULL DEFAULT 0,
    last_error             TEXT NOT NULL DEFAULT '',
    last_error_description TEXT NOT NULL DEFAULT '',
    last_error_status      INTEGER NOT NULL DEFAULT 0,
    last_error_at          INTEGER NOT NULL DEFAULT 0,
    refresh_lease_until    INTEGER NOT NULL DEFAULT 0
) STRICT;
)sql",
        // 3: mailbox options (POP3 from an IMAP folder, Sent copies) and the UIDL map for POP3 from IMAP.
        R"sql(
ALTER TABLE accounts ADD COLUMN pop3_source TEXT NOT NULL DEFAULT 'native' CHECK (pop3_source IN ('native', 'imap'));
ALTER TABLE accounts ADD COLUMN pop3_folder TEXT NOT NULL DEFAULT 'INBOX';
ALTER TABLE accounts ADD COLUMN pop3_mark_seen INTEGER NOT NULL DEFAULT 0 CHECK (pop3_mark_seen IN (0, 1));
ALTER TABLE accounts ADD COLUMN save_sent TEXT NOT NULL DEFAULT 'auto' CHECK (save_sent IN ('auto', 'always', 'never'));
ALTER TABLE accounts ADD COLUMN sent_folder TEXT NOT NULL DEFAULT 'Sent';
UPDATE accounts SET pop3_source = 'imap', sent_folder = 'Sent Messages' WHERE provider = 'icloud'
    AND EXISTS (SELECT 1 FROM endpoints e WHERE e.account_id = accounts.id AND e.protocol = 'imap')
    AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.account_id = accounts.id AND e.protocol = 'pop3');
CREATE TABLE pop3_uidls (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    folder      TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    uidl        TEXT NOT NULL,
    message_id  TEXT NOT NULL DEFAULT '',
    size        INTEGER NOT NULL,
    PRIMARY KEY (account_id, folder, uidvalidity, uid)
) STRICT;
)sql",
        // 4: the reversible local secret APOP and CRAM-MD5 need, sealed like remote_secret; NULL unless the
        // admin enabled those logins for the account.
        R"sql(
ALTER TABLE accounts ADD COLUMN challenge_secret BLOB;
)sql",
    };
    return steps;
}

} // namespace

int schema_version() { return static_cast<int>(migrations().size()); }

void migrate(database& db) {
    auto query = db.prepare("PRAGMA user_version");
    query.step();
    int current = static_cast<int>(query.column_int64(0));
    if (current > schema_version())
        throw sqlite_error(0, "database schema version " + std::to_string(current) +
                                  " is newer than this mailgate (" + std::to_string(schema_version()) + ")");
    for (int v = current; v < schema_version(); ++v) {
        transaction tx(db);
        db.exec(migrations()[static_cast<std::size_t>(v)]);
        db.exec("PRAGMA user_version = " + std::to_string(v + 1));
        tx.commit();
    }
}

} // namespace mailgate::store
