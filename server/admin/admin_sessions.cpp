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

} // namespace mailgate::admin
