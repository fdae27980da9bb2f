// Client network lists.
#include "server/net/cidr.hpp"

#include <gtest/gtest.h>

using mailgate::net::cidr_list;

TEST(cidr, matches_ipv4_prefixes) {
    auto list = cidr_list::parse("10.0.0.0/8, 192.168.1.0/24 172.16.0.0/12");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->contains("10.255.1.2"));
    EXPECT_TRUE(list->contains("192.168.1.77"));
    EXPECT_FALSE(list->contains("192.168.2.1"));
    EXPECT_TRUE(list->contains("172.31.255.255"));
    EXPECT_FALSE(list->contains("172.32.0.1"));
    EXPECT_FALSE(list->contains("8.8.8.8"));
}

TEST(cidr, ipv4_mapped_ipv6_peers_match_ipv4_prefixes) {
    auto list = cidr_list::parse("127.0.0.0/8");
    EXPECT_TRUE(list->contains("::ffff:127.0.0.1"));
    EXPECT_FALSE(list->contains("::1"));
}

TEST(cidr, ipv6_prefixes_and_bare_addresses) {
    auto list = cidr_list::parse("fc00::/7 ::1 192.0.2.5");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->contains("fd12:3456::1"));
    EXPECT_FALSE(list->contains("fe80::1"));
    EXPECT_TRUE(list->contains("::1"));
    EXPECT_TRUE(list->contains("192.0.2.5"));
    EXPECT_FALSE(list->contains("192.0.2.6"));
}

TEST(cidr, zero_prefix_matches_all_of_its_family) {
    auto list = cidr_list::parse("0.0.0.0/0");
    EXPECT_TRUE(list->contains("203.0.113.9"));
    EXPECT_FALSE(list->contains("2001:db8::1"));
}

TEST(cidr, empty_list_matches_nothing) {
    auto list = cidr_list::parse("");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->empty());
    EXPECT_FALSE(list->contains("127.0.0.1"));
}

TEST(cidr, rejects_bad_items_and_names_them) {
    std::string bad;
    EXPECT_FALSE(cidr_list::parse("10.0.0.0/8 10.0.0.0/33", &bad));
    EXPECT_EQ(bad, "10.0.0.0/33");
    for (const char* text : {"example.com", "10.0.0.0/", "10.0.0/8", "::1/129", "10.0.0.0/8x"})
        EXPECT_FALSE(cidr_list::parse(text)) << text;
}
