// The LAN-side TLS context, replaceable while the gateway runs (new certificates on SIGHUP or from the admin page).
// A connection takes the current context when its handshake starts; connections already in TLS keep theirs (each
// SSL object holds a reference to its SSL_CTX), so a reload drops no session.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <memory>

namespace mailgate::net {

class server_tls {
public:
    explicit server_tls(std::shared_ptr<boost::asio::ssl::context> initial) : context_(std::move(initial)) {}

    std::shared_ptr<boost::asio::ssl::context> current() const { return context_.load(); }
    void replace(std::shared_ptr<boost::asio::ssl::context> next) { context_.store(std::move(next)); }

private:
    std::atomic<std::shared_ptr<boost::asio::ssl::context>> context_;
};

} // namespace mailgate::net
