// The KDF worker threads and their fair, bounded queue.
#include "server/store/kdf_queue.hpp"

#include "server/store/crypto.hpp"
#include "server/store/password_hasher.hpp"

#include <boost/asio/post.hpp>

#include <sys/resource.h>
#include <unistd.h>

namespace mailgate::store {

kdf_queue::kdf_queue(kdf_limits limits) : limits_(limits) {
    for (unsigned i = 0; i < std::max(1u, limits_.threads); ++i) threads_.emplace_back([this] { work(); });
}

kdf_queue::~kdf_queue() { stop(); }

void kdf_queue::complete(waiter w, kdf_verdict v) {
    // Resume the waiting coroutine on its own executor, never on a KDF thread.
    boost::asio::post(w.executor, [h = std::move(w.done), v]() mutable { std::move(h)(v); });
}

void kdf_queue::submit(std::string share_key, std::string client, std::string password,
                       std::string encoded_hash, waiter done) {
    std::unique_lock lock(mutex_);
    if (auto it = waiters_.find(share_key); it != waiters_.end()) {
        it->second.push_back(std::move(done));
        wipe(password);
        return;
    }
    auto& mine = by_client_[client];
    if (stopping_ || queued_ >= limits_.queued || mine.size() >= limits_.queued_per_client) {
        if (mine.empty()) by_client_.erase(client);
        lock.unlock();
        wipe(password);
        complete(std::move(done), kdf_verdict::busy);
        return;
    }
    if (mine.empty()) turn_.push_back(client);
    waiters_[share_key].push_back(std::move(done));
    mine.push_back({std::move(share_key), std::move(password), std::move(encoded_hash)});
    ++queued_;
    lock.unlock();
    ready_.notify_one();
}

void kdf_queue::work() {
    // Below the I/O threads: on a small box a burst of KDF runs must not delay relays and cached logins.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    for (;;) {
        job next;
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [this] { return stopping_ || !turn_.empty(); });
            if (turn_.empty()) return; // stopping with nothing left
            auto client = std::move(turn_.front());
            turn_.pop_front();
            auto& jobs = by_client_[client];
            next = std::move(jobs.front());
            jobs.pop_front();
            --queued_;
            if (jobs.empty())
                by_client_.erase(client);
            else
                turn_.push_back(std::move(client));
        }
        bool ok = password_hasher::verify(next.password, next.encoded_hash);
        ++runs_;
        wipe(next.password);
        std::vector<waiter> done;
        {
            std::lock_guard lock(mutex_);
            auto it = waiters_.find(next.share_key);
            if (it != waiters_.end()) {
                done = std::move(it->second);
                waiters_.erase(it);
            }
        }
        for (auto& h : done) complete(std::move(h), ok ? kdf_verdict::match : kdf_verdict::mismatch);
    }
}

void kdf_queue::stop() {
    std::vector<waiter> abandoned;
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
        for (auto& [client, jobs] : by_client_)
            for (auto& j : jobs) {
                wipe(j.password);
                if (auto it = waiters_.find(j.share_key); it != waiters_.end()) {
                    for (auto& h : it->second) abandoned.push_back(std::move(h));
                    waiters_.erase(it);
                }
            }
        by_client_.clear();
        turn_.clear();
        queued_ = 0;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (auto& h : abandoned) complete(std::move(h), kdf_verdict::busy);
}

} // namespace mailgate::store
