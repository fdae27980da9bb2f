// "Test connection" jobs started from the admin page: each runs the same probe as `mailgate account test` and
// collects the steps as they complete, so the page can show them one by one by polling.
#pragma once

#include "server/proxy/upstream_probe.hpp"
#include "server/store/store_service.hpp"

#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace mailgate::admin {

class test_jobs {
public:
    // Starts the probes of every endpoint of `account` on `executor`; returns the job id.
    std::string start(boost::asio::any_io_executor executor, proxy::provider_access access,
                      store::account account);
    // {"steps": [...], "done": bool, "ok": bool}; nullopt for an unknown id.
    std::optional<boost::json::value> status(const std::string& id);

private:
    struct job {
        std::mutex mutex;
        boost::json::array steps;
        bool done = false;
        bool ok = true;
    };
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<job>> jobs_;
};

} // namespace mailgate::admin
