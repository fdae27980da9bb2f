// Connection accounting for the caps and the pre-login deadline.
#include "server/net/connection_limits.hpp"

#include <utility>

namespace mailgate::net {

std::string_view to_string(cap_reached c) {
    switch (c) {
    case cap_reached::none: return "none";
    case cap_reached::sessions: return "limits.max_sessions";
    case cap_reached::per_address: return "limits.max_sessions_per_address";
    case cap_reached::prelogin: return "limits.max_prelogin_sessions";
    }
    return "?";
}

connection_slot::connection_slot(connection_slot&& other) noexcept
    : owner_(other.owner_), id_(other.id_), address_(std::move(other.address_)), deadline_(other.deadline_),
      prelogin_(other.prelogin_) {
    other.owner_ = nullptr;
}

connection_slot::~connection_slot() {
    if (owner_) owner_->release(address_, prelogin_);
}

void connection_slot::logged_in() {
    if (!prelogin_ || !owner_) return;
    prelogin_ = false;
    owner_->left_prelogin();
}

std::optional<connection_slot> connection_limits::admit(const std::string& address, cap_reached& why) {
    std::lock_guard lock(mutex_);
    why = cap_reached::none;
    auto it = per_address_.find(address);
    std::size_t from_address = it == per_address_.end() ? 0 : it->second;
    if (total_ >= caps_.sessions)
        why = cap_reached::sessions;
    else if (prelogin_ >= caps_.prelogin_sessions)
        why = cap_reached::prelogin;
    else if (from_address >= caps_.sessions_per_address)
        why = cap_reached::per_address;
    if (why != cap_reached::none) return std::nullopt;
    ++total_;
    ++prelogin_;
    ++per_address_[address];
    return connection_slot(this, ++admitted_, address, connection_slot::clock::now() + caps_.login_deadline);
}

void connection_limits::release(const std::string& address, bool prelogin) {
    std::function<void()> drained;
    {
        std::lock_guard lock(mutex_);
        --total_;
        if (prelogin) --prelogin_;
        if (auto it = per_address_.find(address); it != per_address_.end() && --it->second == 0)
            per_address_.erase(it);
        if (total_ == 0) drained = std::exchange(drained_, nullptr);
    }
    if (drained) drained();
}

void connection_limits::when_drained(std::function<void()> drained) {
    {
        std::lock_guard lock(mutex_);
        if (total_ > 0) {
            drained_ = std::move(drained);
            return;
        }
    }
    drained();
}

void connection_limits::left_prelogin() {
    std::lock_guard lock(mutex_);
    --prelogin_;
}

std::size_t connection_limits::active() const {
    std::lock_guard lock(mutex_);
    return total_;
}

std::size_t connection_limits::prelogin() const {
    std::lock_guard lock(mutex_);
    return prelogin_;
}

} // namespace mailgate::net
