// Closes the live sessions of accounts that were disabled or removed somewhere else: by the CLI, or on another
// instance sharing the store. Once a second it looks whether the store changed (the repository's generation,
// which follows other processes' commits) and only when it did reads the enabled accounts' names (one query) to
// compare with the accounts that have sessions here. Changes made on this instance's admin page close their
// sessions at once without it.
#pragma once

#include "server/proxy/activity.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>

namespace mailgate::proxy {

class account_watch {
public:
    account_watch(boost::asio::any_io_executor executor, store::store_service& store, activity& live,
                  std::chrono::milliseconds interval = std::chrono::seconds(1));
    void start();
    void stop();

private:
    boost::asio::awaitable<void> loop();
    boost::asio::awaitable<void> look();

    store::store_service& store_;
    activity& live_;
    std::chrono::milliseconds interval_;
    boost::asio::steady_timer timer_;
    std::uint64_t seen_generation_ = 0;
    bool stopped_ = false;
};

} // namespace mailgate::proxy
