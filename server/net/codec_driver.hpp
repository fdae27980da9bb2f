// The one loop that performs a sans-io codec's I/O (read, write, start TLS) over a mail_stream, for the server
// codecs facing clients and the client codecs facing providers alike. It returns the codec's first step of its
// own family (authenticate, relay, a transaction step, done...), which only the codec's session can take.
#pragma once

#include "protocols/common/action.hpp"
#include "server/net/mail_stream.hpp"
#include "server/net/timed.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <span>
#include <string_view>
#include <variant>

namespace mailgate::net {

// How long one I/O step may wait, by the deadline class of the read; writes and handshakes get the `command`
// limit. Sessions bound pre-login steps by their overall deadline here.
using io_deadlines = std::function<std::chrono::steady_clock::duration(protocols::read_deadline)>;

struct codec_io {
    mail_stream& stream;
    std::span<char> buffer; // reads land here; the codec copies what it keeps
    io_deadlines limit;
    // The TLS handshake in this side's role (certificate, host-name checks); throws system_error on failure.
    std::function<boost::asio::awaitable<void>()> start_tls;
};

namespace detail {
// A codec's own steps: its action type minus the I/O alternatives (the step itself when it has only one).
template <class Action> struct own_steps;
template <class... Steps>
struct own_steps<
    std::variant<protocols::read_input, protocols::write_output, protocols::start_tls, Steps...>> {
    using type = std::conditional_t<sizeof...(Steps) == 1, std::tuple_element_t<0, std::tuple<Steps...>>,
                                    std::variant<Steps...>>;
};
} // namespace detail

template <class Codec>
using codec_step = typename detail::own_steps<decltype(std::declval<Codec&>().next())>::type;

// Runs `codec`'s I/O until it asks for a step of its own, and returns that step. I/O failures and timeouts are
// thrown (boost::system::system_error; asio::error::timed_out for a deadline).
template <class Codec> boost::asio::awaitable<codec_step<Codec>> run_io(Codec& codec, const codec_io& io) {
    for (;;) {
        auto a = codec.next();
        if (auto* w = std::get_if<protocols::write_output>(&a)) {
            co_await timed(io.stream.write(boost::asio::buffer(w->bytes)),
                           io.limit(protocols::read_deadline::command));
            codec.wrote();
        } else if (auto* r = std::get_if<protocols::read_input>(&a)) {
            auto n =
                co_await timed(io.stream.read_some(boost::asio::buffer(io.buffer.data(), io.buffer.size())),
                               io.limit(r->deadline));
            codec.received(std::string_view(io.buffer.data(), n));
        } else if (std::holds_alternative<protocols::start_tls>(a)) {
            co_await timed(io.start_tls(), io.limit(protocols::read_deadline::command));
            codec.tls_started();
        } else {
            co_return std::visit(
                [](auto&& x) -> codec_step<Codec> {
                    using T = std::decay_t<decltype(x)>;
                    if constexpr (std::is_same_v<T, protocols::read_input> ||
                                  std::is_same_v<T, protocols::write_output> ||
                                  std::is_same_v<T, protocols::start_tls>)
                        throw std::logic_error("run_io: an I/O action left over"); // handled above
                    else
                        return std::forward<decltype(x)>(x);
                },
                std::move(a));
        }
    }
}

} // namespace mailgate::net
