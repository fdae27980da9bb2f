// The spool the instances of a shared store hold together (store/spool_ledger.hpp): the copy of each queued
// message in the store, the ownership check before a delivery, and the rescan's look at the store (lease renewal,
// what the administrator asked, what is no longer ours, what a silent instance left).
#include "server/proxy/spool_service.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>

namespace mailgate::proxy {

namespace {

constexpr unsigned max_restores_per_look = 50; // a large take-over is copied over a few rescans

} // namespace

void spool_service::store_trouble(const std::exception& e) {
    if (auto n = store_log_.occurred())
        spdlog::warn("spool: the shared spool in the store does not answer{}: {}",
                     n > 1 ? " (" + std::to_string(n) + " times)" : std::string(), e.what());
}

bool spool_service::publish(const spool::queued_message& m) {
    if (!shared(m.head)) return true;
    const auto& id = m.head.id;
    auto file = directory_.contents(id);
    try {
        if (!file) throw std::runtime_error("the spool file cannot be read back");
        auto offset = static_cast<std::size_t>(m.data_offset);
        sharing_.ledger->add(sharing_.instance, sharing_.lease.count(), id,
                             std::string_view(*file).substr(0, offset),
                             std::string_view(*file).substr(offset));
        return true;
    } catch (const std::exception& e) {
        store_trouble(e);
        directory_.remove(id); // the client hears 451 and sends it again
        return false;
    }
}

spool_service::ownership spool_service::confirm_ownership(const std::string& id,
                                                          const spool::queued_message& m,
                                                          const spool::delivery_state& s) {
    if (!shared(m.head)) return ownership::mine;
    if (twin_) return ownership::wait;
    try {
        switch (sharing_.ledger->claim(sharing_.instance, sharing_.lease.count(), id,
                                       spool::serialize_state(s))) {
        case store::spool_ledger::claim_result::mine: return ownership::mine;
        case store::spool_ledger::claim_result::lost: return ownership::lost;
        case store::spool_ledger::claim_result::lapsed: {
            static log_rate_limit lapsed_log(std::chrono::seconds(60));
            if (lapsed_log.occurred())
                spdlog::warn(
                    "spool: this instance's lease in the shared spool ran out (it was cut off from the "
                    "store); no delivery until it is renewed, and other instances may take its messages");
            return ownership::wait;
        }
        }
    } catch (const std::exception& e) {
        store_trouble(e);
    }
    return ownership::wait;
}

void spool_service::drop_local(const std::string& id, std::string_view why) {
    directory_.remove(id);
    {
        std::lock_guard lock(mutex_);
        if (auto it = items_.find(id); it != items_.end()) {
            queued_bytes_ -= std::min(queued_bytes_, it->second.file_size);
            items_.erase(it);
        }
    }
    spdlog::info("spool: {}: not delivered by this instance ({}); its copy here is removed", id, why);
}

void spool_service::restore(const std::string& id) {
    {
        std::lock_guard lock(mutex_);
        if (auto it = items_.find(id); it != items_.end() && it->second.busy) return; // its delivery decides
    }
    auto copy = sharing_.ledger->copy_of(sharing_.instance, id);
    if (!copy) return;
    std::size_t head_size = 0;
    auto head = spool::parse_envelope(copy->envelope, head_size);
    if (!head || head->id != id || head_size != copy->envelope.size()) {
        spdlog::error("spool: {} in the shared spool is not a valid message; left there", id);
        return;
    }
    // The store's state is the newest any owner made known: it is what the local one becomes.
    auto state = spool::parse_state(copy->state);
    bool ok = std::filesystem::exists(directory_.message_path(id))
                  ? directory_.write_state(id, state)
                  : directory_.restore(id, copy->envelope + copy->data, state);
    if (!ok) {
        spdlog::error("spool: {} cannot be written into {}; it stays in the shared spool", id,
                      directory_.root().string());
        return;
    }
    spool::queued_message message{std::move(*head), head_size, copy->data.size()};
    auto file_size = copy->envelope.size() + copy->data.size();
    {
        std::lock_guard lock(mutex_);
        auto it = items_.find(id);
        if (it == items_.end()) {
            queued_bytes_ += file_size;
            items_.emplace(id, item{std::move(message), std::move(state), file_size, false});
        } else if (!it->second.busy)
            it->second.state = std::move(state);
    }
    poke();
}

void spool_service::apply_request(const std::string& id, const std::string& what) {
    spool::queued_message message;
    spool::delivery_state state;
    {
        std::lock_guard lock(mutex_);
        auto it = items_.find(id);
        if (it == items_.end() || it->second.busy) return; // at a later look
        message = it->second.message;
        state = it->second.state;
        if (what == "delete") it->second.busy = true;
    }
    if (what == "delete") {
        bool removed = discard(id, message);
        std::lock_guard lock(mutex_);
        auto it = items_.find(id);
        if (it == items_.end()) return;
        if (!removed) {
            it->second.busy = false;
            return;
        }
        queued_bytes_ -= std::min(queued_bytes_, it->second.file_size);
        items_.erase(it);
        spdlog::info("spool: {} deleted by the administrator (asked through the shared spool)", id);
        return;
    }
    state.retry_now();
    save_state(id, message, state);
    sharing_.ledger->clear_request(sharing_.instance, id, what);
    {
        std::lock_guard lock(mutex_);
        if (auto it = items_.find(id); it != items_.end() && !it->second.busy) it->second.state = state;
    }
    spdlog::info("spool: {}: retry asked by the administrator through the shared spool", id);
    poke();
}

void spool_service::reconcile() {
    auto& ledger = *sharing_.ledger;
    const auto& me = sharing_.instance;
    try {
        auto holder = ledger.renew(me, sharing_.lease.count(), process_);
        auto now = std::chrono::steady_clock::now();
        if (renewed_ && !holder.empty() && holder != process_) twin_seen_ = now;
        renewed_ = true;
        // The other run renews as often as we do, but not always between two of our looks: it counts as gone
        // only once not seen for two leases.
        bool twin = twin_seen_ && now - *twin_seen_ < 2 * sharing_.lease;
        if (twin != twin_.exchange(twin)) {
            if (twin)
                spdlog::error(
                    "spool: another running gateway uses this instance id ({}; a copied {}/instance-id?): "
                    "no delivery from the shared spool until it is alone",
                    me, directory_.root().parent_path().string());
            else
                spdlog::info("spool: instance id {} is this gateway's alone again; deliveries go on", me);
        }
        std::set<std::string> ours;
        std::vector<std::pair<std::string, std::string>> requests;
        for (auto& owned : ledger.owned_by(me)) {
            if (!owned.request.empty()) requests.emplace_back(owned.id, owned.request);
            ours.insert(std::move(owned.id));
        }
        // Ours here, but not in the store: taken over while this instance was silent, or deleted elsewhere.
        // Settled ones whose copy in the store could not be removed yet.
        std::vector<std::string> gone;
        std::vector<std::pair<std::string, spool::delivery_state>> settled;
        {
            std::lock_guard lock(mutex_);
            for (const auto& [id, it] : items_) {
                if (it.busy || !shared(it.message.head)) continue;
                if (!ours.contains(id))
                    gone.push_back(id);
                else if (!it.state.failed && !it.state.any_pending(it.message.head.rcpt.size()))
                    settled.emplace_back(id, it.state);
            }
        }
        for (const auto& id : gone) drop_local(id, "another instance owns it now, or it was deleted there");
        for (auto& [id, state] : settled) finish(id, std::move(state));
        // In the store as ours, but not here: a take-over cut short by a crash, or a file removed by hand.
        unsigned restored = 0;
        for (const auto& id : ours)
            if (restored < max_restores_per_look && !std::filesystem::exists(directory_.message_path(id))) {
                restore(id);
                ++restored;
            }
        for (const auto& [id, what] : requests) apply_request(id, what);
        // What instances that went silent left behind.
        auto taken = ledger.take_over(me, sharing_.lease.count());
        std::map<std::string, unsigned> by_owner;
        for (const auto& [id, former] : taken) {
            ++by_owner[former];
            if (restored < max_restores_per_look) {
                restore(id);
                ++restored;
            }
        }
        {
            std::lock_guard lock(mutex_);
            taken_over_ += taken.size();
        }
        for (const auto& [former, n] : by_owner)
            spdlog::warn(
                "spool: instance {} was silent for {} s; its {} queued message(s) are delivered here now",
                former, sharing_.lease.count(), n);
    } catch (const std::exception& e) {
        store_trouble(e);
    }
}

std::vector<spool::queue_item> spool_service::list_shared() const {
    std::vector<spool::queue_item> out;
    try {
        out = spool::list_shared_queue(*sharing_.ledger);
    } catch (const std::exception& e) {
        spdlog::warn("spool: the shared spool cannot be listed: {}", e.what());
        return out;
    }
    std::lock_guard lock(mutex_);
    for (auto& q : out)
        if (auto it = items_.find(q.id);
            it != items_.end() && q.instance == sharing_.instance && it->second.busy)
            q.state = "delivering";
    for (const auto& [id, it] : items_) // queued here before the store was shared: this instance's alone
        if (!shared(it.message.head)) out.push_back(spool::describe(it.message, it.state, it.busy));
    return out;
}

std::optional<spool_service::change> spool_service::ask_owner(const std::string& id, std::string_view what) {
    if (!sharing_.ledger) return std::nullopt;
    try {
        if (!sharing_.ledger->request(id, what)) return change::not_found;
    } catch (const std::exception& e) {
        store_trouble(e);
        return change::unavailable;
    }
    spdlog::info("spool: {}: {} asked of the instance that owns it", id, what);
    return change::requested;
}

} // namespace mailgate::proxy
