// What the store keeps about an account's OAuth2 consent: the state the token service acts on, diagnostics for the
// admin, and (separately, sealed) the tokens themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailgate::store {

enum class oauth_state {
    ok,
    refreshing,
    degraded,      // transient refresh failures (network, 5xx, 429): tokens kept, retried with backoff
    needs_consent, // invalid_grant, interaction_required, consent_required, or never consented
    config_error, // invalid_client, unauthorized_client, AADSTS700025/7000218: the client registration is wrong
};
std::string_view to_string(oauth_state s);
oauth_state oauth_state_from_string(std::string_view s);

// The last token-endpoint failure, verbatim (OAuth error and description carry no secret).
struct oauth_error_record {
    std::string error;
    std::string description;
    int http_status = 0;
    std::int64_t at = 0;
};

struct oauth_grant {
    std::int64_t account_id = 0;
    std::string client; // oauth client name
    oauth_state state = oauth_state::needs_consent;
    std::string identity; // who consented (id_token email/preferred_username, when the provider says)
    std::string scopes;   // granted
    std::optional<std::int64_t> consented_at;
    std::optional<std::int64_t> access_expires_at;
    std::optional<std::int64_t> last_refresh_at; // last successful refresh
    std::int64_t generation = 0;                 // bumped whenever the tokens change (consent, refresh)
    std::int64_t refresh_count = 0;
    std::int64_t refresh_failures = 0;
    bool has_refresh_token = false;
    oauth_error_record last_error; // empty error: none since the last success
};

// Secrets: wiped by whoever holds them.
struct oauth_tokens {
    std::string access_token;
    std::int64_t access_expires_at = 0;
    std::string refresh_token;
    std::int64_t generation = 0;
};

// What a consent or a refresh hands to the store. An empty refresh_token keeps the stored one (no rotation).
struct oauth_token_update {
    std::string access_token;
    std::int64_t access_expires_at = 0;
    std::string refresh_token;
    std::optional<std::string> identity; // consent only
    std::optional<std::string> scopes;
    bool consent = false;
};

} // namespace mailgate::store
