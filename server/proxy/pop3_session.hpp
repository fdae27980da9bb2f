// A POP3 gateway session: speaks POP3 until login (pop3::server codec), logs in at the provider, then relays.
#pragma once

#include "server/net/listener.hpp"
#include "server/proxy/gateway_settings.hpp"

namespace mailgate::proxy {

class pop3_session final : public net::session_handler {
public:
    explicit pop3_session(gateway_settings settings) : settings_(std::move(settings)) {}

    boost::asio::awaitable<void> serve(net::mail_stream& stream, const net::listener_spec& spec,
                                       net::connection_slot& slot) override;
    std::string_view refusal_line(net::refusal why) const override;

private:
    gateway_settings settings_;
};

} // namespace mailgate::proxy
