// The provider half of an SMTP submission session.
#include "server/proxy/submission_upstream.hpp"

#include "server/net/timed.hpp"

#include <boost/asio/this_coro.hpp>

namespace mailgate::proxy {

namespace asio = boost::asio;
using protocols::login_outcome;

namespace {

// RFC 5321 §4.5.3.2: how long to wait for the provider's replies.
constexpr std::chrono::seconds command_reply_timeout{300};
constexpr std::chrono::seconds data_end_reply_timeout{600};

std::chrono::steady_clock::duration reply_deadline(protocols::read_deadline d) {
    return d == protocols::read_deadline::data_verdict ? data_end_reply_timeout : command_reply_timeout;
}

} // namespace

void submission_upstream::adopt(login_result& r) {
    connection_ = std::move(r.upstream);
    codec_ = std::move(r.codec);
    account_ = std::move(r.record);
    entry_->set_account(account_->name);
}

void submission_upstream::drop() {
    copy_.reset();
    in_data_ = false;
    if (connection_) connection_->close();
    connection_.reset();
    codec_.reset();
}

void submission_upstream::close_connection() {
    if (connection_) connection_->close();
}

asio::awaitable<void> submission_upstream::quit() {
    if (connection_) {
        codec_->logout();
        co_await connection_->drive(*codec_, net::upstream_step::logout, std::chrono::seconds(10));
    }
    drop();
}

asio::awaitable<void> submission_upstream::authenticate(protocols::smtp::server& codec) {
    std::string password = codec.password();
    auto r = co_await gateway_login(settings_, session_, domain::mail_protocol::smtp, codec.user(), password,
                                    codec.proof());
    if (!r.ok()) {
        codec.login_result(client_outcome(r));
        co_return;
    }
    adopt(r);
    slot_.logged_in();
    codec.login_result(login_outcome::ok, codec_->post_login_capabilities());
}

asio::awaitable<void> submission_upstream::select_account(protocols::smtp::server& codec) {
    std::string sender = codec.sender();
    auto account = co_await relay_sender_account(settings_, session_, codec);
    if (!account) co_return;
    slot_.logged_in(); // a relay network's sender with a known account: past the stranger phase
    if (connection_ && account_ && account_->id == account->id) {
        codec.login_result(login_outcome::ok, codec_->post_login_capabilities());
        co_return;
    }
    co_await quit();
    auto r = co_await open_provider_session(settings_, session_, domain::mail_protocol::smtp, *account);
    if (!r.ok()) {
        // The sender's local side is right whatever the provider said: never "no such account".
        auto outcome = client_outcome(r);
        codec.login_result(outcome == login_outcome::bad_credentials ? login_outcome::provider_perm
                                                                     : outcome);
        co_return;
    }
    adopt(r);
    session_.info("sending as <{}> through account '{}' (relay without AUTH)", sender, account->name);
    codec.login_result(login_outcome::ok, codec_->post_login_capabilities());
}

asio::awaitable<void> submission_upstream::exchange(protocols::smtp::server& codec,
                                                    const protocols::transaction_step& step) {
    if (!connection_ && account_) { // dropped after a refused message: log in again
        auto r = co_await open_provider_session(settings_, session_, domain::mail_protocol::smtp, *account_);
        if (r.ok()) adopt(r);
    }
    if (!connection_) {
        codec.upstream_failed();
        co_return;
    }
    bool verdict = step.what == protocols::transaction_step::kind::verdict;
    if (verdict)
        client().await_verdict();
    else
        client().transact(std::string(step.bytes));
    if (auto failure = co_await connection_->drive(*codec_, net::upstream_step::login, reply_deadline)) {
        session_.warn("account '{}': provider connection failed: {}", account_name(), failure->reason);
        drop();
        codec.upstream_failed();
        co_return;
    }
    const auto& reply = client().last_reply();
    if (verdict) {
        session_.info("account '{}': message {}: provider said {} {}", account_name(), ++messages_,
                      reply.code, reply.lines.empty() ? "" : reply.lines.back().substr(0, 120));
        in_data_ = false;
        if (reply.code / 100 == 2) settings_.live.count_message();
        std::filesystem::path path;
        std::uint64_t size = 0;
        if (copy_ && reply.code / 100 == 2 && copy_->finish(path, size)) {
            auto executor = co_await asio::this_coro::executor; // not inside the call: GCC 12 coroutine bugs
            send_sent_copy(executor, settings_, *account_, session_.id, std::string(session_.peer),
                           std::move(path), size);
        }
        copy_.reset();
    }
    codec.upstream_reply(reply);
}

asio::awaitable<void> submission_upstream::send_data(protocols::smtp::server& codec, std::string_view bytes) {
    try {
        if (!connection_) throw boost::system::system_error(asio::error::not_connected);
        if (!in_data_) {
            in_data_ = true;
            // A copy needs the account's IMAP endpoint; an SMTP-only account (a scanner's) gets none.
            if (!settings_.sent_spool.empty() && account_ &&
                account_->endpoints.contains(domain::mail_protocol::imap) &&
                domain::saves_sent_copy(account_->mailbox, account_->provider)) {
                copy_ = sent_copy_file::create(settings_.sent_spool);
                if (!copy_)
                    session_.warn("account '{}': no Sent copy: cannot create a spool file", account_name());
            }
        }
        if (copy_ && !copy_->write(bytes)) {
            session_.warn("account '{}': no Sent copy: writing the spool file failed", account_name());
            copy_.reset();
        }
        co_await net::timed(connection_->stream().write(asio::buffer(bytes)), data_timeout_);
        entry_->counters().up += bytes.size();
        codec.upstream_written();
    } catch (const boost::system::system_error& e) {
        session_.warn("provider connection failed during DATA: {}", e.code().message());
        drop();
        codec.upstream_failed();
    }
}

void submission_upstream::abort() {
    copy_.reset();
    session_.warn("message refused (bare CR/LF or over size); provider transaction dropped");
    drop();
}

} // namespace mailgate::proxy
