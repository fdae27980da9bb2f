// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load balancer sends first on a
// connection, naming the client it accepted. Parsed from the first bytes of the connection, stateless: call it
// again with more bytes until it is done. need_more means every byte given belongs to the header, so a caller
// that peeks at the socket can take them all and leave the client's first bytes (a TLS ClientHello) in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailgate::protocols {

// Longest header accepted: version 1's own limit is 107 bytes; version 2 may carry TLVs (HAProxy's ssl, unique-id,
// authority ones fit well within this). A longer one is refused rather than buffered.
inline constexpr std::size_t max_proxy_header = 4096;

struct proxy_header {
    int version = 0;
    // False for LOCAL (the balancer's own health check), PROXY UNKNOWN and address families other than TCP over
    // IPv4/IPv6: the connection's own addresses stand, as the specification asks.
    bool proxied = false;
    std::string source_address; // textual, as inet_ntop writes it; IPv4-mapped IPv6 stays as sent
    std::uint16_t source_port = 0;
    std::string destination_address;
    std::uint16_t destination_port = 0;
};

enum class proxy_parse_status { need_more, done, invalid };

struct proxy_parse_result {
    proxy_parse_status status = proxy_parse_status::need_more;
    std::size_t consumed = 0; // with done: the header's length; the bytes after it are the client's
    proxy_header header;
    std::string_view error; // with invalid: what is wrong, for the log (never peer text)
};

// `bytes` are the connection's first bytes (all of them received so far).
proxy_parse_result parse_proxy_header(std::string_view bytes);

} // namespace mailgate::protocols
