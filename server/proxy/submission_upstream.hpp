// The provider half of an SMTP submission session: the account's provider session (SMTP client codec over
// verified TLS) that each transaction step of the smtp::server codec is re-originated on, and the answers that
// go back to the codec. It logs in again after a refused message dropped the provider session.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/smtp/server.hpp"
#include "server/net/connection_limits.hpp"
#include "server/proxy/activity.hpp"
#include "server/proxy/login_flow.hpp"
#include "server/proxy/sent_copy.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace mailgate::proxy {

class submission_upstream {
public:
    submission_upstream(const gateway_settings& settings, std::chrono::seconds data_timeout,
                        const session_context& session, live_session& entry, net::connection_slot& slot)
        : settings_(settings), data_timeout_(data_timeout), session_(session), entry_(entry), slot_(slot) {}

    // `authenticate`: the client's AUTH, checked and logged in upstream.
    boost::asio::awaitable<void> authenticate(protocols::smtp::server& codec);
    // `select_account`: MAIL without AUTH from a relay network; the sender picks the account.
    boost::asio::awaitable<void> select_account(protocols::smtp::server& codec);
    // `command` and `verdict`: one provider reply, reported to the codec.
    boost::asio::awaitable<void> exchange(protocols::smtp::server& codec,
                                          const protocols::transaction_step& step);
    // `data`: one chunk of the message written to the provider.
    boost::asio::awaitable<void> send_data(protocols::smtp::server& codec, std::string_view bytes);
    // `abort`: the provider must never complete this message: its session is dropped without QUIT.
    void abort();
    // QUIT at the provider (on the client's QUIT, STARTTLS, or a change of account).
    boost::asio::awaitable<void> quit();
    // Without QUIT: the session ends on an error, and a transaction must not complete at the provider.
    void drop();
    // From outside the session's flow (the admin closes it): close the connection only; the session coroutine
    // fails out of whatever it is doing with it.
    void close_connection();

private:
    void adopt(login_result& r);
    protocols::smtp::client& client() { return *codec_.smtp(); } // an SMTP login gives an SMTP codec
    std::string_view account_name() const { return account_ ? std::string_view(account_->name) : "?"; }

    const gateway_settings& settings_;
    std::chrono::seconds data_timeout_;
    const session_context& session_;
    live_session& entry_;
    net::connection_slot& slot_;
    std::unique_ptr<net::upstream_connection> connection_;
    client_codec codec_;
    std::optional<store::account> account_;
    std::uint64_t messages_ = 0;
    bool in_data_ = false;                 // DATA chunks of the current message are going out
    std::unique_ptr<sent_copy_file> copy_; // its Sent copy, when the account keeps one
};

} // namespace mailgate::proxy
