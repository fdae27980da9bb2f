// The post-login byte pump between a client and its provider session: both directions at once, backpressure
// (a direction reads again only after its last write completed), an idle limit, and no buffer held while idle:
// each direction waits for readability and only then borrows a pooled buffer for one read/write.
#pragma once

#include "server/net/mail_stream.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace mailgate::net {

enum class relay_end { client_closed, upstream_closed, idle_timeout, client_error, upstream_error };
std::string_view to_string(relay_end e);

// Live byte counts, readable from other threads while the relay runs (the admin page's session table).
struct relay_counters {
    std::atomic<std::uint64_t> up{0};   // client → provider
    std::atomic<std::uint64_t> down{0}; // provider → client
};

struct relay_result {
    relay_end end;
    boost::system::error_code error; // for client_error and upstream_error: what failed
    std::uint64_t client_to_upstream = 0;
    std::uint64_t upstream_to_client = 0;
};

// `client_first` (bytes the client pipelined before the relay began) goes upstream before anything else.
// Returns when either side closes or fails, or nothing moved for `idle`; the caller closes both streams.
boost::asio::awaitable<relay_result> relay(mail_stream& client, mail_stream& upstream,
                                           std::string client_first, std::chrono::steady_clock::duration idle,
                                           relay_counters& counters);

} // namespace mailgate::net
