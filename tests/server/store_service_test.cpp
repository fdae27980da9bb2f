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
    account_repository repo(tmp.data(), tmp.store(), password_hasher({.log2_n = 10, .r = 8, .p = 1}));
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

namespace {

const password_hasher cheap_hasher({.log2_n = 10, .r = 8, .p = 1});

new_account office_account() {
    return {"office",
            "scanner",
            "local-pw",
            "r@example.com",
            "provider-pw",
            "custom",
            {*domain::parse_upstream_url("imaps://imap.example.com")},
            {}};
}

// A repository with the office account and a store service on a one-thread pool; run() runs a coroutine on an
// I/O context of its own.
struct service_rig {
    temp_dir tmp;
    account_repository repo{tmp.data(), tmp.store(), cheap_hasher};
    boost::asio::thread_pool pool{1};
    store_service service{repo, pool};

    service_rig() { EXPECT_TRUE(repo.create(office_account())); }
    template <class F> void run(F body) {
        boost::asio::io_context io;
        boost::asio::co_spawn(io, body, boost::asio::detached);
        io.run();
        pool.join();
    }
};

} // namespace

TEST(store_service, writes_through_this_process_are_seen_by_the_next_login_at_once) {
    service_rig rig;
    auto& [tmp, repo, pool, service] = rig;
    rig.run([&]() -> boost::asio::awaitable<void> {
        auto record = (co_await service.authenticate("scanner", "local-pw", "192.0.2.1")).record;
        EXPECT_TRUE(record && record->enabled);
        EXPECT_EQ(co_await service.remote_secret(*record), "provider-pw");
        // Served from memory now; every change below goes through the same repository and must show at once.
        EXPECT_TRUE(repo.set_enabled("office", false));
        auto disabled = co_await service.authenticate("scanner", "local-pw", "192.0.2.1");
        EXPECT_TRUE(disabled.record && !disabled.record->enabled);
        EXPECT_TRUE(repo.set_remote_secret("office", "new-provider-pw"));
        EXPECT_EQ(co_await service.remote_secret(*record), "new-provider-pw");
        EXPECT_TRUE(repo.set_local_password("office", "new-local-pw"));
        EXPECT_EQ((co_await service.authenticate("scanner", "local-pw", "192.0.2.1")).verdict,
                  local_check::wrong);
        EXPECT_EQ((co_await service.authenticate("scanner", "new-local-pw", "192.0.2.1")).verdict,
                  local_check::ok);
        EXPECT_TRUE(repo.remove("office"));
        EXPECT_FALSE((co_await service.authenticate("scanner", "new-local-pw", "192.0.2.1")).known_user);
    });
}

TEST(store_service, another_processes_changes_are_seen_within_two_seconds) {
    service_rig rig;
    auto& [tmp, repo, pool, service] = rig;
    rig.run([&]() -> boost::asio::awaitable<void> {
        EXPECT_EQ((co_await service.authenticate("scanner", "local-pw", "192.0.2.1")).verdict,
                  local_check::ok);
        {
            // Another connection to the same database, as the CLI has.
            account_repository cli(tmp.data(), tmp.store(), cheap_hasher);
            EXPECT_TRUE(cli.set_local_password("office", "changed-pw"));
        }
        auto before = repo.generation();
        std::this_thread::sleep_for(std::chrono::milliseconds(2100));
        EXPECT_EQ((co_await service.authenticate("scanner", "local-pw", "192.0.2.1")).verdict,
                  local_check::wrong);
        EXPECT_NE(repo.generation(), before);
        EXPECT_EQ((co_await service.authenticate("scanner", "changed-pw", "192.0.2.1")).verdict,
                  local_check::ok);
    });
}

TEST(account_repository, generation_follows_writes_that_a_login_reads) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap_hasher);
    auto created = repo.create(office_account());
    ASSERT_TRUE(created);
    auto g = repo.generation();
    EXPECT_TRUE(repo.set_enabled("office", false));
    EXPECT_NE(repo.generation(), g);
    g = repo.generation();
    EXPECT_TRUE(repo.set_remote_secret("office", "x"));
    EXPECT_NE(repo.generation(), g);
    g = repo.generation();
    repo.notice_external_changes(); // nothing from elsewhere
    repo.notice_external_changes();
    auto quiet = repo.generation();
    EXPECT_EQ(repo.generation(), quiet);
    {
        account_repository other(tmp.data(), tmp.store(), cheap_hasher);
        EXPECT_TRUE(other.set_enabled("office", true));
    }
    EXPECT_EQ(repo.generation(), quiet); // not seen until looked for
    // SQLite: at the first look. PostgreSQL: when the commit's notification has arrived, a moment later.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    do {
        repo.notice_external_changes();
        if (repo.generation() != quiet) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_NE(repo.generation(), quiet);
}
