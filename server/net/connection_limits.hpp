// Caps on concurrent client connections (in total, per client address, and before login) and the overall pre-login
// deadline. One instance per process, shared by every listener, so that no address or port can take the whole box.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mailgate::net {

struct connection_caps {
    std::size_t sessions = 10000;            // all client connections
    std::size_t sessions_per_address = 100;  // from one client address
    std::size_t prelogin_sessions = 1000;    // not yet logged in (where strangers sit)
    std::chrono::seconds login_deadline{60}; // accept to successful login
};

enum class cap_reached { none, sessions, per_address, prelogin };
std::string_view to_string(cap_reached c);

class connection_limits;

// One admitted connection: counted until destroyed, and as pre-login until logged_in().
class connection_slot {
public:
    using clock = std::chrono::steady_clock;

    connection_slot(connection_slot&& other) noexcept;
    connection_slot& operator=(connection_slot&&) = delete;
    ~connection_slot();

    // The session's number, unique in this process (the "#7" of every log line about it).
    std::uint64_t id() const { return id_; }
    void logged_in();
    bool is_logged_in() const { return !prelogin_; }
    // Time left of the pre-login deadline (zero or less: expired).
    clock::duration login_time_left() const { return deadline_ - clock::now(); }
    // How long one I/O step may wait: `step_timeout`, and before login no longer than the deadline allows, so a
    // client trickling a byte now and then cannot hold its connection forever.
    clock::duration step_limit(std::chrono::seconds step_timeout) const {
        if (!prelogin_) return step_timeout;
        return std::min<clock::duration>(step_timeout, login_time_left());
    }

private:
    friend class connection_limits;
    connection_slot(connection_limits* owner, std::uint64_t id, std::string address,
                    clock::time_point deadline)
        : owner_(owner), id_(id), address_(std::move(address)), deadline_(deadline) {}

    connection_limits* owner_;
    std::uint64_t id_;
    std::string address_;
    clock::time_point deadline_;
    bool prelogin_ = true;
};

class connection_limits {
public:
    explicit connection_limits(connection_caps caps) : caps_(caps) {}
    connection_limits(const connection_limits&) = delete;

    // A slot, or nullopt with `why` set when a cap is reached.
    std::optional<connection_slot> admit(const std::string& address, cap_reached& why);

    std::size_t active() const;
    std::size_t prelogin() const;
    // Calls `drained` once no slot is left: at once if none is, else when the last one is released (on that
    // session's thread). Shutdown waits on it instead of polling.
    void when_drained(std::function<void()> drained);
    const connection_caps& caps() const { return caps_; }

private:
    friend class connection_slot;
    void release(const std::string& address, bool prelogin);
    void left_prelogin();

    connection_caps caps_;
    mutable std::mutex mutex_;
    std::size_t total_ = 0;
    std::uint64_t admitted_ = 0;
    std::function<void()> drained_;
    std::size_t prelogin_ = 0;
    std::unordered_map<std::string, std::size_t> per_address_;
};

} // namespace mailgate::net
