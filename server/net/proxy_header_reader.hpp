// Reads the PROXY protocol header a load balancer sends before anything else (protocols/common/proxy_header.hpp)
// and takes exactly its bytes off the socket: what follows (a TLS ClientHello on an implicit-TLS port) stays there.
#pragma once

#include "protocols/common/proxy_header.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <variant>

namespace mailgate::net {

// The header, or why there is none ("closed before ...", the parser's reason). Timing is the caller's (timed()).
using proxy_header_or_error = std::variant<protocols::proxy_header, std::string>;

boost::asio::awaitable<proxy_header_or_error> read_proxy_header(boost::asio::ip::tcp::socket& socket);

} // namespace mailgate::net
