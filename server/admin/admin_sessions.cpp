// Admin session tokens and login throttling.
#include "server/admin/admin_sessions.hpp"

#include "server/store/crypto.hpp"

#include <algorithm>

namespace mailgate::admin {
namespace {

std::string hex_token() {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : store::random_bytes(32)) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

constexpr std::size_t max_failures_per_minute = 5;

} // namespace

admin_sessions::issued admin_sessions::create() {
    issued out{hex_token(), hex_token()};
    std::lock_guard lock(mutex_);
    auto now = clock::now();
    std::erase_if(sessions_, [&](const auto& s) { return now - s.second.last_seen > idle_; });
    sessions_[out.token] = {out.csrf, now};
    return out;
}

std::optional<std::string> admin_sessions::touch(const std::string& token) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(token);
    if (it == sessions_.end()) return std::nullopt;
    auto now = clock::now();
    if (now - it->second.last_seen > idle_) {
        sessions_.erase(it);
        return std::nullopt;
    }
    it->second.last_seen = now;
    return it->second.csrf;
}

void admin_sessions::end(const std::string& token) {
    std::lock_guard lock(mutex_);
    sessions_.erase(token);
}

bool admin_sessions::login_allowed(const std::string& client) {
    std::lock_guard lock(mutex_);
    auto& times = failures_[client];
    auto now = clock::now();
    std::erase_if(times, [&](auto t) { return now - t > std::chrono::minutes(1); });
    return times.size() < max_failures_per_minute;
}

void admin_sessions::login_failed(const std::string& client) {
    std::lock_guard lock(mutex_);
    failures_[client].push_back(clock::now());
    if (failures_.size() > 10000) failures_.clear(); // bounded: a flood of addresses only resets the counts
}

} // namespace mailgate::admin
