// PROXY protocol v1 (text) and v2 (binary) header parsing.
#include "protocols/common/proxy_header.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstring>

namespace mailgate::protocols {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_max = 107; // including CRLF (proxy-protocol.txt 2.1)
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t v2_fixed = 16;

proxy_parse_result invalid(std::string_view why) {
    proxy_parse_result r;
    r.status = proxy_parse_status::invalid;
    r.error = why;
    return r;
}

proxy_parse_result need_more() { return {}; }

// Whether `bytes` (shorter than `whole`) could still become `whole`.
bool prefix_of(std::string_view bytes, std::string_view whole) {
    return whole.substr(0, bytes.size()) == bytes;
}

// inet_pton/inet_ntop are pure conversions (no I/O); inet_pton refuses leading zeros, octal and hex forms.
bool text_address(int family, std::string_view text, std::string& out) {
    if (text.empty() || text.size() > 45) return false;
    std::array<char, 46> zero_terminated{};
    std::memcpy(zero_terminated.data(), text.data(), text.size());
    std::array<unsigned char, 16> binary{};
    if (inet_pton(family, zero_terminated.data(), binary.data()) != 1) return false;
    std::array<char, 46> normal{};
    if (!inet_ntop(family, binary.data(), normal.data(), normal.size())) return false;
    out = normal.data();
    return true;
}

std::string binary_address(int family, const unsigned char* bytes) {
    std::array<char, 46> text{};
    inet_ntop(family, bytes, text.data(), text.size());
    return text.data();
}

// A decimal port, 0-65535, without sign or leading zeros.
bool text_port(std::string_view text, std::uint16_t& out) {
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return false;
    out = static_cast<std::uint16_t>(value);
    return true;
}

// Splits off the next field up to a single space; false when there is none.
bool next_field(std::string_view& rest, std::string_view& field) {
    auto space = rest.find(' ');
    if (space == std::string_view::npos || space == 0) return false;
    field = rest.substr(0, space);
    rest.remove_prefix(space + 1);
    return true;
}

proxy_parse_result parse_v1(std::string_view bytes) {
    auto end = bytes.find("\r\n");
    bool whole = end != std::string_view::npos;
    // The line so far; a last CR may be the start of its CRLF. A CR, LF or NUL inside can never become valid.
    auto line = bytes.substr(v1_prefix.size(), (whole ? end : bytes.size()) - v1_prefix.size());
    if (!whole && line.ends_with('\r')) line.remove_suffix(1);
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        return invalid("PROXY v1 header is not one CRLF-terminated line");
    if ((whole ? end + 2 : bytes.size() + 1) > v1_max)
        return invalid("PROXY v1 header longer than 107 bytes");
    if (!whole) return need_more();
    proxy_parse_result r;
    r.status = proxy_parse_status::done;
    r.consumed = end + 2;
    r.header.version = 1;
    if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) return r; // the connection's own addresses stand
    int family = 0;
    if (line.starts_with("TCP4 "))
        family = AF_INET;
    else if (line.starts_with("TCP6 "))
        family = AF_INET6;
    else
        return invalid("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
    auto rest = line.substr(5);
    std::string_view source, destination, source_port;
    if (!next_field(rest, source) || !next_field(rest, destination) || !next_field(rest, source_port) ||
        rest.empty() || rest.find(' ') != std::string_view::npos)
        return invalid("PROXY v1 header does not have four fields after the protocol");
    if (!text_address(family, source, r.header.source_address) ||
        !text_address(family, destination, r.header.destination_address))
        return invalid("PROXY v1 address is not one of the protocol's family");
    if (!text_port(source_port, r.header.source_port) || !text_port(rest, r.header.destination_port))
        return invalid("PROXY v1 port is not a number from 0 to 65535");
    r.header.proxied = true;
    return r;
}

proxy_parse_result parse_v2(std::string_view bytes) {
    if (bytes.size() < v2_fixed) return need_more();
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    auto version = byte(12) >> 4, command = byte(12) & 0x0f;
    if (version != 2) return invalid("PROXY v2 header with an unknown version");
    if (command > 1) return invalid("PROXY v2 command is neither LOCAL nor PROXY");
    std::size_t length = (std::size_t(byte(14)) << 8) | byte(15);
    if (v2_fixed + length > max_proxy_header) return invalid("PROXY v2 header longer than 4096 bytes");
    if (bytes.size() < v2_fixed + length) return need_more();
    proxy_parse_result r;
    r.status = proxy_parse_status::done;
    r.consumed = v2_fixed + length;
    r.header.version = 2;
    if (command == 0) return r; // LOCAL: the balancer speaking for itself (a health check)
    auto family = byte(13) >> 4, transport = byte(13) & 0x0f;
    if (transport == 2) return invalid("PROXY v2 header names a datagram connection");
    if (transport > 2 || family > 3) return invalid("PROXY v2 header with an unknown address family");
    // UNSPEC and UNIX sources carry no address this gateway can use: the connection's own stands.
    if (family != 1 && family != 2) return r;
    if (transport != 1) return invalid("PROXY v2 header names an IP address without a transport");
    auto* addresses = reinterpret_cast<const unsigned char*>(bytes.data()) + v2_fixed;
    std::size_t size = family == 1 ? 4 : 16;
    if (length < 2 * size + 4) return invalid("PROXY v2 address block shorter than its family needs");
    int af = family == 1 ? AF_INET : AF_INET6;
    r.header.source_address = binary_address(af, addresses);
    r.header.destination_address = binary_address(af, addresses + size);
    r.header.source_port = static_cast<std::uint16_t>((addresses[2 * size] << 8) | addresses[2 * size + 1]);
    r.header.destination_port =
        static_cast<std::uint16_t>((addresses[2 * size + 2] << 8) | addresses[2 * size + 3]);
    r.header.proxied = true;
    return r; // TLVs after the addresses are not used
}

} // namespace

proxy_parse_result parse_proxy_header(std::string_view bytes) {
    if (bytes.empty()) return need_more();
    if (bytes[0] == v2_signature[0]) {
        if (bytes.size() < v2_signature.size())
            return prefix_of(bytes, v2_signature) ? need_more() : invalid("no PROXY header");
        if (bytes.substr(0, v2_signature.size()) != v2_signature) return invalid("no PROXY header");
        return parse_v2(bytes);
    }
    if (bytes.size() < v1_prefix.size())
        return prefix_of(bytes, v1_prefix) ? need_more() : invalid("no PROXY header");
    if (!bytes.starts_with(v1_prefix)) return invalid("no PROXY header");
    return parse_v1(bytes);
}

} // namespace mailgate::protocols
