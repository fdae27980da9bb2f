// The SMTP spool's running half: room accounting for sessions that queue (proxy/spool_submission.hpp), and the
// delivery scheduler. It keeps an index of spool::spool_directory's queue (rescanned every few seconds, so that
// `mailgate queue` changes made beside the running gateway are seen), re-originates each due message through
// its account exactly like a live session (proxy/spool_delivery.hpp) with bounded concurrency in total and per
// account, retries 4xx and connection failures on a backoff schedule, treats 5xx as permanent, and after the
// lifetime or a permanent failure queues an RFC 3464 report to the sender when the sender belongs to the account,
// or keeps the message as `failed` for the administrator.
#pragma once

#include "server/proxy/gateway_settings.hpp"
#include "server/spool/queue_item.hpp"
#include "server/spool/spool_directory.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mailgate::proxy {

// smtp.spool: which sessions queue instead of waiting for the provider.
enum class spool_mode {
    off,     // none: every client hears the provider's own reply
    devices, // sessions that send without AUTH from access.relay_without_auth (scanners, alarm panels)
    all,     // also authenticated clients
};
std::optional<spool_mode> parse_spool_mode(std::string_view text);
std::string_view to_string(spool_mode m);

struct spool_policy {
    spool_mode mode = spool_mode::devices;
    std::uint64_t max_bytes = std::uint64_t(1) << 30; // smtp.spool_max_bytes
    // Waits between attempts; the last one repeats (smtp.spool_retry).
    std::vector<std::chrono::seconds> retries{std::chrono::seconds(60), std::chrono::seconds(300),
                                              std::chrono::seconds(900), std::chrono::seconds(1800),
                                              std::chrono::seconds(3600)};
    std::chrono::seconds lifetime{3 * 86400}; // smtp.spool_lifetime
    unsigned max_deliveries = 8;              // at once, in total
    unsigned max_per_account = 2;             // at once, per account
    std::chrono::seconds scan_interval{5};
};

class spool_service {
public:
    spool_service(boost::asio::any_io_executor executor, const gateway_settings& settings,
                  std::filesystem::path root, spool_policy policy);
    ~spool_service();
    spool_service(const spool_service&) = delete;

    const spool_policy& policy() const { return policy_; }
    spool::spool_directory& directory() { return directory_; }
    // Whether a session's transactions queue: relay sessions unless off, authenticated ones only with `all`.
    bool spools(bool authenticated) const {
        return policy_.mode == spool_mode::all || (policy_.mode == spool_mode::devices && !authenticated);
    }

    // ---- sessions (any thread)
    bool has_room(std::uint64_t more) const;
    bool reserve(std::uint64_t bytes); // false when the spool would exceed max_bytes
    void release(std::uint64_t bytes);
    // Makes the message durable on the disk thread (fsyncs never block an I/O thread).
    boost::asio::awaitable<bool> commit(spool::incoming_message& message);
    // A committed message: its reservation becomes queued bytes, and delivery starts soon.
    void queued(spool::queued_message message, std::uint64_t reserved);

    // ---- lifetime
    void start(); // recovers the directory, then schedules
    void stop();  // no new deliveries; running ones are cut off (their messages stay queued)

    // ---- the administrator (any thread)
    std::vector<spool::queue_item> list() const;
    std::uint64_t used_bytes() const; // what smtp.spool_max_bytes limits: queued files and incoming messages
    enum class change { done, not_found, busy };
    change retry(const std::string& id);  // due now (a failed message is queued again)
    change remove(const std::string& id); // not while it is being delivered
    std::optional<std::string> headers(const std::string& id) const;
    std::string prometheus_metrics() const;

    // Runs `work` on the disk thread.
    boost::asio::awaitable<void> on_disk(std::function<void()> work);

private:
    struct item {
        spool::queued_message message;
        spool::delivery_state state;
        std::uint64_t file_size = 0;
        bool busy = false;
    };
    boost::asio::awaitable<void> schedule();
    void scan(); // disk thread
    void start_due();
    void poke();
    boost::asio::awaitable<void> deliver(std::string first);
    std::optional<std::string> claim_next(std::int64_t account_id);  // a due message of the account, now busy
    void finish(const std::string& id, spool::delivery_state state); // disk thread
    void make_report(const spool::queued_message& m, const spool::delivery_state& s,
                     const store::account& account); // disk thread
    void count(const std::string& result);

    boost::asio::any_io_executor executor_;
    const gateway_settings& settings_;
    spool::spool_directory directory_;
    spool_policy policy_;
    boost::asio::thread_pool disk_{1};
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    boost::asio::steady_timer timer_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> poked_{false};

    mutable std::mutex mutex_;
    std::map<std::string, item> items_;
    std::map<std::string, std::function<void()>> closers_; // running deliveries' connections
    std::uint64_t queued_bytes_ = 0, reserved_bytes_ = 0;
    std::map<std::string, std::uint64_t> attempts_; // by result
    std::chrono::steady_clock::time_point last_scan_{};
};

} // namespace mailgate::proxy
