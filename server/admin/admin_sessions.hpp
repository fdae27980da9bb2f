// Admin page logins: random session tokens (cookie) with a CSRF token each and idle expiry.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mailgate::admin {

class admin_sessions {
public:
    using clock = std::chrono::steady_clock;

    explicit admin_sessions(std::chrono::seconds idle = std::chrono::minutes(30)) : idle_(idle) {}

    struct issued {
        std::string token; // cookie value
        std::string csrf;
    };
    issued create();
    // The CSRF token of a live session (and refreshes its idle timer); nullopt when unknown or expired.
    std::optional<std::string> touch(const std::string& token);
    void end(const std::string& token);

private:
    struct entry {
        std::string csrf;
        clock::time_point last_seen;
    };
    std::chrono::seconds idle_;
    std::mutex mutex_;
    std::map<std::string, entry> sessions_;
};

} // namespace mailgate::admin
