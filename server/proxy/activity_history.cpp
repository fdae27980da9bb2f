// Minute buckets in a ring indexed by the minute number.
#include "server/proxy/activity_history.hpp"

#include <algorithm>

namespace mailgate::proxy {

activity_history::minute& activity_history::at(std::int64_t now) {
    auto start = now - now % 60;
    auto& m = ring_[static_cast<std::size_t>(start / 60) % minutes];
    if (m.start != start) {
        // A new minute starts with the sessions the latest earlier minute ended with.
        std::map<std::string, std::uint32_t> carried;
        std::int64_t latest = 0;
        for (const auto& other : ring_)
            if (other.start < start && other.start > latest) {
                latest = other.start;
                carried = other.last_sessions;
            }
        m = minute{};
        m.start = start;
        m.peak_sessions = carried;
        m.last_sessions = std::move(carried);
    }
    return m;
}

void activity_history::sessions_changed(std::int64_t now, const std::map<std::string, std::uint32_t>& live) {
    auto& m = at(now);
    for (const auto& [protocol, n] : live) m.peak_sessions[protocol] = std::max(m.peak_sessions[protocol], n);
    m.last_sessions = live;
}

void activity_history::login(std::int64_t now, bool ok) {
    ++(ok ? at(now).logins_ok : at(now).logins_failed);
}

void activity_history::message(std::int64_t now) { ++at(now).messages; }

void activity_history::upstream_error(std::int64_t now, const std::string& account) {
    ++at(now).upstream_errors[account];
}

std::vector<activity_history::minute> activity_history::last_hour(std::int64_t now) const {
    std::vector<minute> out;
    auto current = now - now % 60;
    std::map<std::string, std::uint32_t> carried;
    // The sessions at the window's start: what the latest minute before it ended with.
    std::int64_t latest = 0;
    auto first = current - static_cast<std::int64_t>(minutes - 1) * 60;
    for (const auto& m : ring_)
        if (m.start < first && m.start > latest) {
            latest = m.start;
            carried = m.last_sessions;
        }
    for (auto start = first; start <= current; start += 60) {
        const auto& m = ring_[static_cast<std::size_t>(start / 60) % minutes];
        if (m.start == start) {
            out.push_back(m);
            carried = m.last_sessions;
        } else {
            minute quiet;
            quiet.start = start;
            quiet.peak_sessions = carried;
            quiet.last_sessions = carried;
            out.push_back(std::move(quiet));
        }
    }
    return out;
}

} // namespace mailgate::proxy
