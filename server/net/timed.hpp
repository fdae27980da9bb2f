// Gives any awaitable operation a deadline: on expiry the operation is cancelled and asio::error::timed_out thrown.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <memory>

namespace mailgate::net {
namespace detail {

// Shared by the timer's handler and the waiting coroutine: the handler may run after the coroutine has moved on
// (a cancelled wait still completes once).
struct deadline {
    deadline(const boost::asio::any_io_executor& executor, std::chrono::steady_clock::duration limit)
        : timer(executor, limit) {}
    boost::asio::steady_timer timer;
    boost::asio::cancellation_signal cancel;
    bool expired = false;
};

} // namespace detail

// Every session's reads and writes pass through here, so it avoids what `op || timer` costs: two spawned
// coroutines per operation and an exception for the losing timer. The timer is a plain handler that cancels the
// operation. The operation's own executor (one thread per io_context, see io_pool) runs both, so no locking.
template <class T>
boost::asio::awaitable<T> timed(boost::asio::awaitable<T> op, std::chrono::steady_clock::duration limit) {
    auto executor = co_await boost::asio::this_coro::executor;
    auto state = std::make_shared<detail::deadline>(executor, limit);
    state->timer.async_wait([state](const boost::system::error_code& ec) {
        if (ec) return;
        state->expired = true;
        state->cancel.emit(boost::asio::cancellation_type::terminal);
    });
    // The caller's own cancellation (if it has any) still reaches the operation.
    boost::asio::cancellation_state caller = co_await boost::asio::this_coro::cancellation_state;
    auto outer = caller.slot();
    if (outer.is_connected())
        outer.assign([state](boost::asio::cancellation_type type) { state->cancel.emit(type); });
    struct stop_timer {
        detail::deadline& d;
        boost::asio::cancellation_slot outer;
        ~stop_timer() {
            d.timer.cancel();
            if (outer.is_connected()) outer.clear();
        }
    } stop{*state, outer};
    try {
        co_return co_await boost::asio::co_spawn(
            executor, std::move(op),
            boost::asio::bind_cancellation_slot(state->cancel.slot(), boost::asio::use_awaitable));
    } catch (...) {
        if (state->expired) throw boost::system::system_error(boost::asio::error::timed_out);
        throw;
    }
}

} // namespace mailgate::net
