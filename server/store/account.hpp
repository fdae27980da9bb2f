// What the store knows about an account, minus its secrets (those have their own calls).
#pragma once

#include "server/domain/endpoint.hpp"
#include "server/domain/mailbox_options.hpp"
#include "server/store/oauth_grant.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mailgate::store {

// Last outcome toward the provider, per protocol.
enum class upstream_status { unknown, ok, auth_failed, unreachable, tls_error, protocol_error };
std::string_view to_string(upstream_status s);
upstream_status upstream_status_from_string(std::string_view s);

// What the gateway logs in to the provider with: the remote secret (an app password) or OAuth2 tokens.
enum class credential_kind { password, oauth2 };
std::string_view to_string(credential_kind k);

struct endpoint_record {
    domain::upstream_endpoint endpoint;
    upstream_status status = upstream_status::unknown;
    std::optional<std::int64_t> status_at; // unix seconds
    std::string status_reason;
};

struct account {
    std::int64_t id = 0;
    std::string name;
    std::string local_user;
    std::string remote_user;
    std::string provider; // preset name or "custom"
    bool enabled = true;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::optional<std::int64_t> last_login_at;
    std::map<domain::mail_protocol, endpoint_record> endpoints;
    std::vector<std::string> senders; // allowed MAIL FROM addresses (SMTP); empty means the remote user only
    credential_kind credential = credential_kind::password;
    std::string oauth_client;         // oauth2 accounts: the client registration their grant belongs to
    std::optional<oauth_grant> oauth; // oauth2 accounts: consent, state, last refresh (no tokens)
    domain::mailbox_options mailbox;  // POP3 source and folder, Sent copies
    bool challenge_logins = false; // APOP / CRAM-MD5 allowed: a reversible copy of the local password is kept
};

struct new_account {
    std::string name;
    std::string local_user;
    std::string local_password;
    std::string remote_user;
    std::string remote_secret;
    std::string provider;
    std::vector<domain::upstream_endpoint> endpoints;
    std::vector<std::string> senders;
    credential_kind credential = credential_kind::password; // oauth2: remote_secret stays empty
    std::string oauth_client;
    domain::mailbox_options mailbox; // default_mailbox_options(provider) unless the admin chose
    bool challenge_logins = false;   // allow APOP / CRAM-MD5 (keeps the local password sealed, reversibly)
};

} // namespace mailgate::store
