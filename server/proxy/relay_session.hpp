// A POP3 or IMAP gateway session: speaks the protocol until login (its server codec), logs in at the provider,
// then relays bytes (server/proxy/session_driver.hpp). pop3_session.cpp and imap_session.cpp supply each one's
// codec settings and refusal line.
#pragma once

#include "server/domain/endpoint.hpp"
#include "server/net/listener.hpp"
#include "server/proxy/gateway_settings.hpp"

namespace mailgate::proxy {

template <domain::mail_protocol Protocol> class relay_session final : public net::session_handler {
public:
    explicit relay_session(gateway_settings settings) : settings_(std::move(settings)) {}

    boost::asio::awaitable<void> serve(net::mail_stream& stream, const net::listener_spec& spec,
                                       net::connection_slot& slot) override;
    std::string_view refusal_line(net::refusal why) const override;

private:
    gateway_settings settings_;
};

using pop3_session = relay_session<domain::mail_protocol::pop3>;
using imap_session = relay_session<domain::mail_protocol::imap>;

// Defined in pop3_session.cpp and imap_session.cpp.
template <>
boost::asio::awaitable<void> pop3_session::serve(net::mail_stream&, const net::listener_spec&,
                                                 net::connection_slot&);
template <> std::string_view pop3_session::refusal_line(net::refusal why) const;
template <>
boost::asio::awaitable<void> imap_session::serve(net::mail_stream&, const net::listener_spec&,
                                                 net::connection_slot&);
template <> std::string_view imap_session::refusal_line(net::refusal why) const;

} // namespace mailgate::proxy
