// Speculative provider connect during the local check.
#include "server/proxy/early_connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mailgate::proxy {

namespace asio = boost::asio;

void early_connection::start(asio::ssl::context& tls, const domain::upstream_endpoint& endpoint,
                             std::chrono::seconds timeout) {
    if (started_) return;
    started_ = true;
    endpoint_ = endpoint;
    connection_ = std::make_unique<net::upstream_connection>(ready_.get_executor(), tls);
    asio::co_spawn(ready_.get_executor(), connect(shared_from_this(), timeout), asio::detached);
}

asio::awaitable<void> early_connection::connect(std::shared_ptr<early_connection> self,
                                                std::chrono::seconds timeout) {
    auto failure = co_await self->connection_->open(self->endpoint_, timeout);
    self->done_ = true;
    if (failure || self->abandoned_) self->connection_.reset();
    self->ready_.cancel();
}

asio::awaitable<std::unique_ptr<net::upstream_connection>>
early_connection::take(const domain::upstream_endpoint& endpoint) {
    if (!started_) co_return nullptr;
    while (!done_) {
        ready_.expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ignored;
        co_await ready_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (endpoint.url() != endpoint_.url()) co_return nullptr;
    co_return std::move(connection_);
}

void early_connection::abandon() {
    abandoned_ = true;
    if (connection_) connection_->close(); // an open in progress fails at once; its coroutine then frees it
    if (done_) connection_.reset();
}

} // namespace mailgate::proxy
