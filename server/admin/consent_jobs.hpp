// OAuth2 consents started from the admin page: a device-flow poll running in the background, or an authorization
// code request waiting for its redirect. Each is bound to the admin session that started it, expires, and is used
// once; the page polls its status. Holds the PKCE verifier (a secret) only until the code is exchanged.
#pragma once

#include "server/store/oauth_grant.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace mailgate::admin {

enum class consent_status { pending, exchanging, ok, failed, cancelled };
std::string_view to_string(consent_status s);

struct consent_job {
    ~consent_job();

    std::string id;
    std::string session; // the admin session (cookie value) that started it
    std::string binding; // code flow: the value of the mg_oauth_<id> cookie that the callback must bring
    std::string account;
    std::int64_t account_id = 0;
    std::string kind; // "device" or "code"
    std::chrono::steady_clock::time_point deadline;
    std::int64_t expires_at = 0; // unix seconds, for the page

    // Guarded by the registry's mutex from here on.
    consent_status status = consent_status::pending;
    std::string message; // one line for the page; never a token
    std::optional<store::oauth_error_record> error;
    std::string identity, scopes;
    std::string test_id; // the login test run with the new token
    // device flow
    std::string user_code, verification_uri, verification_uri_complete;
    std::int64_t interval = 0;
    // code flow
    std::string state;
    std::string code_verifier; // secret
    std::string redirect_uri;
};

class consent_jobs {
public:
    // Registers `job` (id filled in here); drops expired and old finished ones; cancels pending device polls of the
    // same account (a newer code replaces them).
    std::shared_ptr<consent_job> add(std::shared_ptr<consent_job> job);
    std::shared_ptr<consent_job> find(const std::string& id);
    // Requests still waiting (each device one has a poller running).
    std::size_t pending();
    // The pending, unexpired code-flow job with this state; nullptr when there is none.
    std::shared_ptr<consent_job> find_by_state(const std::string& state);
    // One-shot: pending -> exchanging; false when it was no longer pending (used, cancelled, expired). The verifier
    // is moved out into `verifier`.
    bool take(consent_job& job, std::string& verifier);
    // A pending job that the page abandoned, or that expired.
    bool cancelled(consent_job& job);
    bool cancel(consent_job& job);
    void finish(consent_job& job, consent_status status, std::string message,
                std::optional<store::oauth_error_record> error = std::nullopt, std::string identity = {},
                std::string scopes = {}, std::string test_id = {});
    boost::json::object to_json(consent_job& job);

private:
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<consent_job>> jobs_;
};

} // namespace mailgate::admin
