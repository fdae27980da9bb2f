// Failed-login throttling, decided before any password is checked (the KDF is what a stranger can make us spend).
// Per client address: the first failures in the window cost nothing extra, then each attempt waits a growing delay,
// then attempts are refused unchecked until old failures leave the window; a right password from a refused
// address is answered like a wrong one, so guessing there gains nothing (Dovecot's auth penalty is the model).
// Per local user only a growing delay, and only for addresses that have failed before: a stranger elsewhere can
// slow guesses at a user but never lock the real user out. Attempts still being checked count as failures, so
// parallel guesses cannot overtake the count (from an address with failures, or always: see the policy).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mailgate::proxy {

struct throttle_policy {
    unsigned free_failures = 3; // per address (and user) in the window before delays begin
    unsigned max_failures = 10; // per address in the window: then refused unchecked
    std::chrono::seconds window{900};
    std::chrono::milliseconds first_delay{1000}; // doubles with each further failure
    std::chrono::milliseconds max_delay{15000};
    std::size_t max_tracked = 50000; // addresses and users remembered (memory bound under a flood)
    // Whether attempts still being checked count from an address with no failures in the window. Yes for the admin
    // login (one person; parallel attempts are a guesser's). No for mail logins: an office behind one NAT address
    // logs in dozens of clients at once after a restart, and counting those would delay and then refuse them as
    // guesses; there a clean address's parallel guesses are bounded by the KDF queue's per-address limit instead,
    // and from its first failure on, parallel attempts count.
    bool in_flight_counts_when_clean = true;
};

class login_throttle {
public:
    using clock = std::chrono::steady_clock;

    enum class result { success, failure, repeated_failure, not_checked };

    // One login attempt: holds its reservation until finish() (or destruction, which counts as not_checked).
    class attempt {
    public:
        attempt(attempt&& other) noexcept;
        attempt& operator=(attempt&&) = delete;
        ~attempt();

        bool refused() const { return refused_; }
        // True for the attempt that turned the address from throttled to refused (worth one log line).
        bool first_refusal() const { return first_refusal_; }
        std::chrono::milliseconds delay() const { return delay_; }
        unsigned failures() const { return failures_; }
        // repeated_failure: the same wrong credential as before (a misconfigured client, not a guess): not counted.
        void finish(result r);

    private:
        friend class login_throttle;
        attempt(login_throttle* owner, std::string address, std::string user)
            : owner_(owner), address_(std::move(address)), user_(std::move(user)) {}

        login_throttle* owner_;
        std::string address_, user_;
        bool refused_ = false, first_refusal_ = false;
        std::chrono::milliseconds delay_{0};
        unsigned failures_ = 0;
    };

    explicit login_throttle(throttle_policy policy = {}) : policy_(policy) {}

    attempt begin(std::string_view address, std::string_view user);
    const throttle_policy& policy() const { return policy_; }
    std::size_t tracked_addresses();

private:
    struct record {
        std::deque<clock::time_point> failures;
        unsigned in_flight = 0;
        bool refusing = false;
    };
    void prune(record& r, clock::time_point now) const;
    std::chrono::milliseconds delay_for(unsigned failures) const;
    record& slot(std::unordered_map<std::string, record>& table, const std::string& key,
                 clock::time_point now);
    void finish(const attempt& a, result r);

    throttle_policy policy_;
    std::mutex mutex_;
    std::unordered_map<std::string, record> addresses_;
    std::unordered_map<std::string, record> users_;
};

// The key an address is throttled under: IPv4 as it is, IPv6 by its /64 (one host can own all of a /64).
std::string throttle_key(std::string_view address);

} // namespace mailgate::proxy
