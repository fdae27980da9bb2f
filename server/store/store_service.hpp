// Runs the blocking store (SQLite, scrypt) on a small thread pool and hands results back to the I/O coroutines.
#pragma once

#include "server/store/account_repository.hpp"
#include "server/store/credential_cache.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>

namespace mailgate::store {

class store_service {
public:
    store_service(account_repository& repository, boost::asio::thread_pool& pool) : repo_(repository), pool_(pool) {}

    // Runs `f(repository)` on the pool; the awaiting coroutine resumes on its own executor.
    // Not a coroutine itself: GCC 12 destroys by-value coroutine parameters with captures twice.
    template <class F> auto run(F f) {
        using R = decltype(f(std::declval<account_repository&>()));
        return boost::asio::co_spawn(
            pool_, [this, f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(repo_); },
            boost::asio::use_awaitable);
    }

    // Bookkeeping nobody waits for (last login, upstream status): queued on the pool, failures only logged.
    void record(std::function<void(account_repository&)> write);

    // The local login (cached for a few minutes after a success). nullopt: wrong user or password.
    boost::asio::awaitable<std::optional<account>> authenticate(std::string user, std::string password);

    account_repository& repository() { return repo_; }

private:
    std::optional<account> authenticate_blocking(const std::string& user, const std::string& password);

    account_repository& repo_;
    boost::asio::thread_pool& pool_;
    credential_cache cache_;
};

} // namespace mailgate::store
