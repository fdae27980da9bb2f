// POP3 UIDLs for accounts whose POP3 is served from an IMAP folder (pop3_source::imap): stable across sessions,
// and across a change of the folder's UIDVALIDITY where a message can be recognised again.
//
// A message's UIDL is "<uidvalidity>.<uid>" when first seen and never changes while it is mapped. When the
// folder's UIDVALIDITY changes (the provider rebuilt it), a message under the new UIDVALIDITY inherits the UIDL of
// a message under the old one with the same Message-ID and size (each old UIDL at most once); messages without a
// Message-ID, or whose match is ambiguous, get new UIDLs (a client downloads them again: duplicates, never loss).
// Ambiguous: the Message-ID and size are not unique among the old messages, or among the new unmapped ones.
// Rows of messages no longer in the folder are removed, so the table holds about one row per message.
#pragma once

#include "server/store/sqlite.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mailgate::store {

struct folder_message {
    std::uint32_t uid = 0;
    std::uint64_t size = 0; // RFC822.SIZE
    std::string message_id; // as in the header, angle brackets included; empty when unknown or absent
};

// In the accounts database under the account repository's lock (account_repository::uidls()).
class pop3_uidl_map {
public:
    pop3_uidl_map(database& db, std::mutex& mutex) : db_(db), mutex_(mutex) {}

    // The UIDs among `uids` that have no UIDL under (account, folder, uidvalidity) yet: the session fetches
    // their Message-IDs before assign(), so that a later UIDVALIDITY change can recognise them.
    std::vector<std::uint32_t> unmapped(std::int64_t account_id, const std::string& folder,
                                        std::uint32_t uidvalidity, const std::vector<std::uint32_t>& uids);

    // The UIDL of each of `messages` (the folder's whole snapshot, in order), assigning new ones as described
    // above, and forgetting the folder's rows of messages not in `messages`. One transaction. An empty
    // message_id for an already mapped message keeps the stored one. The UIDLs are unique within the result: a
    // new UIDL that an inherited one already spells gets a suffix ("-2", "-3", ...). Throws std::invalid_argument
    // when `messages` repeats a UID.
    std::vector<std::string> assign(std::int64_t account_id, const std::string& folder,
                                    std::uint32_t uidvalidity, const std::vector<folder_message>& messages);

private:
    database& db_;
    std::mutex& mutex_;
};

} // namespace mailgate::store
