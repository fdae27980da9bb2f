// PROXY protocol header parsing: v1 and v2, the connection's own addresses (LOCAL, UNKNOWN, UNSPEC), malformed and
// oversized headers. Every complete header is also checked at every prefix (need_more, or the same verdict once
// invalid), and with the client's first bytes behind it (they are never consumed).
#include "protocols/common/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailgate::protocols {
namespace {

using status = proxy_parse_status;

const std::string v2_signature("\r\n\r\n\0\r\nQUIT\n", 12);

std::string v2(unsigned char command, unsigned char family, const std::string& body) {
    std::string h = v2_signature;
    h += static_cast<char>(command);
    h += static_cast<char>(family);
    h += static_cast<char>(body.size() >> 8);
    h += static_cast<char>(body.size() & 0xff);
    return h + body;
}

std::string bytes(std::initializer_list<int> values) {
    std::string s;
    for (int v : values) s += static_cast<char>(v);
    return s;
}

// Parses `header` whole, followed by a TLS ClientHello's first bytes, and at every prefix.
proxy_parse_result parse_everywhere(const std::string& header) {
    auto whole = parse_proxy_header(header);
    auto followed = parse_proxy_header(header + "\x16\x03\x01\x02\x00");
    EXPECT_EQ(followed.status, whole.status);
    EXPECT_EQ(followed.consumed, whole.consumed);
    EXPECT_EQ(followed.header.source_address, whole.header.source_address);
    for (std::size_t n = 0; n < header.size(); ++n) {
        auto part = parse_proxy_header(header.substr(0, n));
        if (whole.status == status::done)
            EXPECT_EQ(part.status, status::need_more) << "prefix of " << n << " bytes";
        else
            EXPECT_NE(part.status, status::done) << "prefix of " << n << " bytes";
    }
    return whole;
}

TEST(proxy_header, v1_tcp4) {
    std::string h = "PROXY TCP4 192.168.1.20 10.0.0.5 51234 110\r\n";
    auto r = parse_everywhere(h);
    ASSERT_EQ(r.status, status::done);
    EXPECT_EQ(r.consumed, h.size());
    EXPECT_EQ(r.header.version, 1);
    EXPECT_TRUE(r.header.proxied);
    EXPECT_EQ(r.header.source_address, "192.168.1.20");
    EXPECT_EQ(r.header.source_port, 51234);
    EXPECT_EQ(r.header.destination_address, "10.0.0.5");
    EXPECT_EQ(r.header.destination_port, 110);
}

TEST(proxy_header, v1_tcp6_is_normalised) {
    auto r = parse_everywhere("PROXY TCP6 2001:DB8:0:0::1 ::1 65535 0\r\n");
    ASSERT_EQ(r.status, status::done);
    EXPECT_EQ(r.header.source_address, "2001:db8::1");
    EXPECT_EQ(r.header.source_port, 65535);
    EXPECT_EQ(r.header.destination_port, 0);
}

TEST(proxy_header, v1_unknown_keeps_the_connections_addresses) {
    for (std::string h : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n"}) {
        auto r = parse_everywhere(h);
        ASSERT_EQ(r.status, status::done) << h;
        EXPECT_EQ(r.consumed, h.size());
        EXPECT_FALSE(r.header.proxied);
    }
}

TEST(proxy_header, v1_malformed) {
    for (std::string h : {
             "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",   // a fifth field
             "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",       // a field missing
             "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",    // two spaces
             "PROXY TCP4 ::1 ::1 1 2\r\n",             // family mismatch
             "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",     // family mismatch
             "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",    // leading zero
             "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", // port out of range
             "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",   // leading zero in a port
             "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",    // sign
             "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",     // not TCP
             "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",       // bare LF
             "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n",    // bare CR
             "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",     // case
             "PROXY UNKNOWN a\rb\r\n",                 // a CR inside the ignored part
             "USER alice\r\n",
             "\x16\x03\x01\x02\x00",
             "GET / HTTP/1.0\r\n",
         }) {
        auto r = parse_everywhere(h);
        EXPECT_EQ(r.status, status::invalid) << h;
        EXPECT_FALSE(r.error.empty());
    }
}

TEST(proxy_header, v1_longer_than_107_bytes_is_refused_without_waiting_for_crlf) {
    std::string h = "PROXY UNKNOWN " + std::string(93, 'x'); // 107 bytes, no CRLF yet
    EXPECT_EQ(parse_proxy_header(h).status, status::invalid);
    EXPECT_EQ(parse_proxy_header(h.substr(0, 106)).status, status::need_more);
    EXPECT_EQ(parse_proxy_header("PROXY UNKNOWN " + std::string(91, 'x') + "\r\n").status, status::done);
    EXPECT_EQ(parse_proxy_header("PROXY UNKNOWN " + std::string(92, 'x') + "\r\n").status, status::invalid);
}

TEST(proxy_header, v2_proxy_tcp4_with_tlvs) {
    auto body = bytes({192, 168, 1, 20, 10, 0, 0, 5, 0xc8, 0x22, 0x00, 0x6e}) +
                bytes({0x05, 0x00, 0x03, 'a', 'b', 'c'}) + // PP2_TYPE_UNIQUE_ID, ignored
                bytes({0x04, 0x00, 0x02, 0x00, 0x00});     // PP2_TYPE_NOOP
    auto h = v2(0x21, 0x11, body);
    auto r = parse_everywhere(h);
    ASSERT_EQ(r.status, status::done);
    EXPECT_EQ(r.consumed, h.size());
    EXPECT_EQ(r.header.version, 2);
    EXPECT_TRUE(r.header.proxied);
    EXPECT_EQ(r.header.source_address, "192.168.1.20");
    EXPECT_EQ(r.header.source_port, 0xc822);
    EXPECT_EQ(r.header.destination_address, "10.0.0.5");
    EXPECT_EQ(r.header.destination_port, 110);
}

TEST(proxy_header, v2_proxy_tcp6) {
    std::string body(16, '\0');
    body[0] = '\x20', body[1] = '\x01', body[2] = '\x0d', body[3] = '\xb8', body[15] = '\x07';
    body += std::string(15, '\0') + "\x01" + bytes({0x01, 0xbb, 0x03, 0xe1});
    auto r = parse_everywhere(v2(0x21, 0x21, body));
    ASSERT_EQ(r.status, status::done);
    EXPECT_EQ(r.header.source_address, "2001:db8::7");
    EXPECT_EQ(r.header.destination_address, "::1");
    EXPECT_EQ(r.header.source_port, 443);
    EXPECT_EQ(r.header.destination_port, 993);
}

TEST(proxy_header, v2_local_unspec_and_unix_keep_the_connections_addresses) {
    for (auto h : {v2(0x20, 0x00, ""), v2(0x20, 0x11, std::string(12, '\x01')), v2(0x21, 0x00, "abc"),
                   v2(0x21, 0x31, std::string(216, 'p'))}) {
        auto r = parse_everywhere(h);
        ASSERT_EQ(r.status, status::done);
        EXPECT_EQ(r.consumed, h.size());
        EXPECT_FALSE(r.header.proxied);
    }
}

TEST(proxy_header, v2_malformed) {
    auto four = std::string(12, '\x01');
    for (auto h : {
             v2(0x11, 0x11, four),                    // version 1 in a v2 header
             v2(0x22, 0x11, four),                    // command 2
             v2(0x21, 0x12, four),                    // UDP over IPv4
             v2(0x21, 0x10, four),                    // IPv4 without a transport
             v2(0x21, 0x41, four),                    // family 4
             v2(0x21, 0x11, std::string(11, '\1')),   // address block too short
             v2(0x21, 0x21, std::string(35, '\1')),   // IPv6 block too short
             v2(0x21, 0x11, std::string(4081, '\1')), // longer than 4096 in all
             std::string("\r\n\r\n\0\r\nQUIT\r", 12), // signature's last byte wrong
         }) {
        auto r = parse_everywhere(h);
        EXPECT_EQ(r.status, status::invalid);
    }
    // The longest accepted header.
    EXPECT_EQ(parse_proxy_header(v2(0x21, 0x11, std::string(4080, '\1'))).status, status::done);
}

TEST(proxy_header, an_oversized_v2_header_is_refused_from_its_first_16_bytes) {
    auto h = v2(0x21, 0x11, std::string(5000, '\1'));
    EXPECT_EQ(parse_proxy_header(h.substr(0, 16)).status, status::invalid);
}

} // namespace
} // namespace mailgate::protocols
