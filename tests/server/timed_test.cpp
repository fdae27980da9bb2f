// net::timed: the operation's value or its own error when it ends in time; asio::error::timed_out, with the
// operation cancelled, when it does not; and a caller's cancellation still reaches the operation.
#include "server/net/timed.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using mailgate::net::timed;

namespace {

asio::awaitable<int> after(std::chrono::milliseconds delay, int value) {
    asio::steady_timer t(co_await asio::this_coro::executor, delay);
    co_await t.async_wait(asio::use_awaitable);
    co_return value;
}

asio::awaitable<void> failing() {
    co_await after(1ms, 0);
    throw std::runtime_error("own error");
}

// Runs `work` to completion (bounded: a hang fails instead of blocking the suite).
template <class F> void run(F work) {
    asio::io_context io;
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await work();
            finished = true;
        },
        asio::detached);
    io.run_for(10s);
    EXPECT_TRUE(finished);
}

} // namespace

TEST(timed, returns_the_value_of_an_operation_that_ends_in_time) {
    run([]() -> asio::awaitable<void> {
        EXPECT_EQ(co_await timed(after(1ms, 7), 5s), 7);
        // A later timeout of the finished operation has no effect on the next one.
        EXPECT_EQ(co_await timed(after(30ms, 8), 20ms + 5s), 8);
    });
}

TEST(timed, a_slow_operation_is_cancelled_and_reported_as_timed_out) {
    run([]() -> asio::awaitable<void> {
        auto started = std::chrono::steady_clock::now();
        std::optional<boost::system::error_code> error;
        try {
            co_await timed(after(60000ms, 1), 20ms);
        } catch (const boost::system::system_error& e) {
            error = e.code();
        }
        EXPECT_EQ(error, asio::error::timed_out);
        EXPECT_LT(std::chrono::steady_clock::now() - started,
                  5s); // the 60 s wait was cancelled, not waited out
    });
}

TEST(timed, an_operations_own_error_is_rethrown_unchanged) {
    run([]() -> asio::awaitable<void> {
        std::string what;
        try {
            co_await timed(failing(), 5s);
        } catch (const std::runtime_error& e) {
            what = e.what();
        }
        EXPECT_EQ(what, "own error");
    });
}

TEST(timed, a_socket_read_that_gets_nothing_times_out_and_the_socket_stays_usable) {
    asio::io_context io;
    asio::local::stream_protocol::socket a(io), b(io);
    asio::local::connect_pair(a, b);
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            char byte = 0;
            std::optional<boost::system::error_code> error;
            try {
                co_await timed(a.async_read_some(asio::buffer(&byte, 1), asio::use_awaitable), 20ms);
            } catch (const boost::system::system_error& e) {
                error = e.code();
            }
            EXPECT_EQ(error, asio::error::timed_out);
            b.write_some(asio::buffer("x", 1));
            auto n = co_await timed(a.async_read_some(asio::buffer(&byte, 1), asio::use_awaitable), 5s);
            EXPECT_EQ(n, 1u);
            EXPECT_EQ(byte, 'x');
            finished = true;
        },
        asio::detached);
    io.run_for(10s);
    EXPECT_TRUE(finished);
}

TEST(timed, the_callers_cancellation_reaches_the_operation) {
    asio::io_context io;
    asio::cancellation_signal cancel;
    std::optional<boost::system::error_code> error;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                co_await timed(after(60000ms, 1), 60s);
            } catch (const boost::system::system_error& e) {
                error = e.code();
            }
        },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    asio::steady_timer later(io, 20ms);
    later.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
    io.run_for(10s);
    EXPECT_EQ(error, asio::error::operation_aborted);
}
