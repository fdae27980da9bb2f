// limits.max_upstream_per_account: at most N provider sessions per account at once for clients (providers cap
// them: Gmail about 15 IMAP connections, Microsoft 20), counted across every instance on a shared store. On
// PostgreSQL a slot is an advisory lock (account, slot number) held by this instance's connection, so an instance
// that dies gives its slots back with its connection; on SQLite (one instance) slots are counted in memory.
#pragma once

#include "server/store/store_service.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

namespace mailgate::proxy {

class upstream_slots : public std::enable_shared_from_this<upstream_slots> {
public:
    // `limit` 0: no cap.
    upstream_slots(store::store_service& store, unsigned limit) : store_(store), limit_(limit) {}

    unsigned limit() const { return limit_; }
    // A slot for one provider session, given back when the last copy of the handle goes (null with no cap); nullopt
    // when the account has `limit` sessions open on all instances together. Throws store::store_error when the
    // store does not answer.
    boost::asio::awaitable<std::optional<std::shared_ptr<void>>> acquire(std::int64_t account_id);

private:
    void release(std::int64_t account_id, unsigned slot);
    void forget(std::int64_t account_id, unsigned slot); // no longer reserved here

    store::store_service& store_;
    unsigned limit_;
    std::mutex mutex_;
    std::map<std::int64_t, std::set<unsigned>> held_; // slots this instance holds or is taking
};

} // namespace mailgate::proxy
