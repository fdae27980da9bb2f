// One queued message as the administrator sees it (admin API, `mailgate queue list`): who sent it to whom,
// through which account, how big, how old, how often tried and why the last try failed.
#pragma once

#include "server/spool/spool_directory.hpp"

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
};

queue_item describe(const queued_message& m, const delivery_state& s, bool delivering);

// Every queued message of the directory, oldest first (what `mailgate queue list` shows without the server).
std::vector<queue_item> list_queue(const spool_directory& dir);

} // namespace mailgate::spool
