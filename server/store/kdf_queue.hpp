// Runs local password checks (scrypt: deliberately slow, 128 MiB each) on threads of their own, apart from the
// SQLite pool, so that a cached login never waits behind a KDF. The queue is bounded in total and per client
// address and served round-robin between addresses, so one address flooding it delays mostly itself; identical
// checks already queued or running (same user, password and stored hash) share one run. Memory is bounded by
// threads x the KDF's memory.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace mailgate::store {

enum class kdf_verdict { match, mismatch, busy };

struct kdf_limits {
    unsigned threads = 2;
    std::size_t queued = 64;           // checks waiting, all addresses
    std::size_t queued_per_client = 4; // checks waiting from one client address
};

class kdf_queue {
public:
    using handler = boost::asio::any_completion_handler<void(kdf_verdict)>;

    explicit kdf_queue(kdf_limits limits = {});
    kdf_queue(const kdf_queue&) = delete;
    ~kdf_queue();

    // Verifies `password` against `encoded_hash`; completes on the caller's executor. `share_key` identifies the
    // check for sharing (a keyed hash of user, password and stored hash), `client` the fairness bucket.
    template <class Token>
    auto async_verify(std::string share_key, std::string client, std::string password,
                      std::string encoded_hash, Token&& token) {
        return boost::asio::async_initiate<Token, void(kdf_verdict)>(
            [this](auto done, std::string k, std::string c, std::string p, std::string h) {
                boost::asio::any_io_executor where = boost::asio::get_associated_executor(done);
                submit(std::move(k), std::move(c), std::move(p), std::move(h),
                       {where, handler(std::move(done))});
            },
            token, std::move(share_key), std::move(client), std::move(password), std::move(encoded_hash));
    }

    // Finishes the running checks, answers the waiting ones `busy`, and joins the threads.
    void stop();
    // KDF runs so far (shared checks count once).
    std::uint64_t runs() const { return runs_.load(); }

private:
    struct waiter {
        boost::asio::any_io_executor executor; // where the caller resumes
        handler done;
    };
    struct job {
        std::string share_key;
        std::string password;
        std::string encoded_hash;
    };

    void submit(std::string share_key, std::string client, std::string password, std::string encoded_hash,
                waiter w);
    void work();
    static void complete(waiter w, kdf_verdict v);

    kdf_limits limits_;
    std::mutex mutex_;
    std::condition_variable ready_;
    bool stopping_ = false;
    std::size_t queued_ = 0;
    std::map<std::string, std::deque<job>> by_client_; // waiting jobs per client address
    std::deque<std::string> turn_;                     // clients with waiting jobs, in serving order
    std::unordered_map<std::string, std::vector<waiter>> waiters_; // per share key, queued or running
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> runs_{0};
};

} // namespace mailgate::store
