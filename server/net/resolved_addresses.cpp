// Short-lived cache of provider name lookups.
#include "server/net/resolved_addresses.hpp"

namespace mailgate::net {

std::optional<resolved_addresses::results> resolved_addresses::find(const std::string& host,
                                                                    std::uint16_t port) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find({host, port});
    if (it == entries_.end()) return std::nullopt;
    if (std::chrono::steady_clock::now() >= it->second.until) {
        entries_.erase(it);
        return std::nullopt;
    }
    return it->second.addresses;
}

void resolved_addresses::remember(const std::string& host, std::uint16_t port, const results& addresses) {
    if (addresses.empty()) return;
    std::lock_guard lock(mutex_);
    if (entries_.size() >= capacity_ && !entries_.count({host, port})) entries_.clear();
    entries_.insert_or_assign({host, port}, entry{addresses, std::chrono::steady_clock::now() + keep_});
}

void resolved_addresses::forget(const std::string& host, std::uint16_t port) {
    std::lock_guard lock(mutex_);
    entries_.erase({host, port});
}

resolved_addresses& provider_addresses() {
    static resolved_addresses cache;
    return cache;
}

} // namespace mailgate::net
