// Accounts in the store (SQLite or PostgreSQL): prepared statements only; remote secrets sealed with AES-256-GCM under the master key.
// Calls block (KDF, disk): run them off the I/O threads (see store_service).
#pragma once

#include "server/common/user_error.hpp"
#include "server/store/account.hpp"
#include "server/store/crypto.hpp"
#include "server/store/database.hpp"
#include "server/store/guarded_key.hpp"
#include "server/store/oauth_repository.hpp"
#include "server/store/password_hasher.hpp"
#include "server/store/pop3_uidls.hpp"
#include "server/store/spool_ledger.hpp"

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

namespace mailgate::store {

// The stored provider secret could not be opened: wrong key, tampering, or a row moved between accounts.
class secret_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class account_repository {
public:
    // Opens the store (`store`: see open_database; empty is data_dir/mailgate.db) with data_dir/master.key, which
    // is created only with a database that has never had one. Throws on a missing or loose key file, or a key
    // that does not match the database.
    account_repository(const std::filesystem::path& data_dir, const std::string& store,
                       password_hasher hasher = password_hasher());
    explicit account_repository(const std::filesystem::path& data_dir,
                                password_hasher hasher = password_hasher());

    user_result<account> create(const new_account& a);
    std::vector<account> list();
    // The names of the enabled accounts, in one query (what the account watch compares live sessions with).
    std::set<std::string> enabled_names();
    user_result<account> find(std::string_view name);
    user_result<void> remove(std::string_view name);
    user_result<void> set_enabled(std::string_view name, bool enabled);
    // `challenge_logins`: keep (true) or drop (false) the sealed reversible copy APOP and CRAM-MD5 need;
    // nullopt leaves the account as it is (a kept copy follows the new password).
    user_result<void> set_local_password(std::string_view name, std::string_view password,
                                         std::optional<bool> challenge_logins = std::nullopt);
    // Turns APOP / CRAM-MD5 off for the account and forgets the reversible copy (turning them on needs the
    // password: set_local_password(..., true)).
    user_result<void> disable_challenge_logins(std::string_view name);
    user_result<void> set_remote_secret(std::string_view name, std::string_view secret);

    // The local login: the account (even if disabled) when the password matches, else nullopt. Callers treat
    // "no such user" and "wrong password" alike. Slow by design (scrypt).
    std::optional<account> verify_local(std::string_view typed_user, std::string_view password);
    // The local password hash, for callers that cache verifications (changes when the password changes).
    std::optional<std::string> local_password_hash(std::string_view local_user);
    // A hash of this repository's KDF parameters that no password matches: unknown users are checked against it,
    // so that they cost what a known user costs.
    const std::string& unknown_user_hash();
    std::optional<account> find_by_local_user(std::string_view local_user);
    // The stored local user name a client's typed name stands for (`user`, `user@domain`, `DOMAIN\user`:
    // see local_user_candidates), or nullopt when none exists.
    std::optional<std::string> resolve_local_user(std::string_view typed);
    std::optional<account> find_by_id(std::int64_t id);
    // The enabled account allowed to send as `address` (its senders, or its remote user when it lists none);
    // the first by name when several are.
    std::optional<account> find_by_sender(std::string_view address);

    // Decrypts the provider secret. Throws secret_error naming the account, never the secret.
    std::string remote_secret(const account& a);
    // The reversible local password of an account with challenge logins, else nullopt. Throws secret_error.
    std::optional<std::string> challenge_secret(const account& a);
    // Whether any account allows APOP / CRAM-MD5 (then they are offered). Lock-free; exact for this process's
    // writes, refresh_challenge_logins_in_use() picks up another process's (the CLI's).
    bool challenge_logins_in_use() const { return challenge_logins_in_use_.load(std::memory_order_relaxed); }
    void refresh_challenge_logins_in_use();

    // Changes what is given (remote user, provider, endpoints, senders); the secret and passwords are separate.
    struct changes {
        std::optional<std::string> local_user{};
        std::optional<std::string> remote_user{};
        std::optional<std::string> provider{};
        std::optional<std::vector<domain::upstream_endpoint>> endpoints{};
        std::optional<std::vector<std::string>> senders{};
        std::optional<domain::mailbox_options> mailbox{};
    };
    user_result<account> update(std::string_view name, const changes& c);

    // OAuth2 clients and grants, in the same database under the same key and lock.
    oauth_repository& oauth() { return oauth_; }
    // UIDLs of accounts whose POP3 is served from an IMAP folder.
    pop3_uidl_map& uidls() { return uidls_; }
    // The spool queue the instances share; used only when the store is shared (PostgreSQL), see shared().
    spool_ledger& spool() { return spool_; }
    // Whether several instances may use this store at once (PostgreSQL), and so share the spool.
    bool shared() const;

    // One of an account's provider-session slots (proxy/upstream_slots), shared by the instances on a PostgreSQL
    // store: true when this instance now holds it. Always true on SQLite (one instance counts in memory).
    bool try_take_session_slot(std::int64_t account_id, unsigned slot);
    void give_back_session_slot(std::int64_t account_id, unsigned slot);

    // Reads from the database, throwing when it cannot (the readiness check of /healthz).
    void check_reachable();

    // The admin page's password hash (scrypt), kept in the same database.
    std::optional<std::string> admin_password_hash();
    void set_admin_password(std::string_view password);

    void record_status(std::int64_t account_id, domain::mail_protocol protocol, upstream_status status,
                       std::string_view reason);
    void record_login(std::int64_t account_id);
    // Whether a successful login should write "ok" and the last-login time for this endpoint: yes unless this
    // process wrote "ok" there within the last minute (a later call then says no). Every login of a busy account
    // would otherwise cost two database writes; the times shown are "within a minute". Needs no database.
    bool claim_login_record(std::int64_t account_id, domain::mail_protocol protocol);

    // Grows whenever what a login reads may have changed: any row of accounts, endpoints, senders or OAuth2 grants
    // written through this object, and (after notice_external_changes()) any commit by another process. What was
    // read under one generation is still current while generation() returns the same number. Needs no database.
    std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    // Looks whether another process (the CLI, another instance) committed since the last look.
    void notice_external_changes();

    // The provider password in two steps, so that a caller may keep the sealed form: the stored ciphertext (a
    // database read), and opening it (no database). remote_secret() does both.
    std::string sealed_remote_secret(const account& a);
    std::string open_remote_secret(const account& a, const std::string& sealed) const;

private:
    std::optional<account> load(std::string_view where_clause, std::string_view value);
    void load_details(account& a);
    std::string secret_aad(std::int64_t account_id) const;
    std::string challenge_aad(std::int64_t account_id) const;
    void count_challenge_logins_unlocked();
    void check_master_key();

    std::mutex mutex_;
    std::atomic<std::uint64_t> generation_{0};
    std::int64_t data_version_ = -1; // under mutex_
    std::mutex recent_ok_mutex_;
    std::map<std::pair<std::int64_t, domain::mail_protocol>, std::int64_t> recent_ok_; // -> unix time written
    std::unique_ptr<database> owned_db_;
    database& db_;
    guarded_key key_;
    password_hasher hasher_;
    std::once_flag unknown_user_hash_once_;
    std::string unknown_user_hash_;
    std::atomic<bool> challenge_logins_in_use_{false};
    oauth_repository oauth_{db_, key_, mutex_};
    pop3_uidl_map uidls_{db_, mutex_};
    spool_ledger spool_{db_, mutex_};
};

} // namespace mailgate::store
