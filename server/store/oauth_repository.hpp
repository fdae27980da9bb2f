// OAuth2 client registrations and per-account grants in the accounts database. Client secrets, refresh tokens and
// access tokens are sealed with AES-256-GCM under the master key, bound to their row (client name / account id)
// and field by the AAD, like the remote password. Several processes may use one database (serve and the CLI): the
// refresh lease makes one of them refresh at a time, and the generation tells the others the tokens changed.
#pragma once

#include "server/common/user_error.hpp"
#include "server/domain/oauth_client.hpp"
#include "server/store/guarded_key.hpp"
#include "server/store/oauth_grant.hpp"
#include "server/store/sqlite.hpp"

#include <mutex>
#include <vector>

namespace mailgate::store {

class oauth_repository {
public:
    oauth_repository(database& db, const guarded_key& key, std::mutex& mutex)
        : db_(db), key_(key), mutex_(mutex) {}

    // Clients (secret included only by client(): the token service needs it, nothing shows it).
    std::vector<domain::oauth_client> clients();
    // `with_secret` false: the settings alone, without opening the sealed secret (a login needs only the mechanism).
    std::optional<domain::oauth_client> client(std::string_view name, bool with_secret = true);
    // Inserts or replaces; a client from the config file cannot be changed from elsewhere.
    user_result<void> save_client(const domain::oauth_client& c);
    // The [oauth.NAME] sections of the config file, written over what the store had under those names.
    void sync_config_clients(const std::vector<domain::oauth_client>& from_config);
    user_result<void> remove_client(std::string_view name);

    // Grants. Absent for password accounts.
    std::optional<oauth_grant> grant(std::int64_t account_id);
    // The same for a caller that holds the lock already (the account repository loading an account).
    std::optional<oauth_grant> grant_unlocked(std::int64_t account_id);
    void create_grant(std::int64_t account_id, std::string_view client);
    user_result<void> set_grant_client(std::int64_t account_id, std::string_view client);
    // The tokens (empty strings where none is stored).
    oauth_tokens tokens(std::int64_t account_id);
    // A consent or a successful refresh: the tokens, state ok, the generation bumped, the lease released, in one
    // transaction. Returns the new generation.
    std::int64_t store_tokens(std::int64_t account_id, oauth_token_update&& update);
    // A failed refresh: the state and the error, tokens kept, the lease released.
    void record_failure(std::int64_t account_id, oauth_state state, const oauth_error_record& error);
    void set_state(std::int64_t account_id, oauth_state state);
    // The cross-process refresh lease: true when this caller now holds it until `until` (unix seconds).
    bool take_lease(std::int64_t account_id, std::int64_t now, std::int64_t until);
    void release_lease(std::int64_t account_id);

private:
    std::string client_aad(std::string_view name) const;
    std::string token_aad(std::int64_t account_id, std::string_view field) const;
    std::optional<std::string> open_sealed(std::string_view sealed, const std::string& aad) const;
    domain::oauth_client read_client(statement& q, bool with_secret);
    user_result<void> write_client(const domain::oauth_client& c, bool from_config);

    database& db_;
    const guarded_key& key_;
    std::mutex& mutex_;
};

} // namespace mailgate::store
