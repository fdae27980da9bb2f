// The SMTP spool's running half: room accounting for sessions that queue (proxy/spool_submission.hpp), and the
// delivery scheduler. It keeps an index of spool::spool_directory's queue (rescanned every few seconds, so that
// `mailgate queue` changes made beside the running gateway are seen), re-originates each due message through
// its account exactly like a live session (proxy/spool_delivery.hpp) with bounded concurrency in total and per
// account, retries 4xx and connection failures on a backoff schedule, treats 5xx as permanent, and after the
// lifetime or a permanent failure queues an RFC 3464 report to the sender when the sender belongs to the account,
// or keeps the message as `failed` for the administrator. On a shared store the instances hold one spool
// together (store/spool_ledger.hpp, proxy/spool_sharing.cpp): each keeps its messages in its own directory and
// their copies in the store, delivers only what it owns there, and takes over what a silent instance owned.
#pragma once

#include "server/common/log_rate_limit.hpp"
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

// The spool the instances of a shared store hold together.
struct spool_sharing {
    store::spool_ledger* ledger = nullptr; // none: this instance's queue is its own (SQLite)
    std::string instance;                  // data_dir/instance-id
    std::chrono::seconds lease{60};        // smtp.spool_lease: how long the others wait for a silent instance
};

class spool_service {
public:
    spool_service(boost::asio::any_io_executor executor, const gateway_settings& settings,
                  std::filesystem::path root, spool_policy policy, spool_sharing sharing = {});
    ~spool_service();
    spool_service(const spool_service&) = delete;

    const spool_policy& policy() const { return policy_; }
    const spool_sharing& sharing() const { return sharing_; }
    spool::spool_directory& directory() { return directory_; }
    // Whether a session's transactions queue: relay sessions unless off, authenticated ones only with `all`.
    bool spools(bool authenticated) const {
        return policy_.mode == spool_mode::all || (policy_.mode == spool_mode::devices && !authenticated);
    }

    // ---- sessions (any thread)
    bool has_room(std::uint64_t more) const;
    bool reserve(std::uint64_t bytes); // false when the spool would exceed max_bytes
    void release(std::uint64_t bytes);
    // A new message for `head` (nullptr when the file cannot be made).
    std::unique_ptr<spool::incoming_message> begin(spool::envelope head);
    // Makes the message durable on the disk thread (fsyncs never block an I/O thread), and on a shared store
    // its copy committed there too: the client may hear 250 only then.
    boost::asio::awaitable<bool> commit(spool::incoming_message& message);
    // A committed message: its reservation becomes queued bytes, and delivery starts soon.
    void queued(spool::queued_message message, std::uint64_t reserved);

    // ---- lifetime
    void start(); // recovers the directory, then schedules
    void stop();  // no new deliveries; running ones are cut off (their messages stay queued)

    // ---- the administrator (any thread); on a shared store, the whole shared queue
    std::vector<spool::queue_item> list() const;
    std::uint64_t used_bytes() const; // what smtp.spool_max_bytes limits: queued files and incoming messages
    enum class change {
        done,
        not_found,
        busy,
        requested,   // from the instance that owns it, which does it within seconds
        unavailable, // the shared store does not answer
    };
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
    bool discard(const std::string& id, const spool::queued_message& m); // disk thread; false: kept
    bool save_state(const std::string& id, const spool::queued_message& m, const spool::delivery_state& s);

    // ---- the shared spool (spool_sharing.cpp), all on the disk thread
    bool shared(const spool::envelope& head) const { return sharing_.ledger && head.shared; }
    bool publish(const spool::queued_message& m);
    enum class ownership { mine, lost, wait };
    ownership confirm_ownership(const std::string& id, const spool::queued_message& m,
                                const spool::delivery_state& s);
    void reconcile();
    void restore(const std::string& id);
    void apply_request(const std::string& id, const std::string& what);
    void drop_local(const std::string& id, std::string_view why);
    void store_trouble(const std::exception& e);
    std::vector<spool::queue_item> list_shared() const;
    std::optional<change> ask_owner(const std::string& id, std::string_view what); // nullopt: not shared
    bool local_only(const std::string& id) const; // queued here before the store was shared

    boost::asio::any_io_executor executor_;
    const gateway_settings& settings_;
    spool::spool_directory directory_;
    spool_policy policy_;
    spool_sharing sharing_;
    mutable log_rate_limit store_log_{std::chrono::seconds(60)};
    std::string process_;  // this run's name in the lease row (spool_ledger::renew)
    bool renewed_ = false; // disk thread
    std::optional<std::chrono::steady_clock::time_point> twin_seen_; // disk thread
    std::atomic<bool> twin_{false}; // another running gateway renews our lease: deliver nothing
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
    std::uint64_t taken_over_ = 0;                  // messages of silent instances taken over (shared spool)
    std::chrono::steady_clock::time_point last_scan_{};
};

} // namespace mailgate::proxy
