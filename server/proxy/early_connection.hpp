// The provider connection opened while the local password check (the KDF) runs: TCP and, for implicit TLS, the
// verified handshake, so a login that passes the local check pays only the provider login itself. Nothing of the
// provider credential is fetched or sent before the local check succeeded; when it fails the connection is dropped.
#pragma once

#include "server/domain/endpoint.hpp"
#include "server/net/upstream_connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>

namespace mailgate::proxy {

class early_connection : public std::enable_shared_from_this<early_connection> {
public:
    explicit early_connection(boost::asio::any_io_executor executor) : ready_(executor) {}

    // Starts connecting to `endpoint` (at most once).
    void start(boost::asio::ssl::context& tls, const domain::upstream_endpoint& endpoint,
               std::chrono::seconds timeout);
    // The connection, once open, if it was started for `endpoint` and opened without failure; else null (the
    // caller then connects itself, with its own reporting).
    boost::asio::awaitable<std::unique_ptr<net::upstream_connection>>
    take(const domain::upstream_endpoint& endpoint);
    // The local check failed: close whatever was opened.
    void abandon();

private:
    static boost::asio::awaitable<void> connect(std::shared_ptr<early_connection> self,
                                                std::chrono::seconds timeout);

    boost::asio::steady_timer ready_; // cancelled when the attempt ends
    std::unique_ptr<net::upstream_connection> connection_;
    domain::upstream_endpoint endpoint_{};
    bool started_ = false, done_ = false, abandoned_ = false; // a failed attempt leaves connection_ null
};

} // namespace mailgate::proxy
