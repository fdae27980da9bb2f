// Relay implementation with a small per-thread pool of transfer buffers.
#include "server/net/relay.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <vector>

namespace mailgate::net {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

std::string_view to_string(relay_end e) {
    switch (e) {
    case relay_end::client_closed: return "client closed";
    case relay_end::upstream_closed: return "provider closed";
    case relay_end::idle_timeout: return "idle timeout";
    case relay_end::client_error: return "client connection failed";
    case relay_end::upstream_error: return "provider connection failed";
    }
    return "?";
}

namespace {

// 16 KiB: one TLS record. Buffers are lent only for the duration of one read+write.
constexpr std::size_t transfer_size = 16 * 1024;
constexpr std::size_t pool_keep = 64;

struct buffer_pool {
    std::vector<std::unique_ptr<char[]>> free;
    static buffer_pool& local() {
        thread_local buffer_pool pool;
        return pool;
    }
};

struct lent_buffer {
    std::unique_ptr<char[]> data;
    lent_buffer() {
        auto& pool = buffer_pool::local().free;
        if (pool.empty()) {
            data = std::make_unique_for_overwrite<char[]>(transfer_size);
        } else {
            data = std::move(pool.back());
            pool.pop_back();
        }
    }
    ~lent_buffer() {
        auto& pool = buffer_pool::local().free;
        if (pool.size() < pool_keep) pool.push_back(std::move(data));
    }
};

struct direction {
    mail_stream& from;
    mail_stream& to;
    std::atomic<std::uint64_t>& count;
    clock::time_point& last_activity;
    relay_end on_eof, on_from_error, on_to_error;
};

struct stop {
    relay_end end;
    boost::system::error_code error{};
};

// Never throws: `||` waits for the first *successful* branch, so errors are returned as values.
asio::awaitable<stop> pump(direction d) {
    for (;;) {
        try {
            co_await d.from.wait_readable();
        } catch (const boost::system::system_error& e) {
            co_return stop{d.on_from_error, e.code()};
        }
        lent_buffer buffer;
        std::size_t n = 0;
        try {
            n = co_await d.from.read_some(asio::buffer(buffer.data.get(), transfer_size));
        } catch (const boost::system::system_error& e) {
            co_return stop{d.on_from_error, e.code()};
        }
        if (n == 0) co_return stop{d.on_eof};
        d.last_activity = clock::now();
        try {
            co_await d.to.write(asio::buffer(buffer.data.get(), n));
        } catch (const boost::system::system_error& e) {
            co_return stop{d.on_to_error, e.code()};
        }
        d.count += n;
        d.last_activity = clock::now();
    }
}

asio::awaitable<stop> watchdog(clock::time_point& last_activity, clock::duration idle) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        timer.expires_at(last_activity + idle);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return stop{relay_end::idle_timeout}; // cancelled: another branch finished first
        if (clock::now() >= last_activity + idle) co_return stop{relay_end::idle_timeout};
    }
}

} // namespace

asio::awaitable<relay_result> relay(mail_stream& client, mail_stream& upstream, std::string client_first,
                                    clock::duration idle, relay_counters& counters) {
    using namespace asio::experimental::awaitable_operators;
    relay_result result{relay_end::client_closed};
    if (!client_first.empty()) {
        try {
            co_await upstream.write(asio::buffer(client_first));
        } catch (const boost::system::system_error& e) {
            result.end = relay_end::upstream_error;
            result.error = e.code();
            co_return result;
        }
        counters.up += client_first.size();
    }
    auto last_activity = clock::now();
    direction up{client,
                 upstream,
                 counters.up,
                 last_activity,
                 relay_end::client_closed,
                 relay_end::client_error,
                 relay_end::upstream_error};
    direction down{upstream,
                   client,
                   counters.down,
                   last_activity,
                   relay_end::upstream_closed,
                   relay_end::upstream_error,
                   relay_end::client_error};
    auto first = co_await (pump(up) || pump(down) || watchdog(last_activity, idle));
    std::visit(
        [&](const stop& s) {
            result.end = s.end;
            result.error = s.error;
        },
        first);
    result.client_to_upstream = counters.up.load();
    result.upstream_to_client = counters.down.load();
    co_return result;
}

} // namespace mailgate::net
