// Admin test-connection jobs.
#include "server/admin/test_jobs.hpp"

#include "server/store/crypto.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/object.hpp>

namespace mailgate::admin {

std::string test_jobs::start(boost::asio::any_io_executor executor, proxy::provider_access access,
                             store::account account) {
    auto j = std::make_shared<job>();
    std::string id;
    for (unsigned char c : store::random_bytes(12)) id += "0123456789abcdef"[c & 15];
    {
        std::lock_guard lock(mutex_);
        if (jobs_.size() > 100) jobs_.erase(jobs_.begin()); // keep only recent jobs
        jobs_[id] = j;
    }
    auto run = [j, access, account = std::move(account)]() mutable -> boost::asio::awaitable<void> {
        for (const auto& [protocol, record] : account.endpoints) {
            std::string name(domain::to_string(protocol));
            auto observer = [&j, name](net::upstream_step step, bool ok, const std::string& detail) {
                std::lock_guard lock(j->mutex);
                j->steps.push_back(boost::json::object{{"protocol", name},
                                                       {"step", std::string(net::to_string(step))},
                                                       {"ok", ok},
                                                       {"detail", detail}});
                if (!ok) j->ok = false;
            };
            auto result = co_await proxy::probe_endpoint(account, record.endpoint, access, observer);
            auto id = account.id;
            auto which = protocol;
            co_await access.store.run([&](store::account_repository& repo) {
                repo.record_status(id, which, result.status, result.reason);
                return 0;
            });
        }
        std::lock_guard lock(j->mutex);
        j->done = true;
    };
    boost::asio::co_spawn(executor, std::move(run), boost::asio::detached);
    return id;
}

std::optional<boost::json::value> test_jobs::status(const std::string& id) {
    std::shared_ptr<job> j;
    {
        std::lock_guard lock(mutex_);
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return std::nullopt;
        j = it->second;
    }
    std::lock_guard lock(j->mutex);
    return boost::json::object{{"steps", j->steps}, {"done", j->done}, {"ok", j->ok && j->done}};
}

} // namespace mailgate::admin
