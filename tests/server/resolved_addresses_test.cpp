// The provider address cache: kept for a while per host and port, forgotten on request, bounded.
#include "server/net/resolved_addresses.hpp"

#include <gtest/gtest.h>

#include <thread>

using mailgate::net::resolved_addresses;
namespace asio = boost::asio;

namespace {

resolved_addresses::results one_address(const char* ip, std::uint16_t port) {
    return resolved_addresses::results::create(asio::ip::tcp::endpoint(asio::ip::make_address(ip), port),
                                               "imap.example.com", std::to_string(port));
}

} // namespace

TEST(resolved_addresses, kept_per_host_and_port_until_they_age_or_are_forgotten) {
    resolved_addresses cache(std::chrono::milliseconds(200));
    EXPECT_FALSE(cache.find("imap.example.com", 993));
    cache.remember("imap.example.com", 993, one_address("192.0.2.7", 993));
    auto found = cache.find("imap.example.com", 993);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->begin()->endpoint().address().to_string(), "192.0.2.7");
    EXPECT_FALSE(cache.find("imap.example.com", 143)); // another port is another entry
    EXPECT_FALSE(cache.find("smtp.example.com", 993));
    cache.forget("imap.example.com", 993);
    EXPECT_FALSE(cache.find("imap.example.com", 993));
    cache.remember("imap.example.com", 993, one_address("192.0.2.8", 993));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    EXPECT_FALSE(cache.find("imap.example.com", 993)); // aged out
    cache.remember("imap.example.com", 993, {});       // nothing resolved: nothing kept
    EXPECT_FALSE(cache.find("imap.example.com", 993));
}

TEST(resolved_addresses, bounded) {
    resolved_addresses cache(std::chrono::seconds(30), 4);
    for (std::uint16_t port = 1; port <= 4; ++port) cache.remember("h", port, one_address("192.0.2.1", port));
    EXPECT_TRUE(cache.find("h", 4));
    cache.remember("h", 5, one_address("192.0.2.1", 5)); // full: starts again empty
    EXPECT_TRUE(cache.find("h", 5));
    EXPECT_FALSE(cache.find("h", 1));
}
