// The shared spool's rows (rules in the header).
#include "server/store/spool_ledger.hpp"

#include "server/store/database.hpp"

namespace mailgate::store {

namespace {

constexpr std::string_view register_instance =
    "INSERT INTO spool_instances (instance, alive_until) VALUES (?1, {now} + ?2) "
    "ON CONFLICT (instance) DO UPDATE SET alive_until = excluded.alive_until";

} // namespace

std::string spool_ledger::with_clock(std::string_view sql) const {
    std::string out(sql);
    std::string_view now = db_.dialect() == sql_dialect::postgresql
                               ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)"
                               : "CAST(strftime('%s', 'now') AS INTEGER)";
    for (auto at = out.find("{now}"); at != std::string::npos; at = out.find("{now}", at + now.size()))
        out.replace(at, 5, now);
    return out;
}

std::string spool_ledger::renew(const std::string& me, std::int64_t lease, std::string_view process) {
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    std::string before;
    {
        auto q = db_.prepare(
            with_clock("SELECT process FROM spool_instances WHERE instance = ?1 AND alive_until >= {now}"));
        q.bind(1, me);
        if (q.step()) before = q.column_text(0);
    }
    db_.prepare(
           with_clock("INSERT INTO spool_instances (instance, alive_until, process) VALUES (?1, {now} + ?2, "
                      "?3) ON CONFLICT (instance) DO UPDATE SET alive_until = excluded.alive_until, "
                      "process = excluded.process"))
        .bind(1, me)
        .bind(2, lease)
        .bind(3, process)
        .run();
    tx.commit();
    return before;
}

void spool_ledger::add(const std::string& me, std::int64_t lease, std::string_view id,
                       std::string_view envelope, std::string_view data) {
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    db_.prepare(with_clock(register_instance)).bind(1, me).bind(2, lease).run();
    db_.prepare("INSERT INTO spool_messages (id, owner, envelope, data, state) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(1, id)
        .bind(2, me)
        .bind_blob(3, envelope)
        .bind_blob(4, data)
        .bind_blob(5, "")
        .run();
    tx.commit();
}

spool_ledger::claim_result spool_ledger::claim(const std::string& me, std::int64_t lease, std::string_view id,
                                               std::string_view state) {
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    // Row-locks our lease: a take-over that locked it first has moved our messages, one after us sees it alive.
    db_.prepare(with_clock("UPDATE spool_instances SET alive_until = {now} + ?2 WHERE instance = ?1 AND "
                           "alive_until >= {now}"))
        .bind(1, me)
        .bind(2, lease)
        .run();
    if (db_.changes() != 1) return claim_result::lapsed;
    bool mine = save_state_unlocked(me, id, state);
    tx.commit();
    return mine ? claim_result::mine : claim_result::lost;
}

bool spool_ledger::save_state(const std::string& me, std::string_view id, std::string_view state) {
    std::lock_guard lock(mutex_);
    return save_state_unlocked(me, id, state);
}

bool spool_ledger::save_state_unlocked(const std::string& me, std::string_view id, std::string_view state) {
    db_.prepare("UPDATE spool_messages SET state = ?3 WHERE id = ?1 AND owner = ?2")
        .bind(1, id)
        .bind(2, me)
        .bind_blob(3, state)
        .run();
    return db_.changes() == 1;
}

bool spool_ledger::remove(const std::string& me, std::string_view id) {
    std::lock_guard lock(mutex_);
    db_.prepare("DELETE FROM spool_messages WHERE id = ?1 AND owner = ?2").bind(1, id).bind(2, me).run();
    return db_.changes() == 1;
}

std::vector<spool_ledger::owned_message> spool_ledger::owned_by(const std::string& me) {
    std::lock_guard lock(mutex_);
    std::vector<owned_message> out;
    auto q = db_.prepare("SELECT id, request FROM spool_messages WHERE owner = ?1 ORDER BY id");
    q.bind(1, me);
    while (q.step()) out.push_back({q.column_text(0), q.column_text(1)});
    return out;
}

void spool_ledger::clear_request(const std::string& me, std::string_view id, std::string_view request) {
    std::lock_guard lock(mutex_);
    db_.prepare("UPDATE spool_messages SET request = '' WHERE id = ?1 AND owner = ?2 AND request = ?3")
        .bind(1, id)
        .bind(2, me)
        .bind(3, request)
        .run();
}

std::optional<spool_ledger::message_copy> spool_ledger::copy_of(const std::string& me, std::string_view id) {
    std::lock_guard lock(mutex_);
    auto q = db_.prepare("SELECT envelope, data, state FROM spool_messages WHERE id = ?1 AND owner = ?2");
    q.bind(1, id).bind(2, me);
    if (!q.step()) return std::nullopt;
    return message_copy{q.column_blob(0), q.column_blob(1), q.column_blob(2)};
}

std::vector<std::pair<std::string, std::string>> spool_ledger::take_over(const std::string& me,
                                                                         std::int64_t lease) {
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    std::vector<std::string> silent;
    {
        // FOR UPDATE re-checks each lease on its newest version: one renewed meanwhile is not taken.
        auto q = db_.prepare(with_clock(
            db_.dialect() == sql_dialect::postgresql
                ? "SELECT instance FROM spool_instances WHERE alive_until < {now} AND instance <> ?1 "
                  "FOR UPDATE SKIP LOCKED"
                : "SELECT instance FROM spool_instances WHERE alive_until < {now} AND instance <> ?1"));
        q.bind(1, me);
        while (q.step()) silent.push_back(q.column_text(0));
    }
    std::vector<std::pair<std::string, std::string>> taken;
    if (silent.empty()) return taken;
    db_.prepare(with_clock(register_instance)).bind(1, me).bind(2, lease).run();
    for (const auto& owner : silent) {
        auto q = db_.prepare("UPDATE spool_messages SET owner = ?1 WHERE owner = ?2 RETURNING id");
        q.bind(1, me).bind(2, owner);
        while (q.step()) taken.emplace_back(q.column_text(0), owner);
        db_.prepare("DELETE FROM spool_instances WHERE instance = ?1").bind(1, owner).run();
    }
    tx.commit();
    return taken;
}

std::vector<shared_message> spool_ledger::list() {
    std::lock_guard lock(mutex_);
    std::vector<shared_message> out;
    auto q = db_.prepare(
        "SELECT id, owner, envelope, state, request, length(data) FROM spool_messages ORDER BY id");
    while (q.step())
        out.push_back({q.column_text(0), q.column_text(1), q.column_blob(2), q.column_blob(3),
                       q.column_text(4), static_cast<std::uint64_t>(q.column_int64(5))});
    return out;
}

bool spool_ledger::request(std::string_view id, std::string_view what) {
    std::lock_guard lock(mutex_);
    // A delete asked stays asked: a later retry does not undo it.
    db_.prepare("UPDATE spool_messages SET request = CASE WHEN request = 'delete' THEN 'delete' ELSE ?2 END "
                "WHERE id = ?1")
        .bind(1, id)
        .bind(2, what)
        .run();
    return db_.changes() == 1;
}

std::optional<std::string> spool_ledger::data_prefix(std::string_view id, std::size_t limit) {
    std::lock_guard lock(mutex_);
    auto q = db_.prepare("SELECT substr(data, 1, CAST(?2 AS integer)) FROM spool_messages WHERE id = ?1");
    q.bind(1, id).bind(2, static_cast<std::int64_t>(limit));
    if (!q.step()) return std::nullopt;
    return q.column_blob(0);
}

} // namespace mailgate::store
