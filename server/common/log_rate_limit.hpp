// Keeps a recurring condition (fd exhaustion, a scanner, a flood of refused connections) from filling the log: the
// first occurrence is reported at once, later ones at most once per interval, with the count since the last line.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace mailgate {

class log_rate_limit {
public:
    using clock = std::chrono::steady_clock;

    explicit log_rate_limit(std::chrono::seconds interval = std::chrono::seconds(10)) : interval_(interval) {}

    // Counts one occurrence. Returns how many occurrences the caller should report now (this one included), or 0
    // when this one is folded into a later line.
    std::uint64_t occurred() {
        std::lock_guard lock(mutex_);
        ++pending_;
        auto now = clock::now();
        if (reported_once_ && now - last_report_ < interval_) return 0;
        reported_once_ = true;
        last_report_ = now;
        auto n = pending_;
        pending_ = 0;
        return n;
    }

private:
    std::chrono::seconds interval_;
    std::mutex mutex_;
    bool reported_once_ = false;
    clock::time_point last_report_{};
    std::uint64_t pending_ = 0;
};

} // namespace mailgate
