// The spool's scheduler, room accounting and administrator operations.
#include "server/proxy/spool_service.hpp"

#include "protocols/smtp/delivery_report.hpp"
#include "protocols/smtp/dot_stuff.hpp"
#include "server/proxy/spool_delivery.hpp"
#include "server/proxy/upstream_login.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <set>

namespace mailgate::proxy {

namespace asio = boost::asio;
using spool::recipient_outcome;

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string rfc5322_date(std::int64_t when) {
    std::time_t t = static_cast<std::time_t>(when);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return text;
}

bool has_pending(const spool::queued_message& m, const spool::delivery_state& s) {
    return s.any_pending(m.head.rcpt.size());
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The rule of account_repository::find_by_sender, for one account.
bool may_send_as(const store::account& a, std::string_view address) {
    if (a.senders.empty()) return iequals(a.remote_user, address);
    return std::find(a.senders.begin(), a.senders.end(), address) != a.senders.end();
}

// Report text must stay 7-bit: anything else in the original header becomes '?'.
std::string seven_bit(std::string text) {
    for (auto& c : text)
        if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    return text;
}

asio::awaitable<void> run_work(std::function<void()> work) {
    work();
    co_return;
}

} // namespace

std::optional<spool_mode> parse_spool_mode(std::string_view text) {
    if (text == "off") return spool_mode::off;
    if (text == "devices") return spool_mode::devices;
    if (text == "all") return spool_mode::all;
    return std::nullopt;
}

std::string_view to_string(spool_mode m) {
    switch (m) {
    case spool_mode::off: return "off";
    case spool_mode::devices: return "devices";
    case spool_mode::all: return "all";
    }
    return "?";
}

spool_service::spool_service(asio::any_io_executor executor, const gateway_settings& settings,
                             std::filesystem::path root, spool_policy policy, spool_sharing sharing)
    : executor_(std::move(executor)), settings_(settings), directory_(std::move(root)),
      policy_(std::move(policy)), sharing_(std::move(sharing)), strand_(asio::make_strand(executor_)),
      timer_(strand_) {
    if (policy_.retries.empty()) policy_.retries.push_back(std::chrono::seconds(60));
    process_ = store::to_hex(store::random_bytes(8));
    // The lease is renewed with each rescan, a few times within its length.
    if (sharing_.ledger)
        policy_.scan_interval =
            std::min(policy_.scan_interval, std::max(std::chrono::seconds(1), sharing_.lease / 3));
}

spool_service::~spool_service() {
    stopping_ = true;
    disk_.join();
}

asio::awaitable<void> spool_service::on_disk(std::function<void()> work) {
    co_await asio::co_spawn(disk_.get_executor(), run_work(std::move(work)), asio::use_awaitable);
}

bool spool_service::has_room(std::uint64_t more) const {
    std::lock_guard lock(mutex_);
    return queued_bytes_ + reserved_bytes_ + more <= policy_.max_bytes;
}

bool spool_service::reserve(std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    if (queued_bytes_ + reserved_bytes_ + bytes > policy_.max_bytes) return false;
    reserved_bytes_ += bytes;
    return true;
}

void spool_service::release(std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    reserved_bytes_ -= std::min(reserved_bytes_, bytes);
}

std::unique_ptr<spool::incoming_message> spool_service::begin(spool::envelope head) {
    head.shared = sharing_.ledger != nullptr;
    return directory_.begin(std::move(head));
}

asio::awaitable<bool> spool_service::commit(spool::incoming_message& message) {
    bool ok = false;
    co_await on_disk([&] { ok = message.commit() && publish(message.queued()); });
    co_return ok;
}

void spool_service::queued(spool::queued_message m, std::uint64_t reserved) {
    {
        std::lock_guard lock(mutex_);
        reserved_bytes_ -= std::min(reserved_bytes_, reserved);
        auto id = m.head.id;
        if (!items_.contains(id)) {
            auto file_size = m.data_offset + m.data_size;
            queued_bytes_ += file_size;
            items_.emplace(std::move(id), item{std::move(m), {}, file_size, false});
        }
    }
    poke();
}

void spool_service::start() {
    directory_.recover();
    asio::co_spawn(strand_, schedule(), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            spdlog::error("spool: scheduler stopped: {}", x.what());
        }
    });
}

void spool_service::stop() {
    stopping_ = true;
    std::vector<std::function<void()>> closers;
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, close] : closers_) closers.push_back(close);
    }
    for (auto& close : closers) close();
    asio::post(strand_, [this] { timer_.cancel(); });
}

void spool_service::poke() {
    poked_ = true;
    asio::post(strand_, [this] { timer_.cancel(); });
}

void spool_service::scan() {
    auto ids = directory_.list();
    std::set<std::string> present(ids.begin(), ids.end());
    std::map<std::string, std::pair<spool::queued_message, std::uint64_t>> fresh;
    std::map<std::string, spool::delivery_state> states;
    std::set<std::string> known;
    {
        std::lock_guard lock(mutex_);
        for (auto& [id, it] : items_) known.insert(id);
    }
    for (const auto& id : ids) {
        if (!known.contains(id)) {
            if (auto m = directory_.read(id)) {
                auto size = m->data_offset + m->data_size;
                fresh.emplace(id, std::make_pair(std::move(*m), size));
            } else
                spdlog::warn("spool: {} is not a valid spool file; left alone", id);
        }
        states.emplace(id, directory_.read_state(id));
    }
    std::lock_guard lock(mutex_);
    for (auto& [id, entry] : fresh) items_.emplace(id, item{std::move(entry.first), {}, entry.second, false});
    for (auto it = items_.begin(); it != items_.end();) {
        if (it->second.busy) {
            ++it;
            continue;
        }
        if (!present.contains(it->first)) { // removed beside us (mailgate queue delete)
            it = items_.erase(it);
            continue;
        }
        it->second.state = states[it->first];
        ++it;
    }
    queued_bytes_ = 0;
    for (auto& [id, it] : items_) queued_bytes_ += it.file_size;
}

asio::awaitable<void> spool_service::schedule() {
    co_await on_disk([this] {
        scan();
        if (sharing_.ledger) reconcile();
    });
    auto last_scan = std::chrono::steady_clock::now();
    while (!stopping_) {
        start_due();
        auto wait = policy_.scan_interval;
        {
            std::lock_guard lock(mutex_);
            auto now = unix_now();
            for (auto& [id, it] : items_)
                if (!it.busy && !it.state.failed && it.state.next_attempt > now)
                    wait = std::min(wait, std::chrono::seconds(it.state.next_attempt - now));
        }
        if (!poked_.exchange(false)) {
            timer_.expires_after(std::max(wait, std::chrono::seconds(1)));
            boost::system::error_code ec;
            co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (stopping_) break;
        if (std::chrono::steady_clock::now() - last_scan >= policy_.scan_interval) {
            co_await on_disk([this] {
                scan();
                if (sharing_.ledger) reconcile();
            });
            last_scan = std::chrono::steady_clock::now();
        }
    }
}

void spool_service::start_due() {
    std::vector<std::string> due;
    {
        std::lock_guard lock(mutex_);
        auto now = unix_now();
        unsigned running = 0;
        std::map<std::int64_t, unsigned> per_account;
        for (auto& [id, it] : items_)
            if (it.busy) ++running, ++per_account[it.message.head.account_id];
        for (auto& [id, it] : items_) {
            if (running >= policy_.max_deliveries) break;
            if (it.busy || it.state.failed || it.state.next_attempt > now ||
                !has_pending(it.message, it.state))
                continue; // settled ones wait for their copy in the shared store to go (reconcile)
            auto& account_running = per_account[it.message.head.account_id];
            if (account_running >= policy_.max_per_account) continue;
            it.busy = true;
            ++running, ++account_running;
            due.push_back(id);
        }
    }
    for (auto& id : due)
        asio::co_spawn(asio::make_strand(executor_), deliver(id), [id](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                spdlog::error("spool: delivery of {} stopped: {}", id, x.what());
            }
        });
}

void spool_service::count(const std::string& result) {
    std::lock_guard lock(mutex_);
    ++attempts_[result];
}

std::optional<std::string> spool_service::claim_next(std::int64_t account_id) {
    std::lock_guard lock(mutex_);
    if (stopping_) return std::nullopt;
    auto now = unix_now();
    for (auto& [id, it] : items_)
        if (!it.busy && !it.state.failed && it.state.next_attempt <= now &&
            has_pending(it.message, it.state) && it.message.head.account_id == account_id) {
            it.busy = true;
            return id;
        }
    return std::nullopt;
}

asio::awaitable<void> spool_service::deliver(std::string first) {
    std::optional<login_result> session; // the account's provider session, kept for its next due messages
    std::string id = first;
    for (unsigned count_in_session = 0;; ++count_in_session) {
        spool::queued_message message;
        spool::delivery_state state;
        {
            std::lock_guard lock(mutex_);
            auto& it = items_.at(id);
            message = it.message;
            state = it.state;
        }
        auto account_id = message.head.account_id;
        auto where = message.head.peer + ", message " + id;
        session_context label{"spool", message.head.session, where};
        std::string result;
        // On a shared store: still ours, and no other instance may take it while this attempt runs.
        auto owner = ownership::mine;
        if (shared(message.head)) co_await on_disk([&] { owner = confirm_ownership(id, message, state); });
        std::optional<store::account> account;
        if (owner == ownership::mine) try {
                account = co_await settings_.store.run(
                    [&](store::account_repository& repo) { return repo.find_by_id(account_id); });
            } catch (const std::exception& e) {
                store_trouble(e);
                owner = ownership::wait;
            }
        if (owner == ownership::lost) {
            // dropped below
        } else if (owner == ownership::wait) {
            state.last_error = "the account store does not answer; delivery waits for it";
            result = "deferred";
        } else if (!account) {
            state.last_error = "the account no longer exists";
            for (std::size_t i = 0; i < message.head.rcpt.size(); ++i)
                if (state.outcome(i) == recipient_outcome::kind::pending)
                    state.set(i,
                              {recipient_outcome::kind::failed, "550 5.7.1 the gateway account was removed"});
            result = "refused";
        } else if (!account->enabled) {
            state.last_error = "account '" + account->name + "' is disabled";
            result = "deferred";
        } else {
            delivery_hooks hooks;
            hooks.persist = [this, &id, &message, &state]() -> asio::awaitable<void> {
                // The exactly-once point: before anything else is sent, the delivered recipients are durable.
                co_await on_disk([&] {
                    bool settled =
                        !has_pending(message, state) &&
                        std::none_of(state.recipients.begin(), state.recipients.end(),
                                     [](const auto& r) { return r.what == recipient_outcome::kind::failed; });
                    if (!settled || !discard(id, message)) save_state(id, message, state);
                });
            };
            hooks.before_end = [this, &id, &message, &state, &owner]() -> asio::awaitable<bool> {
                co_await on_disk([&] {
                    directory_.write_state(id, state);
                    if (shared(message.head)) owner = confirm_ownership(id, message, state);
                });
                co_return owner == ownership::mine;
            };
            hooks.set_closer = [this, &first](std::function<void()> close) {
                std::lock_guard lock(mutex_);
                if (close)
                    closers_[first] = std::move(close);
                else
                    closers_.erase(first);
            };
            if (state.in_doubt)
                label.warn(
                    "the previous attempt was cut off after the end of the message went out: this one may "
                    "deliver it a second time (RFC 1047)");
            ++state.attempts;
            result = co_await deliver_spooled(settings_, label, *account, message,
                                              directory_.message_path(id), state, hooks, session);
        }
        if (owner == ownership::lost) {
            co_await on_disk(
                [&] { drop_local(id, "another instance owns it now, or it was deleted there"); });
        } else {
            count(result);
            if (result == "delivered" && !has_pending(message, state))
                label.info("delivered to account '{}' after {} attempt(s)", message.head.account_name,
                           state.attempts);
            else if (has_pending(message, state))
                label.info("not delivered yet (attempt {}): {}", state.attempts, state.last_error);
            co_await on_disk([&] { finish(id, std::move(state)); });
        }
        // The same provider session serves the account's other due messages (a scanner's batch), up to a bound.
        std::optional<std::string> next;
        if (session && count_in_session < 100) next = claim_next(account_id);
        if (!next) break;
        id = std::move(*next);
    }
    co_await end_delivery_session(session);
    poke();
}

void spool_service::finish(const std::string& id, spool::delivery_state state) {
    auto m = directory_.read(id);
    auto now = unix_now();
    if (!m) { // delivered and removed, or deleted by the administrator meanwhile
        std::lock_guard lock(mutex_);
        if (auto it = items_.find(id); it != items_.end()) {
            queued_bytes_ -= std::min(queued_bytes_, it->second.file_size);
            items_.erase(it);
        }
        return;
    }
    if (has_pending(*m, state)) {
        if (now - m->head.received >= policy_.lifetime.count()) {
            // Given up: what is still pending fails with the last temporary reason.
            auto why =
                state.last_error.empty() ? std::string("4.4.7 delivery time expired") : state.last_error;
            for (std::size_t i = 0; i < m->head.rcpt.size(); ++i)
                if (state.outcome(i) == recipient_outcome::kind::pending)
                    state.set(i, {recipient_outcome::kind::failed, "expired: " + why});
        } else {
            auto step = std::min<std::size_t>(state.attempts == 0 ? 0 : state.attempts - 1,
                                              policy_.retries.size() - 1);
            state.next_attempt = now + policy_.retries[step].count();
        }
    }
    bool removed = false;
    if (!has_pending(*m, state)) {
        bool any_failed = std::any_of(state.recipients.begin(), state.recipients.end(), [](const auto& r) {
            return r.what == recipient_outcome::kind::failed;
        });
        if (!any_failed) {
            removed = discard(id, *m);
        } else {
            std::optional<store::account> account;
            try {
                account = settings_.store.repository().find_by_id(m->head.account_id);
            } catch (const std::exception&) {}
            auto sender = spool::path_address(m->head.mail);
            if (!state.reported && !m->head.is_report && !sender.empty() && account &&
                may_send_as(*account, sender)) {
                make_report(*m, state, *account);
                state.reported = true;
            }
            if (state.reported) {
                removed = discard(id, *m);
            } else {
                state.failed = true;
                spdlog::warn("spool: {} failed and no report can go to <{}>; kept for the administrator", id,
                             sender);
            }
        }
    }
    if (!removed) save_state(id, *m, state);
    std::lock_guard lock(mutex_);
    auto it = items_.find(id);
    if (it == items_.end()) return;
    if (removed) {
        queued_bytes_ -= std::min(queued_bytes_, it->second.file_size);
        items_.erase(it);
        return;
    }
    it->second.state = std::move(state);
    it->second.busy = false;
}

bool spool_service::discard(const std::string& id, const spool::queued_message& m) {
    // The shared copy goes first: a copy left behind would be delivered again by whoever takes it over.
    if (shared(m.head)) try {
            sharing_.ledger->remove(sharing_.instance, id);
        } catch (const std::exception& e) {
            store_trouble(e);
            return false;
        }
    directory_.remove(id);
    return true;
}

bool spool_service::save_state(const std::string& id, const spool::queued_message& m,
                               const spool::delivery_state& s) {
    bool ok = directory_.write_state(id, s);
    if (shared(m.head)) try {
            sharing_.ledger->save_state(sharing_.instance, id, spool::serialize_state(s));
        } catch (const std::exception& e) {
            store_trouble(e); // the local state rules here; the next claim carries it to the store
        }
    return ok;
}

void spool_service::make_report(const spool::queued_message& m, const spool::delivery_state& s,
                                const store::account& account) {
    auto sender = spool::path_address(m.head.mail);
    protocols::smtp::delivery_report_input in;
    in.reporting_host = local_helo_name();
    in.from_address = sender;
    in.to_address = sender;
    auto now = unix_now();
    in.date = rfc5322_date(now);
    in.arrival_date = rfc5322_date(m.head.received);
    auto token = store::to_hex(store::random_bytes(8));
    in.message_id = "<report." + m.head.id + "." + token + "@" + local_helo_name() + ">";
    in.boundary = "mailgate-report-" + token;
    in.original_headers = seven_bit(directory_.headers(m.head.id).value_or(""));
    for (std::size_t i = 0; i < m.head.rcpt.size(); ++i) {
        if (s.outcome(i) != recipient_outcome::kind::failed) continue;
        const auto& reply = s.recipients[i].reply;
        in.recipients.push_back({spool::path_address(m.head.rcpt[i]), reply, !reply.starts_with("5")});
    }
    spool::envelope head;
    head.account_id = account.id;
    head.account_name = account.name;
    head.received = now;
    head.peer = "delivery report for " + m.head.id;
    head.session = m.head.session;
    head.mail = "MAIL FROM:<" + sender + ">";
    head.rcpt.push_back("RCPT TO:<" + sender + ">");
    head.is_report = true;
    auto report = begin(head);
    auto data = protocols::smtp::dot_stuff(protocols::smtp::compose_delivery_report(in));
    if (!report || !report->write(data) || !report->commit() || !publish(report->queued())) {
        spdlog::error("spool: the delivery report for {} could not be queued", m.head.id);
        return;
    }
    spdlog::info("spool: {}: delivery report to <{}> queued as {}", m.head.id, sender, report->id());
    queued(report->queued(), 0);
}

std::uint64_t spool_service::used_bytes() const {
    std::lock_guard lock(mutex_);
    return queued_bytes_ + reserved_bytes_;
}

std::vector<spool::queue_item> spool_service::list() const {
    if (sharing_.ledger) return list_shared();
    std::lock_guard lock(mutex_);
    std::vector<spool::queue_item> out;
    for (const auto& [id, it] : items_) out.push_back(spool::describe(it.message, it.state, it.busy));
    return out;
}

bool spool_service::local_only(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = items_.find(id);
    return it != items_.end() && !shared(it->second.message.head);
}

// A message of the shared spool is retried or deleted by its owner (this instance or another) at its next look.
spool_service::change spool_service::retry(const std::string& id) {
    if (sharing_.ledger && !local_only(id)) return *ask_owner(id, "retry");
    spool::delivery_state state;
    {
        std::lock_guard lock(mutex_);
        auto it = items_.find(id);
        if (it == items_.end()) return change::not_found;
        if (it->second.busy) return change::busy;
        it->second.state.retry_now();
        state = it->second.state;
    }
    if (!directory_.write_state(id, state)) spdlog::error("spool: cannot write the state of {}", id);
    poke();
    return change::done;
}

spool_service::change spool_service::remove(const std::string& id) {
    if (sharing_.ledger && !local_only(id)) return *ask_owner(id, "delete");
    std::lock_guard lock(mutex_);
    auto it = items_.find(id);
    if (it == items_.end()) return change::not_found;
    if (it->second.busy) return change::busy;
    directory_.remove(id);
    queued_bytes_ -= std::min(queued_bytes_, it->second.file_size);
    items_.erase(it);
    spdlog::info("spool: {} deleted by the administrator", id);
    return change::done;
}

std::optional<std::string> spool_service::headers(const std::string& id) const {
    bool here = false;
    {
        std::lock_guard lock(mutex_);
        here = items_.contains(id);
    }
    if (here) return directory_.headers(id);
    if (!sharing_.ledger) return std::nullopt;
    try { // another instance's
        auto data = sharing_.ledger->data_prefix(id, 64 * 1024);
        if (data) return spool::header_section(*data);
    } catch (const std::exception&) {}
    return std::nullopt;
}

std::string spool_service::prometheus_metrics() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, std::uint64_t> by_state{{"queued", 0}, {"delivering", 0}, {"failed", 0}};
    for (const auto& [id, it] : items_)
        ++by_state[it.busy ? "delivering" : it.state.failed ? "failed" : "queued"];
    std::string out;
    out += "# HELP mailgate_spool_bytes Octets of messages in the SMTP spool.\n";
    out += "# TYPE mailgate_spool_bytes gauge\n";
    out += "mailgate_spool_bytes " + std::to_string(queued_bytes_ + reserved_bytes_) + "\n";
    out += "# HELP mailgate_spool_messages Messages in the SMTP spool by state.\n";
    out += "# TYPE mailgate_spool_messages gauge\n";
    for (const auto& [state, n] : by_state)
        out += "mailgate_spool_messages{state=\"" + state + "\"} " + std::to_string(n) + "\n";
    out += "# HELP mailgate_spool_delivery_attempts_total Delivery attempts of spooled messages by result.\n";
    out += "# TYPE mailgate_spool_delivery_attempts_total counter\n";
    for (const char* result : {"delivered", "deferred", "refused", "connect"}) {
        auto it = attempts_.find(result);
        out += "mailgate_spool_delivery_attempts_total{result=\"" + std::string(result) + "\"} " +
               std::to_string(it == attempts_.end() ? 0 : it->second) + "\n";
    }
    if (sharing_.ledger) {
        out += "# HELP mailgate_spool_taken_over_total Queued messages of silent instances this instance "
               "took over.\n";
        out += "# TYPE mailgate_spool_taken_over_total counter\n";
        out += "mailgate_spool_taken_over_total " + std::to_string(taken_over_) + "\n";
    }
    return out;
}

} // namespace mailgate::proxy
