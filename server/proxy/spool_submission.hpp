// The spooled half of an SMTP submission session (smtp.spool): the transaction steps of the smtp::server codec
// are answered by the gateway itself, the DATA bytes go to a spool file, and the client hears 250 for the end of
// data only after spool::incoming_message::commit() made the message durable. Delivery is spool_service's.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/smtp/server.hpp"
#include "server/net/connection_limits.hpp"
#include "server/proxy/activity.hpp"
#include "server/proxy/session_context.hpp"
#include "server/proxy/spool_service.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>

namespace mailgate::proxy {

class spool_submission {
public:
    spool_submission(spool_service& spool, const gateway_settings& settings, const session_context& session,
                     live_session& entry)
        : spool_(spool), settings_(settings), session_(session), entry_(entry) {}
    ~spool_submission() { release(); }
    spool_submission(const spool_submission&) = delete;

    // What the codec may offer for a spooled transaction (the provider is not asked now).
    static protocols::provider_capabilities capabilities();

    // `select_account` (relay without AUTH): the sender picks the account; none -> "not allowed".
    boost::asio::awaitable<void> select_account(protocols::smtp::server& codec);
    // An authenticated client's account (smtp.spool = all).
    void use_account(store::account account);
    bool has_account() const { return account_.has_value(); }
    // `command` and `verdict`: answered here.
    boost::asio::awaitable<void> exchange(protocols::smtp::server& codec,
                                          const protocols::transaction_step& step);
    // `data`: one chunk into the spool file.
    void send_data(protocols::smtp::server& codec, std::string_view bytes);
    // `abort`: the message never becomes queued.
    void abort();

private:
    boost::asio::awaitable<protocols::smtp::reply> finish_message();
    void release();
    void reset();

    spool_service& spool_;
    const gateway_settings& settings_;
    const session_context& session_;
    live_session& entry_;
    std::optional<store::account> account_;
    spool::envelope envelope_;
    std::unique_ptr<spool::incoming_message> message_;
    std::uint64_t declared_size_ = 0; // MAIL ... SIZE=
    bool over_limit_ = false;         // the spool filled up during DATA: the end of data gets 452
    std::uint64_t reserved_ = 0;      // spool room held for the message being received
};

} // namespace mailgate::proxy
