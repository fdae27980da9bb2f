// An IMAP gateway session: speaks IMAP until login (imap::server codec), logs in at the provider, then relays.
#pragma once

#include "server/net/listener.hpp"
#include "server/proxy/gateway_settings.hpp"

namespace mailgate::proxy {

class imap_session final : public net::session_handler {
public:
    explicit imap_session(gateway_settings settings) : settings_(std::move(settings)) {}

    boost::asio::awaitable<void> serve(net::mail_stream& stream, const net::listener_spec& spec,
                                       net::connection_slot& slot) override;
    std::string_view refusal_line(net::refusal why) const override;

private:
    gateway_settings settings_;
};

} // namespace mailgate::proxy
