// Listen address parsing.
#include "server/net/host_port.hpp"

#include <gtest/gtest.h>

using mailgate::net::parse_host_port;
using mailgate::net::port_zero;

TEST(host_port, ipv4_and_names) {
    auto hp = parse_host_port("127.0.0.1:1110");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "127.0.0.1");
    EXPECT_EQ(hp->port, 1110);
    EXPECT_EQ(hp->to_string(), "127.0.0.1:1110");
    EXPECT_EQ(parse_host_port("0.0.0.0:25")->host, "0.0.0.0");
}

TEST(host_port, ipv6_in_brackets) {
    auto hp = parse_host_port("[::1]:1143");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "::1");
    EXPECT_EQ(hp->to_string(), "[::1]:1143");
}

TEST(host_port, rejects_malformed) {
    for (const char* bad : {"", "127.0.0.1", ":1110", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                            "::1:1143", "[::1]1143", "[::1]:", "host:12ab"})
        EXPECT_FALSE(parse_host_port(bad)) << bad;
}

TEST(host_port, port_zero_only_when_asked) {
    EXPECT_FALSE(parse_host_port("127.0.0.1:0"));
    auto v4 = parse_host_port("127.0.0.1:0", port_zero::ephemeral);
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->port, 0);
    EXPECT_EQ(v4->to_string(), "127.0.0.1:0");
    auto v6 = parse_host_port("[::1]:0", port_zero::ephemeral);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    for (const char* bad : {"127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-0", "[::1]:"})
        EXPECT_FALSE(parse_host_port(bad, port_zero::ephemeral)) << bad;
}
