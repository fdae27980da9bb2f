// Gives any awaitable operation a deadline: on expiry the operation is cancelled and asio::error::timed_out thrown.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>

namespace mailgate::net {

template <class T> boost::asio::awaitable<T> timed(boost::asio::awaitable<T> op, std::chrono::steady_clock::duration limit) {
    using namespace boost::asio::experimental::awaitable_operators;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
    auto result = co_await (std::move(op) || timer.async_wait(boost::asio::use_awaitable));
    if (result.index() == 1) throw boost::system::system_error(boost::asio::error::timed_out);
    if constexpr (!std::is_void_v<T>) co_return std::move(std::get<0>(result));
}

} // namespace mailgate::net
