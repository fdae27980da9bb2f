// The SMTP spool shared by the instances of one PostgreSQL store (proxy/spool_service): every queued message
// (its envelope, its bytes and its delivery state, as in the spool files) with the instance that owns it, and
// each instance's lease. The owner keeps its lease alive; once a lease has run out, another instance takes
// the owner's messages over in one transaction. A delivery starts, and its end of data goes out, only after a
// claim: the message is still ours and our lease had not run out, and the lease is renewed with it, so no other
// instance can take the message while the provider's reply is awaited. Leases are timed by the database's
// clock, so the instances need not agree on the time. The instance id is data_dir/instance-id.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailgate::store {

class database;

struct shared_message {
    std::string id, owner, envelope, state, request;
    std::uint64_t size = 0; // octets of the message data
};

class spool_ledger {
public:
    spool_ledger(database& db, std::mutex& mutex) : db_(db), mutex_(mutex) {}

    // ---- an instance's own: `me` is its id, `lease` how many seconds the others wait after its last renewal
    // Registers the instance, or renews its lease; `process` names this run of it. Returns the process that held
    // the lease while it was still alive ("" when none): another run than ours, after ours had renewed, means a
    // second gateway uses the same instance id (a copied data dir).
    std::string renew(const std::string& me, std::int64_t lease, std::string_view process);
    // A message just queued here, owned by `me`; the lease is renewed in the same transaction.
    void add(const std::string& me, std::int64_t lease, std::string_view id, std::string_view envelope,
             std::string_view data);
    enum class claim_result {
        mine,   // deliver it; the lease is renewed
        lost,   // another instance owns it now, or it was deleted
        lapsed, // our lease ran out: others may be taking our messages; deliver nothing until renewed
    };
    claim_result claim(const std::string& me, std::int64_t lease, std::string_view id,
                       std::string_view state);
    bool save_state(const std::string& me, std::string_view id, std::string_view state); // false: not ours
    bool remove(const std::string& me, std::string_view id); // true: it was ours and is gone
    struct owned_message {
        std::string id, request;
    };
    std::vector<owned_message> owned_by(const std::string& me);
    void clear_request(const std::string& me, std::string_view id, std::string_view request);
    struct message_copy {
        std::string envelope, data, state;
    };
    std::optional<message_copy> copy_of(const std::string& me, std::string_view id);
    // Takes over the messages of every instance whose lease ran out, and forgets those instances. Returns the
    // ids taken, each with its former owner.
    std::vector<std::pair<std::string, std::string>> take_over(const std::string& me, std::int64_t lease);

    // ---- any process (the admin page of any instance, `mailgate queue`)
    std::vector<shared_message> list();
    // Asks the owner to retry or delete the message at its next look (within seconds); false: no such message.
    bool request(std::string_view id, std::string_view what);
    std::optional<std::string> data_prefix(std::string_view id, std::size_t limit);

private:
    std::string with_clock(std::string_view sql) const; // {now}: the database's unix time
    bool save_state_unlocked(const std::string& me, std::string_view id, std::string_view state);

    database& db_;
    std::mutex& mutex_; // the repository's: one connection, one lock
};

} // namespace mailgate::store
