// An SMTP submission session: speaks SMTP to the client (smtp::server codec) and re-originates every transaction
// at the provider (smtp::client codec over verified TLS), streaming DATA through - or, where smtp.spool says so,
// queues it durably for later delivery (proxy/spool_submission.hpp).
#pragma once

#include "server/net/cidr.hpp"
#include "server/net/listener.hpp"
#include "server/proxy/gateway_settings.hpp"
#include "server/proxy/spool_service.hpp"

namespace mailgate::proxy {

struct smtp_settings {
    const net::cidr_list& relay_without_auth;
    std::chrono::seconds command_timeout{300};
    std::chrono::seconds data_timeout{180};
    std::uint64_t max_message_size = 50ull * 1024 * 1024;
    spool_service* spool = nullptr; // smtp.spool: which transactions queue instead (null: none)
    bool normalize_bare_lf = false; // smtp.bare_lf = normalize (protocols/smtp/server.hpp says the risk)
};

class smtp_session final : public net::session_handler {
public:
    smtp_session(gateway_settings settings, smtp_settings smtp)
        : settings_(std::move(settings)), smtp_(smtp) {}

    boost::asio::awaitable<void> serve(net::mail_stream& stream, const net::listener_spec& spec,
                                       net::connection_slot& slot) override;
    std::string_view refusal_line(net::refusal why) const override;

private:
    gateway_settings settings_;
    smtp_settings smtp_;
};

} // namespace mailgate::proxy
