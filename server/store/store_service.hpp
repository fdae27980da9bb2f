// Runs the blocking store (SQLite) on a small thread pool and password checks on the KDF queue, and hands results
// back to the I/O coroutines.
#pragma once

#include "protocols/common/login_proof.hpp"
#include "server/store/account_repository.hpp"
#include "server/store/credential_cache.hpp"
#include "server/store/generation_cache.hpp"
#include "server/store/kdf_queue.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <functional>

namespace mailgate::store {

enum class local_check {
    ok,
    wrong,          // unknown user or wrong password
    repeated_wrong, // the same wrong credential as a recent failure: known without a KDF run
    busy,           // the KDF queue is full: try again later
};

struct local_login {
    local_check verdict = local_check::wrong;
    bool known_user = false;            // the user name belongs to an account (whatever the password)
    bool challenge_not_allowed = false; // an APOP / CRAM-MD5 answer for an account that does not allow them
    std::optional<account> record;      // when ok
};

class store_service {
public:
    store_service(account_repository& repository, boost::asio::thread_pool& pool, kdf_limits kdf = {})
        : repo_(repository), pool_(pool), kdf_(kdf) {}

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

    // The local login from `client` (an address: the KDF queue's fairness bucket). A success is remembered for a
    // few minutes and so is a failure, so neither a polling client nor a misconfigured one costs a KDF run each
    // time. Wipes `password`. `before_kdf` is told the account when a KDF run for a known user is about to start
    // (on the caller's executor): work that can overlap the check (the early provider connect) starts there. A
    // pointer, not a by-value std::function: GCC 12 mishandles by-value coroutine parameters holding captures.
    boost::asio::awaitable<local_login>
    authenticate(std::string user, std::string password, std::string client,
                 const std::function<void(const account&)>* before_kdf = nullptr);

    // An APOP or CRAM-MD5 login: `answer` (the client's digest) against the account's reversible secret. No KDF
    // (the digest is cheap) and no cache (every challenge is new); wrong, unknown and not-allowed look alike.
    boost::asio::awaitable<local_login> check_challenge(std::string user, std::string answer,
                                                        protocols::login_proof proof);
    // Whether APOP / CRAM-MD5 are to be offered: some account allows them. Never blocks; another process's
    // change (the CLI) is seen within seconds.
    bool challenge_logins_enabled();

    // The account's provider password, opened from its sealed form; the sealed form is kept (never the password),
    // so a busy account's logins do not each read it from the database. Throws secret_error.
    boost::asio::awaitable<std::string> remote_secret(const account& a);

    // Checks a password against a stored hash on the KDF queue (the admin page's login).
    boost::asio::awaitable<bool> verify_password(std::string password, std::string encoded_hash,
                                                 std::string client);

    account_repository& repository() { return repo_; }
    void stop() { kdf_.stop(); }

private:
    // What a login reads from the store for a typed user name.
    struct login_lookup {
        std::string user;              // the stored local user the typed name stands for
        std::optional<account> record; // the user's account, whatever the password
        std::string against; // its password hash, or for an unknown user a dummy one (same KDF cost)
    };
    // Whether another process's changes were looked for recently enough that kept store reads may be served: a
    // change made with the CLI is seen within this time (the first login after a quiet spell looks again).
    bool external_changes_checked_recently() const;
    // What `cache` holds for `key`, if it is still current (see above and account_repository::generation()).
    template <class Key, class Value>
    std::optional<Value> kept(generation_cache<Key, Value>& cache, const Key& key) {
        if (!external_changes_checked_recently()) return std::nullopt;
        return cache.find(key, repo_.generation());
    }
    // Runs `read(repository)` on the pool after looking for other processes' commits; gives the generation the
    // read happened under (taken before it: a write racing the read makes it stale) and its result.
    template <class F> auto run_fresh(F read) {
        return run([this, read = std::move(read)](account_repository& repo) mutable {
            repo.notice_external_changes();
            external_checked_at_.store(steady_milliseconds(), std::memory_order_relaxed);
            auto generation = repo.generation();
            return std::pair{generation, read(repo)};
        });
    }
    static std::int64_t steady_milliseconds();

    account_repository& repo_;
    boost::asio::thread_pool& pool_;
    kdf_queue kdf_;
    credential_cache good_;
    credential_cache bad_{std::chrono::minutes(5)};
    generation_cache<std::string, login_lookup> lookups_{
        4096}; // typed user name -> lookup (known users only)
    generation_cache<std::int64_t, std::string> sealed_secrets_{
        4096};                                             // account id -> sealed provider password
    std::atomic<std::int64_t> external_checked_at_{-1000}; // steady clock, milliseconds
    std::atomic<std::int64_t> challenge_checked_at_{0};    // steady clock, seconds
    std::atomic<bool> challenge_refresh_queued_{false};
};

} // namespace mailgate::store
