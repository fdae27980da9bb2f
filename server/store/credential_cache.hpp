// Remembers recent successful local logins for a few minutes, so clients polling every minute skip the KDF.
// Entries are keyed by an HMAC under a per-process random key over (user, password, stored hash): the cache never
// holds a password, and a password change (new stored hash) invalidates the entry.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mailgate::store {

class credential_cache {
public:
    using clock = std::chrono::steady_clock;
    // Where the time comes from: tests pass a clock they advance instead of sleeping.
    using now_function = std::function<clock::time_point()>;

    explicit credential_cache(std::chrono::seconds ttl = std::chrono::minutes(5),
                              std::size_t max_entries = 10000, now_function now = clock::now);

    bool contains(std::string_view user, std::string_view password, std::string_view stored_hash);
    void remember(std::string_view user, std::string_view password, std::string_view stored_hash);
    void clear();
    // A keyed hash of the three that identifies them without revealing the password (for sharing a KDF run).
    std::string key_for(std::string_view user, std::string_view password,
                        std::string_view stored_hash) const {
        return entry_key(user, password, stored_hash);
    }

private:
    std::string entry_key(std::string_view user, std::string_view password,
                          std::string_view stored_hash) const;

    std::string key_;
    std::chrono::seconds ttl_;
    std::size_t max_entries_;
    now_function now_;
    std::mutex mutex_;
    std::unordered_map<std::string, clock::time_point> expiry_;
};

} // namespace mailgate::store
