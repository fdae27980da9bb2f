// What the gateway is doing right now and did recently: live sessions (with a way to close them), a ring of
// recent events, and counters for /metrics. Shared by all protocol sessions and read by the admin page.
#pragma once

#include "server/net/relay.hpp"
#include "server/proxy/activity_history.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace mailgate::proxy {

using net::relay_counters;

// Why a session is asked to close: the admin disabled/deleted its account, or the gateway is shutting down —
// first only sessions that are idle in the pre-login dialogue or between transactions, after the grace all.
enum class close_reason { account_removed, shutdown_idle, shutdown_all };

class activity;

// One live session; unregisters itself when destroyed.
class session_entry {
public:
    session_entry(activity& owner, std::uint64_t id, std::string protocol, std::string peer,
                  boost::asio::any_io_executor executor, std::function<void(close_reason)> closer);
    ~session_entry();
    session_entry(const session_entry&) = delete;

    void set_account(const std::string& name);
    relay_counters& counters() { return counters_; }

private:
    friend class activity;
    activity& owner_;
    std::uint64_t id_;
    std::string protocol_;
    std::string peer_;
    std::string account_; // guarded by owner's mutex
    std::chrono::system_clock::time_point since_;
    boost::asio::any_io_executor executor_;
    std::function<void(close_reason)> closer_;
    relay_counters counters_;
};

// A session's registration for its lifetime: the closer runs on the session's executor and only while the session
// is still alive (a close requested just as the session ends is ignored).
class live_session {
public:
    live_session(activity& owner, std::uint64_t id, std::string protocol, std::string peer,
                 boost::asio::any_io_executor executor, std::function<void(close_reason)> closer);
    ~live_session() { *alive_ = false; }
    live_session(const live_session&) = delete;

    session_entry* operator->() { return entry_.get(); }

private:
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::unique_ptr<session_entry> entry_;
};

struct session_view {
    std::uint64_t id;
    std::string protocol, peer, account;
    std::chrono::system_clock::time_point since;
    std::uint64_t bytes_up, bytes_down;
};

enum class event_kind { login_ok, login_failed, upstream_error, session_closed_by_admin, sent_copy_failed };
std::string_view to_string(event_kind k);

struct event {
    std::chrono::system_clock::time_point at;
    event_kind kind;
    std::string protocol, peer, account, detail; // never a password
};

class activity {
public:
    std::unique_ptr<session_entry> open(std::uint64_t id, std::string protocol, std::string peer,
                                        boost::asio::any_io_executor executor,
                                        std::function<void(close_reason)> closer);
    std::vector<session_view> sessions() const;
    // The accounts that have live sessions (cheaper than sessions() for thousands of them).
    std::set<std::string> accounts_with_sessions() const;
    // Closes every live session of `account` (disabled or deleted); returns how many.
    std::size_t close_account_sessions(const std::string& account);
    // Shutdown: asks every live session to close (each decides by `reason`), with the protocol's goodbye where one
    // can be said; returns how many were asked.
    std::size_t close_all_sessions(close_reason reason);

    void record(event e);
    std::vector<event> recent_events(std::size_t limit = 200) const;
    void count_upstream_error(const std::string& protocol, std::string_view kind);
    void count_bytes(std::uint64_t up, std::uint64_t down);

    std::string prometheus_metrics() const;
    // A message the provider (or the spool) accepted, for the dashboard.
    void count_message();
    std::vector<activity_history::minute> last_hour() const;
    std::map<std::string, std::uint32_t> live_by_protocol() const;

private:
    friend class session_entry;
    void remove(std::uint64_t id);

    mutable std::mutex mutex_;
    std::map<std::uint64_t, session_entry*> live_;
    std::deque<event> events_;
    std::map<std::string, std::uint64_t> sessions_total_;  // per protocol
    std::map<std::string, std::uint64_t> login_failures_;  // per protocol
    std::map<std::string, std::uint64_t> upstream_errors_; // "protocol/kind"
    std::uint64_t bytes_up_ = 0, bytes_down_ = 0;
    std::map<std::string, std::uint32_t> live_by_protocol_;
    activity_history history_;
};

} // namespace mailgate::proxy
