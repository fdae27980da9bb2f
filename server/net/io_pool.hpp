// One io_context per thread, each session pinned to one of them: a session's I/O never hops between threads
// (with one shared io_context every completion could wake the other thread — measured as three futex handoffs per
// relayed 16 KiB on a 2-core machine).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <vector>

namespace mailgate::net {

class io_pool {
public:
    explicit io_pool(std::size_t threads);

    // Acceptors, signals and timers of the process itself.
    boost::asio::io_context& main() { return *contexts_.front(); }
    // The context for the next new connection (round robin).
    boost::asio::any_io_executor next();

    // Runs every context on its own thread (the caller's thread runs the first); returns when all have stopped.
    void run();
    void stop();

private:
    using guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
    std::vector<guard> guards_;
    std::atomic<std::size_t> next_{0};
};

} // namespace mailgate::net
