// Taking and giving back per-account provider session slots.
#include "server/proxy/upstream_slots.hpp"

namespace mailgate::proxy {

boost::asio::awaitable<std::optional<std::shared_ptr<void>>>
upstream_slots::acquire(std::int64_t account_id) {
    if (limit_ == 0) co_return std::shared_ptr<void>();
    for (unsigned slot = 0; slot < limit_; ++slot) {
        {
            // Reserved here first: this instance's connection holds a lock it already has again (PostgreSQL
            // advisory locks stack), so two logins of this instance must not try the same slot.
            std::lock_guard lock(mutex_);
            if (!held_[account_id].insert(slot).second) continue;
        }
        bool taken = false;
        try {
            taken = co_await store_.run([account_id, slot](store::account_repository& repo) {
                return repo.try_take_session_slot(account_id, slot);
            });
        } catch (...) {
            forget(account_id, slot); // the store did not answer: nothing is held
            throw;
        }
        if (taken) {
            auto self = shared_from_this();
            co_return std::shared_ptr<void>(
                nullptr, [self, account_id, slot](void*) { self->release(account_id, slot); });
        }
        forget(account_id, slot); // another instance has it
    }
    co_return std::nullopt;
}

void upstream_slots::forget(std::int64_t account_id, unsigned slot) {
    std::lock_guard lock(mutex_);
    auto it = held_.find(account_id);
    if (it == held_.end()) return;
    it->second.erase(slot);
    if (it->second.empty()) held_.erase(it);
}

void upstream_slots::release(std::int64_t account_id, unsigned slot) {
    forget(account_id, slot);
    // Taken again before this runs? Then the lock is held twice and stays held once: still right.
    store_.record([account_id, slot](store::account_repository& repo) {
        repo.give_back_session_slot(account_id, slot);
    });
}

} // namespace mailgate::proxy
