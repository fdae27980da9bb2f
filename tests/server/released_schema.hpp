// The schema steps as released, for migration tests: a database "made by an older release" is built from these
// copies rather than from server/store/schema.cpp, so that an edit of a released step there fails a test.
#pragma once

namespace released_schema {

// Migration 1.
inline constexpr const char* v1 = R"sql(
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
)sql";

// Migration 2 (OAuth2).
inline constexpr const char* v2 = R"sql(
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
)sql";

} // namespace released_schema
