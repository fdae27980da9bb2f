// The admin page's pending and finished OAuth2 consents.
#include "server/admin/consent_jobs.hpp"

#include "server/store/crypto.hpp"

#include <algorithm>

namespace mailgate::admin {
namespace {

std::int64_t now_unix() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool expired(const consent_job& j) { return std::chrono::steady_clock::now() > j.deadline; }

constexpr std::size_t max_jobs = 100;

} // namespace

std::string_view to_string(consent_status s) {
    switch (s) {
    case consent_status::pending: return "pending";
    case consent_status::exchanging: return "exchanging";
    case consent_status::ok: return "ok";
    case consent_status::failed: return "failed";
    case consent_status::cancelled: return "cancelled";
    }
    return "failed";
}

consent_job::~consent_job() { store::wipe(code_verifier); }

std::shared_ptr<consent_job> consent_jobs::add(std::shared_ptr<consent_job> job) {
    std::string id;
    for (unsigned char c : store::random_bytes(12)) id += "0123456789abcdef"[c & 15];
    job->id = id;
    std::lock_guard lock(mutex_);
    auto stale = std::chrono::steady_clock::now() - std::chrono::hours(1);
    std::erase_if(jobs_, [&](const auto& item) {
        const auto& j = *item.second;
        return j.deadline < stale || (j.status != consent_status::pending &&
                                      j.status != consent_status::exchanging && jobs_.size() > max_jobs);
    });
    for (auto& [other_id, other] : jobs_) {
        if (other->account_id == job->account_id && other->status == consent_status::pending) {
            other->status = consent_status::cancelled;
            other->message = "replaced by a newer consent request";
            store::wipe(other->code_verifier);
        }
    }
    jobs_[id] = job;
    return job;
}

std::shared_ptr<consent_job> consent_jobs::find(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    return it == jobs_.end() ? nullptr : it->second;
}

std::size_t consent_jobs::pending() {
    std::lock_guard lock(mutex_);
    return std::count_if(jobs_.begin(), jobs_.end(), [](const auto& item) {
        return item.second->status == consent_status::pending && !expired(*item.second);
    });
}

std::shared_ptr<consent_job> consent_jobs::find_by_state(const std::string& state) {
    if (state.empty()) return nullptr;
    std::lock_guard lock(mutex_);
    for (auto& [id, j] : jobs_)
        if (j->kind == "code" && j->status == consent_status::pending && !expired(*j) &&
            store::constant_time_equal(j->state, state))
            return j;
    return nullptr;
}

bool consent_jobs::take(consent_job& job, std::string& verifier) {
    std::lock_guard lock(mutex_);
    if (job.status != consent_status::pending || expired(job)) return false;
    job.status = consent_status::exchanging;
    job.message = "exchanging the authorization code";
    verifier = std::move(job.code_verifier);
    job.code_verifier.clear();
    return true;
}

bool consent_jobs::cancelled(consent_job& job) {
    std::lock_guard lock(mutex_);
    return job.status == consent_status::cancelled;
}

bool consent_jobs::cancel(consent_job& job) {
    std::lock_guard lock(mutex_);
    if (job.status != consent_status::pending) return false;
    job.status = consent_status::cancelled;
    job.message = "cancelled on the admin page";
    store::wipe(job.code_verifier);
    return true;
}

void consent_jobs::finish(consent_job& job, consent_status status, std::string message,
                          std::optional<store::oauth_error_record> error, std::string identity,
                          std::string scopes, std::string test_id) {
    std::lock_guard lock(mutex_);
    job.status = status;
    job.message = std::move(message);
    job.error = std::move(error);
    job.identity = std::move(identity);
    job.scopes = std::move(scopes);
    job.test_id = std::move(test_id);
    store::wipe(job.code_verifier);
}

boost::json::object consent_jobs::to_json(consent_job& job) {
    std::lock_guard lock(mutex_);
    auto status = job.status;
    // A pending request past its deadline is shown as what it has become; the device poller ends on its own.
    if (status == consent_status::pending && expired(job)) status = consent_status::failed;
    boost::json::object o{
        {"id", job.id},
        {"account", job.account},
        {"kind", job.kind},
        {"status", std::string(to_string(status))},
        {"message", status == job.status ? job.message : "the request expired: start again"},
        {"expires_at", job.expires_at},
        {"expires_in", std::max<std::int64_t>(0, job.expires_at - now_unix())},
        {"identity", job.identity},
        {"scopes", job.scopes},
        {"test", job.test_id.empty() ? boost::json::value(nullptr) : boost::json::value(job.test_id)}};
    if (job.error)
        o["error"] = boost::json::object{{"error", job.error->error},
                                         {"description", job.error->description},
                                         {"http_status", job.error->http_status},
                                         {"at", job.error->at}};
    else
        o["error"] = nullptr;
    if (job.kind == "device") {
        o["user_code"] = job.user_code;
        o["verification_uri"] = job.verification_uri;
        o["verification_uri_complete"] = job.verification_uri_complete;
        o["interval"] = job.interval;
    } else {
        o["redirect_uri"] = job.redirect_uri;
    }
    return o;
}

} // namespace mailgate::admin
