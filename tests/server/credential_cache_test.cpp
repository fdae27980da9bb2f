// The local-login cache: hits only for the same user, password and stored hash, until the entry expires.
#include "server/store/credential_cache.hpp"

#include <gtest/gtest.h>

#include <thread>

using mailgate::store::credential_cache;

TEST(credential_cache, remembers_exact_triple_only) {
    credential_cache cache;
    EXPECT_FALSE(cache.contains("alice", "pw", "$h1"));
    cache.remember("alice", "pw", "$h1");
    EXPECT_TRUE(cache.contains("alice", "pw", "$h1"));
    EXPECT_TRUE(cache.contains("ALICE", "pw", "$h1")); // local users are case-insensitive
    EXPECT_FALSE(cache.contains("alice", "pw2", "$h1"));
    EXPECT_FALSE(cache.contains("alice", "pw", "$h2")); // password changed -> new hash -> miss
    EXPECT_FALSE(cache.contains("alicep", "w", "$h1"));
    cache.clear();
    EXPECT_FALSE(cache.contains("alice", "pw", "$h1"));
}

TEST(credential_cache, entries_expire) {
    credential_cache cache(std::chrono::seconds(1));
    cache.remember("bob", "pw", "$h");
    EXPECT_TRUE(cache.contains("bob", "pw", "$h"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    EXPECT_FALSE(cache.contains("bob", "pw", "$h"));
}

TEST(credential_cache, bounded_size) {
    credential_cache cache(std::chrono::seconds(60), 4);
    for (int i = 0; i < 10; ++i) cache.remember("user" + std::to_string(i), "pw", "$h");
    EXPECT_TRUE(cache.contains("user9", "pw", "$h"));
}
