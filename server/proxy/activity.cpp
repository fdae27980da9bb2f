// Live sessions, recent events, counters.
#include "server/proxy/activity.hpp"

#include "server/common/unix_time.hpp"

#include <boost/asio/post.hpp>

#include <sstream>

namespace mailgate::proxy {

std::string_view to_string(event_kind k) {
    switch (k) {
    case event_kind::login_ok: return "login_ok";
    case event_kind::login_failed: return "login_failed";
    case event_kind::upstream_error: return "upstream_error";
    case event_kind::session_closed_by_admin: return "session_closed_by_admin";
    case event_kind::sent_copy_failed: return "sent_copy_failed";
    }
    return "?";
}

session_entry::session_entry(activity& owner, std::uint64_t id, std::string protocol, std::string peer,
                             boost::asio::any_io_executor executor, std::function<void(close_reason)> closer)
    : owner_(owner), id_(id), protocol_(std::move(protocol)), peer_(std::move(peer)),
      since_(std::chrono::system_clock::now()), executor_(std::move(executor)), closer_(std::move(closer)) {}

session_entry::~session_entry() {
    owner_.count_bytes(counters_.up.load(), counters_.down.load());
    owner_.remove(id_);
}

void session_entry::set_account(const std::string& name) {
    std::lock_guard lock(owner_.mutex_);
    account_ = name;
}

live_session::live_session(activity& owner, std::uint64_t id, std::string protocol, std::string peer,
                           boost::asio::any_io_executor executor, std::function<void(close_reason)> closer)
    : entry_(owner.open(id, std::move(protocol), std::move(peer), std::move(executor),
                        [alive = alive_, closer = std::move(closer)](close_reason reason) {
                            if (*alive) closer(reason);
                        })) {}

std::unique_ptr<session_entry> activity::open(std::uint64_t id, std::string protocol, std::string peer,
                                              boost::asio::any_io_executor executor,
                                              std::function<void(close_reason)> closer) {
    auto entry = std::make_unique<session_entry>(*this, id, protocol, std::move(peer), std::move(executor),
                                                 std::move(closer));
    std::lock_guard lock(mutex_);
    live_[id] = entry.get();
    ++sessions_total_[protocol];
    ++live_by_protocol_[protocol];
    history_.sessions_changed(unix_now(), live_by_protocol_);
    return entry;
}

void activity::remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = live_.find(id);
    if (it == live_.end()) return;
    if (auto n = live_by_protocol_.find(it->second->protocol_); n != live_by_protocol_.end() && n->second > 0)
        --n->second;
    live_.erase(it);
    history_.sessions_changed(unix_now(), live_by_protocol_);
}

void activity::count_message() {
    std::lock_guard lock(mutex_);
    history_.message(unix_now());
}

std::vector<activity_history::minute> activity::last_hour() const {
    std::lock_guard lock(mutex_);
    return history_.last_hour(unix_now());
}

std::map<std::string, std::uint32_t> activity::live_by_protocol() const {
    std::lock_guard lock(mutex_);
    return live_by_protocol_;
}

std::vector<session_view> activity::sessions() const {
    std::lock_guard lock(mutex_);
    std::vector<session_view> out;
    for (const auto& [id, e] : live_)
        out.push_back({id, e->protocol_, e->peer_, e->account_, e->since_, e->counters_.up.load(),
                       e->counters_.down.load()});
    return out;
}

std::set<std::string> activity::accounts_with_sessions() const {
    std::lock_guard lock(mutex_);
    std::set<std::string> out;
    for (const auto& [id, e] : live_)
        if (!e->account_.empty()) out.insert(e->account_);
    return out;
}

std::size_t activity::close_account_sessions(const std::string& account) {
    std::vector<std::pair<boost::asio::any_io_executor, std::function<void(close_reason)>>> to_close;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, e] : live_)
            if (e->account_ == account) to_close.emplace_back(e->executor_, e->closer_);
    }
    // Each closer runs on its session's own executor; it only closes sockets, which ends the session's I/O.
    for (auto& [executor, closer] : to_close)
        boost::asio::post(executor, [closer] { closer(close_reason::account_removed); });
    return to_close.size();
}

std::size_t activity::close_all_sessions(close_reason reason) {
    std::vector<std::pair<boost::asio::any_io_executor, std::function<void(close_reason)>>> to_close;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, e] : live_) to_close.emplace_back(e->executor_, e->closer_);
    }
    for (auto& [executor, closer] : to_close)
        boost::asio::post(executor, [closer, reason] { closer(reason); });
    return to_close.size();
}

void activity::record(event e) {
    std::lock_guard lock(mutex_);
    if (e.kind == event_kind::login_failed) ++login_failures_[e.protocol];
    if (e.kind == event_kind::login_ok || e.kind == event_kind::login_failed)
        history_.login(unix_now(), e.kind == event_kind::login_ok);
    if (e.kind == event_kind::upstream_error) history_.upstream_error(unix_now(), e.account);
    events_.push_back(std::move(e));
    while (events_.size() > 500) events_.pop_front();
}

std::vector<event> activity::recent_events(std::size_t limit) const {
    std::lock_guard lock(mutex_);
    std::vector<event> out;
    for (auto it = events_.rbegin(); it != events_.rend() && out.size() < limit; ++it) out.push_back(*it);
    return out;
}

void activity::count_upstream_error(const std::string& protocol, std::string_view kind) {
    std::lock_guard lock(mutex_);
    ++upstream_errors_[protocol + "/" + std::string(kind)];
}

void activity::count_bytes(std::uint64_t up, std::uint64_t down) {
    std::lock_guard lock(mutex_);
    bytes_up_ += up;
    bytes_down_ += down;
}

std::string activity::prometheus_metrics() const {
    std::lock_guard lock(mutex_);
    std::ostringstream out;
    std::map<std::string, std::uint64_t> active;
    for (const auto& [id, e] : live_) ++active[e->protocol_];
    out << "# HELP mailgate_sessions_active Sessions open now.\n# TYPE mailgate_sessions_active gauge\n";
    for (const char* p : {"pop3", "imap", "smtp"})
        out << "mailgate_sessions_active{protocol=\"" << p << "\"} " << active[p] << "\n";
    out << "# HELP mailgate_sessions_total Sessions accepted since start.\n# TYPE mailgate_sessions_total "
           "counter\n";
    for (const char* p : {"pop3", "imap", "smtp"}) {
        auto it = sessions_total_.find(p);
        out << "mailgate_sessions_total{protocol=\"" << p << "\"} "
            << (it == sessions_total_.end() ? 0 : it->second) << "\n";
    }
    out << "# HELP mailgate_local_auth_failures_total Failed local logins.\n# TYPE "
           "mailgate_local_auth_failures_total counter\n";
    for (const char* p : {"pop3", "imap", "smtp"}) {
        auto it = login_failures_.find(p);
        out << "mailgate_local_auth_failures_total{protocol=\"" << p << "\"} "
            << (it == login_failures_.end() ? 0 : it->second) << "\n";
    }
    out << "# HELP mailgate_upstream_errors_total Provider-side failures by kind.\n# TYPE "
           "mailgate_upstream_errors_total counter\n";
    for (const auto& [key, n] : upstream_errors_) {
        auto slash = key.find('/');
        out << "mailgate_upstream_errors_total{protocol=\"" << key.substr(0, slash) << "\",kind=\""
            << key.substr(slash + 1) << "\"} " << n << "\n";
    }
    out << "# HELP mailgate_bytes_relayed_total Bytes relayed by finished sessions.\n# TYPE "
           "mailgate_bytes_relayed_total counter\n";
    out << "mailgate_bytes_relayed_total{direction=\"up\"} " << bytes_up_ << "\n";
    out << "mailgate_bytes_relayed_total{direction=\"down\"} " << bytes_down_ << "\n";
    return out.str();
}

} // namespace mailgate::proxy
