// The administrator's view of queued messages.
#include "server/spool/queue_item.hpp"

namespace mailgate::spool {

queue_item describe(const queued_message& m, const delivery_state& s, bool delivering) {
    queue_item q;
    q.id = m.head.id;
    q.account_id = m.head.account_id;
    q.account = m.head.account_name;
    q.sender = path_address(m.head.mail);
    for (std::size_t i = 0; i < m.head.rcpt.size(); ++i) {
        auto what = s.outcome(i);
        if (what == recipient_outcome::kind::pending) q.recipients.push_back(path_address(m.head.rcpt[i]));
        if (what == recipient_outcome::kind::failed)
            q.failed.push_back(path_address(m.head.rcpt[i]) + ": " + s.recipients[i].reply);
    }
    q.size = m.data_size;
    q.received = m.head.received;
    q.attempts = s.attempts;
    q.next_attempt = s.next_attempt;
    q.last_error = s.last_error;
    q.state = delivering ? "delivering" : s.failed ? "failed" : "queued";
    q.is_report = m.head.is_report;
    return q;
}

std::vector<queue_item> list_queue(const spool_directory& dir) {
    std::vector<queue_item> out;
    for (const auto& id : dir.list())
        if (auto m = dir.read(id)) out.push_back(describe(*m, dir.read_state(id), false));
    return out;
}

std::vector<queue_item> list_shared_queue(store::spool_ledger& ledger) {
    std::vector<queue_item> out;
    for (const auto& row : ledger.list()) {
        std::size_t head_size = 0;
        auto head = parse_envelope(row.envelope, head_size);
        if (!head) continue;
        auto q = describe({std::move(*head), head_size, row.size}, parse_state(row.state), false);
        q.instance = row.owner;
        q.request = row.request;
        out.push_back(std::move(q));
    }
    return out;
}

} // namespace mailgate::spool
