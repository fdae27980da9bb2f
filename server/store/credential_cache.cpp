// Keyed-hash credential cache.
#include "server/store/credential_cache.hpp"

#include "server/store/crypto.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace mailgate::store {

credential_cache::credential_cache(std::chrono::seconds ttl, std::size_t max_entries, now_function now)
    : key_(random_bytes(32)), ttl_(ttl), max_entries_(max_entries), now_(std::move(now)) {}

std::string credential_cache::entry_key(std::string_view user, std::string_view password,
                                        std::string_view stored_hash) const {
    std::string message(user);
    std::transform(message.begin(), message.end(), message.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    // Length prefixes keep ("ab","c") and ("a","bc") apart.
    message = std::to_string(message.size()) + ":" + message + std::to_string(password.size()) + ":" +
              std::string(password) + std::string(stored_hash);
    auto out = hmac_sha256(key_, message);
    wipe(message);
    return out;
}

bool credential_cache::contains(std::string_view user, std::string_view password,
                                std::string_view stored_hash) {
    auto k = entry_key(user, password, stored_hash);
    auto now = now_();
    std::lock_guard lock(mutex_);
    auto it = expiry_.find(k);
    if (it == expiry_.end()) return false;
    if (it->second <= now) {
        expiry_.erase(it);
        return false;
    }
    return true;
}

void credential_cache::remember(std::string_view user, std::string_view password,
                                std::string_view stored_hash) {
    auto k = entry_key(user, password, stored_hash);
    auto now = now_();
    std::lock_guard lock(mutex_);
    if (expiry_.size() >= max_entries_) {
        std::erase_if(expiry_, [&](const auto& e) { return e.second <= now; });
        if (expiry_.size() >= max_entries_) expiry_.clear(); // only costs a KDF run per user
    }
    expiry_[k] = now + ttl_;
}

void credential_cache::clear() {
    std::lock_guard lock(mutex_);
    expiry_.clear();
}

} // namespace mailgate::store
