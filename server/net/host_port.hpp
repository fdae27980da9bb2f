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

// Whether port 0 is an address: for a listener it asks the kernel for any free port.
enum class port_zero { rejected, ephemeral };

// nullopt when the text is not host:port with a port in 1..65535 (0..65535 with port_zero::ephemeral).
std::optional<host_port> parse_host_port(std::string_view text, port_zero zero = port_zero::rejected);

} // namespace mailgate::net
