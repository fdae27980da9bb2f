// Answers a protocol's "service unavailable" line and closes. Serves listeners whose gateway session is not built
// yet (POP3, IMAP, SMTP and admin arrive in their own issues) and the refusal of clients outside access.allow.
#pragma once

#include "server/net/listener.hpp"

#include <string>

namespace mailgate::proxy {

class unavailable_session final : public net::session_handler {
public:
    unavailable_session(std::string unavailable_line, std::string refusal_line)
        : unavailable_(std::move(unavailable_line)), refusal_(std::move(refusal_line)) {}

    // The protocol-correct lines for a listener name (pop3/pop3s, imap/imaps, smtp/smtps, admin).
    static std::shared_ptr<unavailable_session> for_listener(const std::string& name);

    boost::asio::awaitable<void> serve(net::mail_stream& stream, const net::listener_spec& spec) override;
    boost::asio::awaitable<void> refuse(net::mail_stream& stream) override;

private:
    std::string unavailable_;
    std::string refusal_;
};

} // namespace mailgate::proxy
