// Failure windows per address and per user, and the delays and refusals they lead to.
#include "server/proxy/login_throttle.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>

namespace mailgate::proxy {

std::string throttle_key(std::string_view address) {
    boost::system::error_code ec;
    auto parsed = boost::asio::ip::make_address(address, ec);
    if (ec || !parsed.is_v6()) return std::string(address);
    auto bytes = parsed.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

login_throttle::attempt::attempt(attempt&& other) noexcept
    : owner_(other.owner_), address_(std::move(other.address_)), user_(std::move(other.user_)),
      refused_(other.refused_), first_refusal_(other.first_refusal_), delay_(other.delay_),
      failures_(other.failures_) {
    other.owner_ = nullptr;
}

login_throttle::attempt::~attempt() { finish(result::not_checked); }

void login_throttle::attempt::finish(result r) {
    if (!owner_) return;
    if (!refused_) owner_->finish(*this, r);
    owner_ = nullptr;
}

void login_throttle::prune(record& r, clock::time_point now) const {
    while (!r.failures.empty() && now - r.failures.front() > policy_.window) r.failures.pop_front();
}

std::chrono::milliseconds login_throttle::delay_for(unsigned failures) const {
    if (failures < policy_.free_failures) return std::chrono::milliseconds(0);
    auto steps = std::min(failures - policy_.free_failures, 20u);
    return std::min<std::chrono::milliseconds>(policy_.first_delay * (1ll << steps), policy_.max_delay);
}

login_throttle::record& login_throttle::slot(std::unordered_map<std::string, record>& table,
                                             const std::string& key, clock::time_point now) {
    if (table.size() >= policy_.max_tracked && !table.contains(key)) {
        for (auto it = table.begin(); it != table.end();) {
            prune(it->second, now);
            it = it->second.failures.empty() && it->second.in_flight == 0 ? table.erase(it) : std::next(it);
        }
        // Still full: forget the oldest idle ones rather than grow without bound.
        for (auto it = table.begin(); table.size() >= policy_.max_tracked && it != table.end();)
            it = it->second.in_flight == 0 ? table.erase(it) : std::next(it);
    }
    return table[key];
}

login_throttle::attempt login_throttle::begin(std::string_view address, std::string_view user) {
    std::string user_key(user.substr(0, 256));
    std::transform(user_key.begin(), user_key.end(), user_key.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    attempt a(this, throttle_key(address), std::move(user_key));
    auto now = clock::now();
    std::lock_guard lock(mutex_);
    auto& from = slot(addresses_, a.address_, now);
    prune(from, now);
    bool count_in_flight = policy_.in_flight_counts_when_clean || !from.failures.empty();
    auto counted = static_cast<unsigned>(from.failures.size()) + (count_in_flight ? from.in_flight : 0);
    a.failures_ = counted;
    if (counted >= policy_.max_failures) {
        a.refused_ = true;
        a.first_refusal_ = !from.refusing;
        from.refusing = true;
        return a;
    }
    // Admitted again because parallel attempts ended unchecked is not "recovered": the refusal was logged already.
    if (from.failures.size() < policy_.free_failures) from.refusing = false;
    a.delay_ = delay_for(counted);
    if (!from.failures.empty()) {
        auto& of = slot(users_, a.user_, now);
        prune(of, now);
        a.delay_ = std::max(a.delay_, delay_for(static_cast<unsigned>(of.failures.size()) + of.in_flight));
        ++of.in_flight;
    } else {
        ++slot(users_, a.user_, now).in_flight;
    }
    ++from.in_flight;
    return a;
}

std::size_t login_throttle::tracked_addresses() {
    std::lock_guard lock(mutex_);
    return addresses_.size();
}

void login_throttle::finish(const attempt& a, result r) {
    auto now = clock::now();
    std::lock_guard lock(mutex_);
    for (auto* entry : {&addresses_, &users_}) {
        auto it = entry->find(entry == &addresses_ ? a.address_ : a.user_);
        if (it == entry->end()) continue; // forgotten under a flood
        auto& rec = it->second;
        if (rec.in_flight > 0) --rec.in_flight;
        if (r == result::failure) rec.failures.push_back(now);
        if (rec.failures.empty() && rec.in_flight == 0 && !rec.refusing) entry->erase(it);
    }
}

} // namespace mailgate::proxy
