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
    // SMTP server codec only (it re-originates transactions instead of relaying bytes):
    select_account,   // no AUTH, relay allowed: pick the account by the MAIL FROM sender and log in upstream
    upstream_command, // send `bytes` upstream (nothing when empty) and report the provider's next reply
    upstream_data,    // send `bytes` (DATA content) upstream and report it written
    upstream_abort,   // drop the provider connection without finishing the transaction
};

struct action {
    action_kind kind;
    std::string_view bytes{}; // write only; valid until the next call into the codec
};

} // namespace mailgate::protocols
