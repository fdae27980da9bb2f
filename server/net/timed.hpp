// Gives any awaitable operation a deadline: on expiry the operation is cancelled and asio::error::timed_out thrown.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <exception>
#include <optional>

namespace mailgate::net {
namespace detail {

template <class T> struct outcome {
    std::exception_ptr error;
    std::optional<T> value;
};
template <> struct outcome<void> { std::exception_ptr error; };

// `a || b` waits for the first *success*; a failing operation would leave us waiting for the timer, so failures
// are turned into values here and rethrown by timed().
template <class T> boost::asio::awaitable<outcome<T>> capture(boost::asio::awaitable<T> op) {
    outcome<T> out;
    try {
        if constexpr (std::is_void_v<T>)
            co_await std::move(op);
        else
            out.value.emplace(co_await std::move(op));
    } catch (...) {
        out.error = std::current_exception();
    }
    co_return out;
}

} // namespace detail

template <class T>
boost::asio::awaitable<T> timed(boost::asio::awaitable<T> op, std::chrono::steady_clock::duration limit) {
    using namespace boost::asio::experimental::awaitable_operators;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
    auto result = co_await (detail::capture(std::move(op)) || timer.async_wait(boost::asio::use_awaitable));
    if (result.index() == 1) throw boost::system::system_error(boost::asio::error::timed_out);
    auto& out = std::get<0>(result);
    if (out.error) std::rethrow_exception(out.error);
    if constexpr (!std::is_void_v<T>) co_return std::move(*out.value);
}

} // namespace mailgate::net
