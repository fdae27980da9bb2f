// Peeks at what has arrived, lets the parser decide, and takes only header bytes: all of them while the parser
// still needs more (so the next wait really waits for new bytes), exactly the header's length once it is whole.
#include "server/net/proxy_header_reader.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <array>

namespace mailgate::net {

namespace asio = boost::asio;
using protocols::proxy_parse_status;

asio::awaitable<proxy_header_or_error> read_proxy_header(asio::ip::tcp::socket& socket) {
    std::string taken;
    std::array<char, protocols::max_proxy_header> peeked;
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    for (;;) {
        co_await socket.async_wait(asio::socket_base::wait_read, asio::use_awaitable);
        auto room = protocols::max_proxy_header - taken.size();
        auto n = socket.receive(asio::buffer(peeked.data(), room), asio::socket_base::message_peek, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        if (ec) co_return "connection failed before its PROXY header: " + ec.message();
        if (n == 0)
            co_return std::string(taken.empty() ? "closed without a PROXY header"
                                                : "closed in the middle of its PROXY header");
        auto seen = taken + std::string(peeked.data(), n);
        auto r = protocols::parse_proxy_header(seen);
        if (r.status == proxy_parse_status::invalid) co_return std::string(r.error);
        // Both reads below take bytes the peek has shown to be there, so they do not block.
        auto take = r.status == proxy_parse_status::done ? r.consumed - taken.size() : n;
        auto got = socket.receive(asio::buffer(peeked.data(), take), 0, ec);
        if (ec || got != take) co_return "connection failed in the middle of its PROXY header";
        if (r.status == proxy_parse_status::done) co_return std::move(r.header);
        taken.append(peeked.data(), got);
    }
}

} // namespace mailgate::net
