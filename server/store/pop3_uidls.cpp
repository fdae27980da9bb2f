// The POP3 UIDL map (rules in the header).
#include "server/store/pop3_uidls.hpp"

#include "server/store/sqlite.hpp"

#include <map>
#include <set>
#include <utility>

namespace mailgate::store {

std::vector<std::uint32_t> pop3_uidl_map::unmapped(std::int64_t account_id, const std::string& folder,
                                                   std::uint32_t uidvalidity,
                                                   const std::vector<std::uint32_t>& uids) {
    std::lock_guard lock(mutex_);
    std::set<std::uint32_t> known;
    auto query =
        db_.prepare("SELECT uid FROM pop3_uidls WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3");
    query.bind(1, account_id).bind(2, folder).bind(3, static_cast<std::int64_t>(uidvalidity));
    while (query.step()) known.insert(static_cast<std::uint32_t>(query.column_int64(0)));
    std::vector<std::uint32_t> out;
    for (auto uid : uids)
        if (!known.contains(uid)) out.push_back(uid);
    return out;
}

std::vector<std::string> pop3_uidl_map::assign(std::int64_t account_id, const std::string& folder,
                                               std::uint32_t uidvalidity,
                                               const std::vector<folder_message>& messages) {
    struct row {
        std::string uidl, message_id;
        std::uint64_t size;
    };
    std::lock_guard lock(mutex_);
    transaction tx(db_);
    std::map<std::uint32_t, row> current;                                    // under this uidvalidity, by UID
    std::multimap<std::pair<std::string, std::uint64_t>, std::string> older; // other uidvalidities
    std::set<std::string> used;                                              // UIDLs no new message may get
    {
        auto query = db_.prepare("SELECT uidvalidity, uid, uidl, message_id, size FROM pop3_uidls WHERE "
                                 "account_id = ?1 AND folder = ?2");
        query.bind(1, account_id).bind(2, folder);
        while (query.step()) {
            auto v = static_cast<std::uint32_t>(query.column_int64(0));
            row r{query.column_text(2), query.column_text(3),
                  static_cast<std::uint64_t>(query.column_int64(4))};
            if (v == uidvalidity)
                current[static_cast<std::uint32_t>(query.column_int64(1))] = std::move(r);
            else {
                // Never handed to another message: a client may have this UIDL and would skip that one.
                used.insert(r.uidl);
                if (!r.message_id.empty())
                    older.emplace(std::make_pair(r.message_id, r.size), std::move(r.uidl));
            }
        }
    }
    // An older UIDL is inherited only by an unambiguous match: one old message and one new with that key.
    std::map<std::pair<std::string, std::uint64_t>, int> new_keys;
    for (const auto& m : messages)
        if (!current.contains(m.uid) && !m.message_id.empty()) ++new_keys[{m.message_id, m.size}];

    for (const auto& [uid, r] : current) used.insert(r.uidl);
    std::vector<std::string> out;
    out.reserve(messages.size());
    std::vector<std::pair<const folder_message*, std::string>> added;
    for (const auto& m : messages) {
        if (auto it = current.find(m.uid); it != current.end()) {
            out.push_back(it->second.uidl);
            continue;
        }
        std::string uidl;
        std::pair<std::string, std::uint64_t> key{m.message_id, m.size};
        if (!m.message_id.empty() && older.count(key) == 1 && new_keys[key] == 1)
            uidl = older.find(key)->second; // each old UIDL has one key, and the key is matched once
        if (uidl.empty()) {
            auto base = std::to_string(uidvalidity) + "." + std::to_string(m.uid);
            uidl = base;
            for (int n = 2; used.contains(uidl); ++n) uidl = base + "-" + std::to_string(n);
        }
        used.insert(uidl);
        out.push_back(uidl);
        added.emplace_back(&m, uidl);
    }
    // The folder's rows become exactly this snapshot: mapped ones kept, new ones added, the rest forgotten.
    std::set<std::uint32_t> present;
    for (const auto& m : messages) present.insert(m.uid);
    db_.prepare("DELETE FROM pop3_uidls WHERE account_id = ?1 AND folder = ?2 AND uidvalidity != ?3")
        .bind(1, account_id)
        .bind(2, folder)
        .bind(3, static_cast<std::int64_t>(uidvalidity))
        .run();
    for (const auto& [uid, r] : current)
        if (!present.contains(uid))
            db_.prepare(
                   "DELETE FROM pop3_uidls WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND "
                   "uid = ?4")
                .bind(1, account_id)
                .bind(2, folder)
                .bind(3, static_cast<std::int64_t>(uidvalidity))
                .bind(4, static_cast<std::int64_t>(uid))
                .run();
    for (const auto& [m, uidl] : added)
        db_.prepare("INSERT INTO pop3_uidls(account_id, folder, uidvalidity, uid, uidl, message_id, size) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .bind(1, account_id)
            .bind(2, folder)
            .bind(3, static_cast<std::int64_t>(uidvalidity))
            .bind(4, static_cast<std::int64_t>(m->uid))
            .bind(5, uidl)
            .bind(6, m->message_id)
            .bind(7, static_cast<std::int64_t>(m->size))
            .run();
    tx.commit();
    return out;
}

} // namespace mailgate::store
