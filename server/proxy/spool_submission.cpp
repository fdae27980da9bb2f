// Spooled SMTP transactions: answered by the gateway, 250 only after the message is durable on disk.
#include "server/proxy/spool_submission.hpp"

#include "server/proxy/login_flow.hpp"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <charconv>

namespace mailgate::proxy {

namespace asio = boost::asio;
using protocols::login_outcome;
using protocols::smtp::reply;

namespace {

std::string verb_of(std::string_view line) {
    std::string verb(line.substr(0, 4));
    for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return verb;
}

std::string without_crlf(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    return std::string(line);
}

// SIZE=n of a MAIL line (the codec checked its syntax); 0 when absent.
std::uint64_t declared_size(std::string_view line) {
    auto at = line.find(" SIZE=");
    if (at == std::string_view::npos) return 0;
    std::uint64_t size = 0;
    auto digits = line.substr(at + 6);
    std::from_chars(digits.data(), digits.data() + digits.size(), size);
    return size;
}

reply spool_full() { return {452, {"4.3.1 The gateway's mail queue is full; try again later"}}; }

} // namespace

protocols::provider_capabilities spool_submission::capabilities() {
    // What every provider in providers.md supports; a provider that still refuses one makes a delivery report.
    return {"8BITMIME", "SIZE", "PIPELINING"};
}

asio::awaitable<void> spool_submission::select_account(protocols::smtp::server& codec) {
    std::string sender = codec.sender();
    auto account = co_await relay_sender_account(settings_, session_, codec);
    if (!account) co_return;
    if (!account_ || account_->id != account->id)
        session_.info("queueing mail from <{}> for account '{}' (relay without AUTH)", sender, account->name);
    entry_->set_account(account->name);
    account_ = std::move(account);
    codec.login_result(login_outcome::ok, capabilities());
}

void spool_submission::use_account(store::account account) {
    entry_->set_account(account.name);
    account_ = std::move(account);
}

void spool_submission::release() {
    if (reserved_) spool_.release(reserved_);
    reserved_ = 0;
}

void spool_submission::reset() {
    release();
    message_.reset();
    envelope_ = {};
    declared_size_ = 0;
    over_limit_ = false;
}

void spool_submission::abort() {
    if (message_) session_.warn("message refused (bare CR/LF or over size); nothing queued");
    reset();
}

asio::awaitable<void> spool_submission::exchange(protocols::smtp::server& codec,
                                                 const protocols::transaction_step& step) {
    if (step.what == protocols::transaction_step::kind::verdict) {
        auto r = co_await finish_message();
        codec.upstream_reply(r);
        co_return;
    }
    auto verb = verb_of(step.bytes);
    if (verb == "MAIL") {
        reset();
        envelope_.mail = without_crlf(step.bytes);
        declared_size_ = declared_size(envelope_.mail);
        codec.upstream_reply(spool_.has_room(declared_size_) ? reply{250, {"2.1.0 Ok"}} : spool_full());
    } else if (verb == "RCPT") {
        envelope_.rcpt.push_back(without_crlf(step.bytes));
        codec.upstream_reply({250, {"2.1.5 Ok, queued for delivery"}});
    } else if (verb == "DATA") {
        if (!account_ || envelope_.mail.empty() || envelope_.rcpt.empty()) {
            codec.upstream_reply({503, {"5.5.1 No valid recipients"}});
            co_return;
        }
        if (!spool_.reserve(declared_size_)) {
            codec.upstream_reply(spool_full());
            co_return;
        }
        reserved_ = declared_size_;
        envelope_.account_id = account_->id;
        envelope_.account_name = account_->name;
        envelope_.received = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
        envelope_.peer = session_.peer;
        envelope_.session = session_.id;
        message_ = spool_.begin(envelope_);
        if (!message_) {
            session_.warn("cannot create a spool file in {}", spool_.directory().root().string());
            release();
            codec.upstream_reply({451, {"4.3.0 The gateway cannot queue mail right now; try again later"}});
            co_return;
        }
        codec.upstream_reply({354, {"Start mail input; end with <CRLF>.<CRLF>"}});
    } else { // RSET
        reset();
        codec.upstream_reply({250, {"2.0.0 Ok"}});
    }
}

void spool_submission::send_data(protocols::smtp::server& codec, std::string_view bytes) {
    entry_->counters().up += bytes.size();
    if (message_ && !over_limit_) {
        // Room beyond what SIZE= declared is taken as the bytes arrive.
        std::uint64_t beyond = message_->data_size() + bytes.size() > reserved_
                                   ? message_->data_size() + bytes.size() - reserved_
                                   : 0;
        if (beyond && !spool_.reserve(beyond))
            over_limit_ = true;
        else {
            reserved_ += beyond;
            if (!message_->write(bytes)) {
                session_.warn("writing the spool file failed");
                message_.reset();
            }
        }
    }
    codec.upstream_written();
}

asio::awaitable<reply> spool_submission::finish_message() {
    if (over_limit_) {
        session_.warn("account '{}': mail queue full ({} octets); message refused", account_->name,
                      spool_.policy().max_bytes);
        reset();
        co_return spool_full();
    }
    if (!message_) {
        reset();
        co_return reply{451, {"4.3.0 The gateway could not queue the message; try again later"}};
    }
    auto message = std::move(message_);
    bool durable = co_await spool_.commit(*message);
    auto size = message->data_size();
    auto recipients = envelope_.rcpt.size();
    std::uint64_t held = reserved_;
    reserved_ = 0;
    envelope_ = {};
    if (!durable) {
        spool_.release(held);
        session_.warn("account '{}': the spool file could not be made durable; answered 451", account_->name);
        co_return reply{451, {"4.3.0 The gateway could not store the message safely; try again later"}};
    }
    spool_.queued(message->queued(), held);
    session_.info("account '{}': message queued as {} ({} octets, {} recipient(s))", account_->name,
                  message->id(), size, recipients);
    co_return reply{250, {"2.0.0 Ok: queued as " + message->id()}};
}

} // namespace mailgate::proxy
