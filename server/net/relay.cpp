// Relay implementation. While a session idles, nothing of it runs and almost nothing of it is allocated: each
// direction is one pending readiness wait (a callback, no coroutine frame) and the idle watchdog one timer wait.
// Only when bytes arrive does a direction start a short coroutine that borrows a pooled buffer for one read and
// the write that follows (backpressure: it reads again only after that write completed).
#include "server/net/relay.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <optional>
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

struct stop {
    relay_end end;
    boost::system::error_code error{};
};

struct direction {
    mail_stream& from;
    mail_stream& to;
    std::atomic<std::uint64_t>& count;
    relay_end on_eof, on_from_error, on_to_error;
};

using done_handler = asio::any_completion_handler<void(stop)>;

// The state of one relay, kept alive by the waits and transfers in flight; it reports once all have ended.
class pump_pair : public std::enable_shared_from_this<pump_pair> {
public:
    pump_pair(direction up, direction down, clock::duration idle, done_handler done)
        : up_(up), down_(down), idle_(idle), timer_(up.from.socket().get_executor()), done_(std::move(done)) {
    }

    void start() {
        wait(up_);
        wait(down_);
        watch();
    }

    // Reported from a fresh handler, not from inside the callback that dropped the last reference.
    ~pump_pair() {
        asio::post(timer_.get_executor(),
                   [done = std::move(done_), s = first_.value_or(stop{relay_end::client_closed})]() mutable {
                       std::move(done)(s);
                   });
    }

private:
    void wait(direction& d) {
        if (first_) return;
        auto self = shared_from_this();
        if (d.from.has_buffered()) {
            asio::post(timer_.get_executor(), [self, &d] { self->transfer(d); });
            return;
        }
        d.from.socket().async_wait(asio::socket_base::wait_read, [self, &d](boost::system::error_code ec) {
            if (ec) return self->finish(stop{d.on_from_error, ec});
            self->transfer(d);
        });
    }

    void transfer(direction& d) {
        if (first_) return;
        auto self = shared_from_this();
        asio::co_spawn(timer_.get_executor(), move_once(d),
                       [self, &d](std::exception_ptr, std::optional<stop> s) {
                           if (s) return self->finish(*s);
                           self->wait(d);
                       });
    }

    // One read and the write of what it got; a stop when the relay must end.
    asio::awaitable<std::optional<stop>> move_once(direction& d) {
        lent_buffer buffer;
        std::size_t n = 0;
        try {
            n = co_await d.from.read_some(asio::buffer(buffer.data.get(), transfer_size));
        } catch (const boost::system::system_error& e) {
            co_return stop{d.on_from_error, e.code()};
        }
        if (n == 0) co_return stop{d.on_eof};
        last_activity_ = clock::now();
        try {
            co_await d.to.write(asio::buffer(buffer.data.get(), n));
        } catch (const boost::system::system_error& e) {
            co_return stop{d.on_to_error, e.code()};
        }
        d.count += n;
        last_activity_ = clock::now();
        co_return std::nullopt;
    }

    void watch() {
        if (first_) return;
        timer_.expires_at(last_activity_ + idle_);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec || self->first_) return;
            if (clock::now() >= self->last_activity_ + self->idle_)
                return self->finish(stop{relay_end::idle_timeout});
            self->watch();
        });
    }

    // The first end wins; everything still waiting is cancelled and the report goes out when the last reference
    // (a cancelled wait or transfer) is gone.
    void finish(stop s) {
        if (first_) return;
        first_ = s;
        boost::system::error_code ignored;
        up_.from.socket().cancel(ignored);
        down_.from.socket().cancel(ignored);
        timer_.cancel();
    }

    direction up_, down_;
    clock::duration idle_;
    clock::time_point last_activity_ = clock::now();
    asio::steady_timer timer_;
    std::optional<stop> first_;
    done_handler done_;
};

template <class Token> auto run_pumps(direction up, direction down, clock::duration idle, Token&& token) {
    return asio::async_initiate<Token, void(stop)>(
        [](auto handler, direction up, direction down, clock::duration idle) {
            auto pair = std::make_shared<pump_pair>(up, down, idle, done_handler(std::move(handler)));
            pair->start();
        },
        token, up, down, idle);
}

} // namespace

asio::awaitable<relay_result> relay(mail_stream& client, mail_stream& upstream, std::string client_first,
                                    clock::duration idle, relay_counters& counters) {
    relay_result result{relay_end::client_closed, {}};
    if (!client_first.empty()) {
        try {
            co_await upstream.write(asio::buffer(client_first));
        } catch (const boost::system::system_error& e) {
            result.end = relay_end::upstream_error;
            result.error = e.code();
            co_return result;
        }
        counters.up += client_first.size();
        client_first = std::string();
    }
    direction up{client,
                 upstream,
                 counters.up,
                 relay_end::client_closed,
                 relay_end::client_error,
                 relay_end::upstream_error};
    direction down{upstream,
                   client,
                   counters.down,
                   relay_end::upstream_closed,
                   relay_end::upstream_error,
                   relay_end::client_error};
    auto first = co_await run_pumps(up, down, idle, asio::use_awaitable);
    result.end = first.end;
    result.error = first.error;
    result.client_to_upstream = counters.up.load();
    result.upstream_to_client = counters.down.load();
    co_return result;
}

} // namespace mailgate::net
