// A listen address "host:port" or "[v6]:port" as written in the configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailgate::net {

struct host_port {
    std::string host; // without brackets
    std::uint16_t port = 0;

    std::string to_string() const; // brackets around IPv6 literals
};

// nullopt when the text is not host:port with a port in 1..65535.
std::optional<host_port> parse_host_port(std::string_view text);

} // namespace mailgate::net
