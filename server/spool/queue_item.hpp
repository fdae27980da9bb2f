// One queued message as the administrator sees it (admin API, `mailgate queue list`): who sent it to whom,
// through which account, how big, how old, how often tried and why the last try failed.
#pragma once

#include "server/spool/spool_directory.hpp"
#include "server/store/spool_ledger.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mailgate::spool {

struct queue_item {
    std::string id;
    std::int64_t account_id = 0;
    std::string account;
    std::string sender;
    std::vector<std::string> recipients; // still to be delivered (all of them before the first success)
    std::vector<std::string> failed;     // refused for good: "<address>: <reply>"
    std::uint64_t size = 0;              // message octets as queued
    std::int64_t received = 0;           // unix seconds
    unsigned attempts = 0;
    std::int64_t next_attempt = 0;
    std::string last_error;
    std::string state; // "queued", "delivering", "failed"
    bool is_report = false;
    std::string instance; // in the spool the instances share: the owner's id, and what was asked of it
    std::string request;  // "", "retry" or "delete"
};

queue_item describe(const queued_message& m, const delivery_state& s, bool delivering);

// Every queued message of the directory, oldest first (what `mailgate queue list` shows without the server).
std::vector<queue_item> list_queue(const spool_directory& dir);

// Every message of the spool the instances of a shared store hold together, oldest first.
std::vector<queue_item> list_shared_queue(store::spool_ledger& ledger);

} // namespace mailgate::spool
