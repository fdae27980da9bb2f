// The once-a-second look for accounts disabled or removed elsewhere.
#include "server/proxy/account_watch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace mailgate::proxy {

namespace asio = boost::asio;

account_watch::account_watch(asio::any_io_executor executor, store::store_service& store, activity& live,
                             std::chrono::milliseconds interval)
    : store_(store), live_(live), interval_(interval), timer_(executor) {}

void account_watch::start() { asio::co_spawn(timer_.get_executor(), loop(), asio::detached); }

void account_watch::stop() {
    stopped_ = true;
    timer_.cancel();
}

asio::awaitable<void> account_watch::loop() {
    seen_generation_ = store_.repository().generation();
    while (!stopped_) {
        timer_.expires_after(interval_);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopped_) break;
        try {
            co_await look();
        } catch (const std::exception& e) {
            // The store may be down for a moment (a PostgreSQL restart): the next look tries again.
            spdlog::debug("account watch: {}", e.what());
        }
    }
}

asio::awaitable<void> account_watch::look() {
    // Nothing is read, and no session is looked at, while the store has not changed (the common second).
    auto generation = co_await store_.run([](store::account_repository& repo) {
        repo.notice_external_changes();
        return repo.generation();
    });
    if (generation == seen_generation_) co_return;
    auto enabled = co_await store_.run([](store::account_repository& repo) { return repo.enabled_names(); });
    seen_generation_ = generation;
    std::vector<std::string> gone;
    for (const auto& name : live_.accounts_with_sessions())
        if (!enabled.contains(name)) gone.push_back(name);
    for (const auto& name : gone) {
        auto closed = live_.close_account_sessions(name);
        if (closed == 0) continue;
        spdlog::info("account '{}' was disabled or removed elsewhere: closed its {} session(s) here", name,
                     closed);
        live_.record({std::chrono::system_clock::now(), event_kind::session_closed_by_admin, "", "", name,
                      "disabled or removed by the CLI or another instance"});
    }
}

} // namespace mailgate::proxy
