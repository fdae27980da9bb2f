// The KDF queue: shared identical checks, bounds, round-robin between client addresses, resuming on the caller.
#include "server/store/kdf_queue.hpp"
#include "server/store/password_hasher.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <thread>

using namespace mailgate::store;
namespace asio = boost::asio;

namespace {

// Slow enough (16 MiB scrypt) that a queue forms behind the one thread.
const std::string& slow_hash() {
    static const std::string h = password_hasher({.log2_n = 14, .r = 8, .p = 1}).hash("right");
    return h;
}

struct run_log {
    std::vector<std::pair<std::string, kdf_verdict>> done;
    std::thread::id resumed_on;
};

void check(asio::io_context& io, kdf_queue& q, run_log& log, std::string name, std::string key,
           std::string client, std::string password) {
    asio::co_spawn(
        io,
        [&q, &log, name, key, client, password]() -> asio::awaitable<void> {
            auto v = co_await q.async_verify(key, client, password, slow_hash(), asio::use_awaitable);
            log.done.emplace_back(name, v);
            log.resumed_on = std::this_thread::get_id();
        },
        asio::detached);
}

} // namespace

TEST(kdf_queue, identical_checks_share_one_run_and_resume_on_the_caller) {
    kdf_queue q({.threads = 1, .queued = 64, .queued_per_client = 4});
    asio::io_context io;
    run_log log;
    for (int i = 0; i < 20; ++i) check(io, q, log, "same", "k1", "192.0.2." + std::to_string(i), "right");
    check(io, q, log, "wrong", "k2", "192.0.2.1", "wrong");
    io.run();
    ASSERT_EQ(log.done.size(), 21u);
    for (auto& [name, v] : log.done)
        EXPECT_EQ(v, name == "same" ? kdf_verdict::match : kdf_verdict::mismatch);
    EXPECT_EQ(q.runs(), 2u);
    EXPECT_EQ(log.resumed_on, std::this_thread::get_id());
}

TEST(kdf_queue, bounded_per_client_and_in_total) {
    kdf_queue q({.threads = 1, .queued = 6, .queued_per_client = 3});
    asio::io_context io;
    run_log log;
    // One runs at once and at most three wait per client: of six from A, at least two are refused at once.
    for (int i = 0; i < 6; ++i) check(io, q, log, "a" + std::to_string(i), "a" + std::to_string(i), "A", "x");
    for (int i = 0; i < 6; ++i) check(io, q, log, "b" + std::to_string(i), "b" + std::to_string(i), "B", "x");
    io.run();
    int busy = 0;
    for (auto& [name, v] : log.done) busy += v == kdf_verdict::busy;
    EXPECT_GE(busy, 5);
    EXPECT_LE(q.runs(), 7u);
    EXPECT_EQ(log.done.size(), 12u);
}

TEST(kdf_queue, serves_client_addresses_in_turn) {
    kdf_queue q({.threads = 1, .queued = 64, .queued_per_client = 64});
    asio::io_context io;
    run_log log;
    for (int i = 0; i < 8; ++i) check(io, q, log, "flood", "f" + std::to_string(i), "A", "x");
    check(io, q, log, "legit", "l", "B", "right");
    io.run();
    ASSERT_EQ(log.done.size(), 9u);
    std::size_t legit_at = 0;
    for (std::size_t i = 0; i < log.done.size(); ++i)
        if (log.done[i].first == "legit") legit_at = i;
    EXPECT_LE(legit_at, 2u); // behind at most the flood's running check and its next turn, not all eight
    EXPECT_EQ(log.done[legit_at].second, kdf_verdict::match);
}
