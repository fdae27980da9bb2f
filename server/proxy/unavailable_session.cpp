// Protocol-correct "unavailable" and "refused" replies.
#include "server/proxy/unavailable_session.hpp"

#include "server/net/timed.hpp"

#include <boost/asio/buffer.hpp>

namespace mailgate::proxy {

std::shared_ptr<unavailable_session> unavailable_session::for_listener(const std::string& name) {
    if (name.starts_with("pop3"))
        return std::make_shared<unavailable_session>("-ERR [SYS/TEMP] mailgate: POP3 service not available\r\n",
                                                     "-ERR [AUTH] mailgate: your network is not allowed\r\n");
    if (name.starts_with("imap"))
        return std::make_shared<unavailable_session>("* BYE [UNAVAILABLE] mailgate: IMAP service not available\r\n",
                                                     "* BYE [UNAVAILABLE] mailgate: your network is not allowed\r\n");
    if (name.starts_with("smtp"))
        return std::make_shared<unavailable_session>("421 4.3.2 mailgate: SMTP service not available\r\n",
                                                     "554 5.7.1 mailgate: your network is not allowed\r\n");
    return std::make_shared<unavailable_session>(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 31\r\nConnection: close\r\n\r\n"
        "mailgate: admin not available\r\n",
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 41\r\nConnection: close\r\n\r\n"
        "mailgate: your network is not allowed\r\n\r\n");
}

boost::asio::awaitable<void> unavailable_session::serve(net::mail_stream& stream, const net::listener_spec&) {
    co_await net::timed(stream.write(boost::asio::buffer(unavailable_)), std::chrono::seconds(10));
}

boost::asio::awaitable<void> unavailable_session::refuse(net::mail_stream& stream) {
    co_await net::timed(stream.write(boost::asio::buffer(refusal_)), std::chrono::seconds(10));
}

} // namespace mailgate::proxy
