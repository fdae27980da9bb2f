// The next thing a sans-io codec asks its driver to do (DESIGN.md, "The codec contract").
#pragma once

#include <string_view>

namespace mailgate::protocols {

enum class action_kind {
    read,      // feed more bytes from the peer
    write,     // send `bytes`, then report it written
    start_tls, // run the TLS handshake now, then report it done
    done,      // the codec reached its goal (e.g. logged in); no more I/O it needs
    close,     // end the connection: the codec's error() says why (no error: an orderly end)
    // Server codecs only:
    authenticate, // check the client's credential and log in upstream, then report the outcome to the codec
    relay,        // both sides are logged in: pump bytes, starting with the codec's take_pipelined()
};

struct action {
    action_kind kind;
    std::string_view bytes{}; // write only; valid until the next call into the codec
};

} // namespace mailgate::protocols
