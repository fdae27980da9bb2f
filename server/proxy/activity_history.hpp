// The last hour of activity by minute, for the admin dashboard: live sessions per protocol (the peak in each minute),
// logins that passed and failed, messages relayed, and upstream errors per account. Fixed size (60 minutes).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mailgate::proxy {

class activity_history {
public:
    static constexpr std::size_t minutes = 60;

    struct minute {
        std::int64_t start = 0;                             // unix seconds, a multiple of 60
        std::map<std::string, std::uint32_t> peak_sessions; // per protocol
        std::map<std::string, std::uint32_t> last_sessions; // per protocol, at the minute's last change
        std::uint32_t logins_ok = 0, logins_failed = 0, messages = 0;
        std::map<std::string, std::uint32_t> upstream_errors; // per account
    };

    // Not thread-safe: the owner (activity) holds its lock around every call.
    void sessions_changed(std::int64_t now, const std::map<std::string, std::uint32_t>& live);
    void login(std::int64_t now, bool ok);
    void message(std::int64_t now);
    void upstream_error(std::int64_t now, const std::string& account);

    // The 60 minutes up to `now`, oldest first; a minute without changes shows the sessions the one before it ended
    // with.
    std::vector<minute> last_hour(std::int64_t now) const;

private:
    minute& at(std::int64_t now);
    std::array<minute, minutes> ring_{};
};

} // namespace mailgate::proxy
