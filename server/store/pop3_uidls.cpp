// The POP3 UIDL table: first assignment, carrying UIDLs over a UIDVALIDITY change, forgetting gone messages.
#include "server/store/pop3_uidls.hpp"

#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace mailgate::store {
namespace {

struct stored_row {
    std::uint32_t uid = 0;
    std::string uidl;
    std::string message_id;
    std::uint64_t size = 0;
};

using identity = std::pair<std::string, std::uint64_t>; // Message-ID, size

struct folder_rows {
    std::unordered_map<std::uint32_t, stored_row> current; // under the snapshot's UIDVALIDITY, by UID
    std::map<identity, std::vector<stored_row>> earlier;   // under any other, with a Message-ID
};

folder_rows read_rows(database& db, std::int64_t account_id, const std::string& folder,
                      std::uint32_t uidvalidity) {
    folder_rows rows;
    auto q = db.prepare("SELECT uidvalidity, uid, uidl, message_id, size FROM pop3_uidls "
                        "WHERE account_id = ?1 AND folder = ?2");
    q.bind(1, account_id).bind(2, folder);
    while (q.step()) {
        stored_row r{static_cast<std::uint32_t>(q.column_int64(1)), q.column_text(2), q.column_text(3),
                     static_cast<std::uint64_t>(q.column_int64(4))};
        if (q.column_int64(0) == std::int64_t{uidvalidity})
            rows.current.emplace(r.uid, std::move(r));
        else if (!r.message_id.empty())
            rows.earlier[{r.message_id, r.size}].push_back(std::move(r));
    }
    return rows;
}

// Mapped messages keep their UIDLs, unambiguous matches then inherit theirs, and only then do the rest get new
// ones (with a suffix where an earlier choice spells it already), so that no UIDL moves off the message it names.
std::vector<std::string> choose_uidls(const folder_rows& rows, std::uint32_t uidvalidity,
                                      const std::vector<folder_message>& messages) {
    std::vector<std::string> out(messages.size());
    std::unordered_set<std::string> taken;
    std::vector<bool> fresh(messages.size(), true);
    for (std::size_t i = 0; i < messages.size(); ++i) {
        auto it = rows.current.find(messages[i].uid);
        // A repeated stored UIDL (only a hand-edited table has one) is replaced rather than served twice.
        if (it == rows.current.end() || !taken.insert(it->second.uidl).second) continue;
        out[i] = it->second.uidl;
        fresh[i] = false;
    }
    std::map<identity, int> unmapped_with;
    for (const auto& m : messages)
        if (!rows.current.contains(m.uid) && !m.message_id.empty()) ++unmapped_with[{m.message_id, m.size}];
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const auto& m = messages[i];
        if (rows.current.contains(m.uid) || m.message_id.empty()) continue;
        identity key{m.message_id, m.size};
        auto match = rows.earlier.find(key);
        if (unmapped_with[key] != 1 || match == rows.earlier.end() || match->second.size() != 1) continue;
        if (!taken.insert(match->second.front().uidl).second) continue;
        out[i] = match->second.front().uidl;
        fresh[i] = false;
    }
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (!fresh[i]) continue;
        auto base = std::to_string(uidvalidity) + "." + std::to_string(messages[i].uid);
        auto uidl = base;
        for (int n = 2; !taken.insert(uidl).second; ++n) uidl = base + "-" + std::to_string(n);
        out[i] = std::move(uidl);
    }
    return out;
}

} // namespace

std::vector<std::uint32_t> pop3_uidl_map::unmapped(std::int64_t account_id, const std::string& folder,
                                                   std::uint32_t uidvalidity,
                                                   const std::vector<std::uint32_t>& uids) {
    std::lock_guard lock(mutex_);
    std::unordered_set<std::uint32_t> mapped;
    auto q =
        db_.prepare("SELECT uid FROM pop3_uidls WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3");
    q.bind(1, account_id).bind(2, folder).bind(3, std::int64_t{uidvalidity});
    while (q.step()) mapped.insert(static_cast<std::uint32_t>(q.column_int64(0)));
    std::vector<std::uint32_t> out;
    for (auto uid : uids)
        if (!mapped.contains(uid)) out.push_back(uid);
    return out;
}

std::vector<std::string> pop3_uidl_map::assign(std::int64_t account_id, const std::string& folder,
                                               std::uint32_t uidvalidity,
                                               const std::vector<folder_message>& messages) {
    std::unordered_set<std::uint32_t> in_snapshot;
    for (const auto& m : messages)
        if (!in_snapshot.insert(m.uid).second)
            throw std::invalid_argument("UID " + std::to_string(m.uid) + " twice in a folder snapshot");

    std::lock_guard lock(mutex_);
    transaction tx(db_);
    auto rows = read_rows(db_, account_id, folder, uidvalidity);
    auto out = choose_uidls(rows, uidvalidity, messages);

    db_.prepare("DELETE FROM pop3_uidls WHERE account_id = ?1 AND folder = ?2 AND uidvalidity != ?3")
        .bind(1, account_id)
        .bind(2, folder)
        .bind(3, std::int64_t{uidvalidity})
        .run();
    auto remove = db_.prepare(
        "DELETE FROM pop3_uidls WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4");
    for (const auto& [uid, row] : rows.current) {
        if (in_snapshot.contains(uid)) continue;
        remove.reset();
        remove.bind(1, account_id)
            .bind(2, folder)
            .bind(3, std::int64_t{uidvalidity})
            .bind(4, std::int64_t{uid});
        remove.run();
    }
    auto write =
        db_.prepare("INSERT INTO pop3_uidls(account_id, folder, uidvalidity, uid, uidl, message_id, size) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                    "ON CONFLICT (account_id, folder, uidvalidity, uid) DO UPDATE SET "
                    "uidl = excluded.uidl, message_id = excluded.message_id, size = excluded.size");
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const auto& m = messages[i];
        auto message_id = m.message_id;
        if (auto it = rows.current.find(m.uid); it != rows.current.end()) {
            if (message_id.empty()) message_id = it->second.message_id;
            if (it->second.uidl == out[i] && it->second.message_id == message_id && it->second.size == m.size)
                continue; // unchanged: most of a snapshot, most of the time
        }
        write.reset();
        write.bind(1, account_id)
            .bind(2, folder)
            .bind(3, std::int64_t{uidvalidity})
            .bind(4, std::int64_t{m.uid})
            .bind(5, out[i])
            .bind(6, message_id)
            .bind(7, static_cast<std::int64_t>(m.size));
        write.run();
    }
    tx.commit();
    return out;
}

} // namespace mailgate::store
