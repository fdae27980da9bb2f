// Off-thread authentication with the credential cache.
#include "server/store/store_service.hpp"

#include "temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <thread>

using namespace mailgate;
using namespace mailgate::store;

TEST(store_service, authenticates_off_the_io_thread) {
    temp_dir tmp;
    account_repository repo(tmp.data(), password_hasher({.log2_n = 10, .r = 8, .p = 1}));
    new_account a{"office",
                  "scanner",
                  "local-pw",
                  "r@example.com",
                  "secret",
                  "custom",
                  {*domain::parse_upstream_url("imaps://imap.example.com")},
                  {}};
    ASSERT_TRUE(repo.create(a));
    boost::asio::thread_pool pool(1);
    store_service service(repo, pool);
    boost::asio::io_context io;
    std::vector<local_check> results;
    std::thread::id io_thread = std::this_thread::get_id(), ran_on;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            auto first = co_await service.authenticate("scanner", "local-pw", "192.0.2.1");
            EXPECT_TRUE(first.record && first.record->name == "office");
            EXPECT_TRUE(first.known_user);
            results.push_back(first.verdict);
            results.push_back(
                (co_await service.authenticate("scanner", "local-pw", "192.0.2.1")).verdict); // cached
            results.push_back((co_await service.authenticate("scanner", "wrong", "192.0.2.1")).verdict);
            results.push_back(
                (co_await service.authenticate("scanner", "wrong", "192.0.2.2")).verdict); // known bad
            auto ghost = co_await service.authenticate("ghost", "local-pw", "192.0.2.1");
            EXPECT_FALSE(ghost.known_user);
            results.push_back(ghost.verdict);
            ran_on = co_await service.run([](account_repository&) { return std::this_thread::get_id(); });
            EXPECT_EQ(std::this_thread::get_id(), io_thread); // resumed on the I/O thread
        },
        boost::asio::detached);
    io.run();
    pool.join();
    EXPECT_EQ(results, (std::vector<local_check>{local_check::ok, local_check::ok, local_check::wrong,
                                                 local_check::repeated_wrong, local_check::wrong}));
    EXPECT_NE(ran_on, io_thread);
}
