// Base of the provider-facing client codecs: line I/O, the STARTTLS rule, and error state.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/line_buffer.hpp"
#include "protocols/common/upstream_error.hpp"

#include <string>
#include <string_view>

namespace mailgate::protocols {

enum class upstream_tls { implicit, starttls };

struct upstream_credentials {
    std::string user;
    std::string secret;
};

struct upstream_limits {
    std::size_t max_line = 64 * 1024; // providers send long CAPABILITY lines
};

// Driver loop: a = next(); write -> wrote(); read -> received(bytes); start_tls -> tls_started();
// done -> logged in (or, after logout(), logged out); close -> error()/diagnostics() say why.
class upstream_codec {
public:
    virtual ~upstream_codec() = default;

    action next();
    void wrote() { out_.clear(); }
    void received(std::string_view bytes);
    void tls_started();
    // After `done` (logged in): say goodbye; next() then leads to `done` again once the provider confirms.
    void logout();

    std::error_code error() const { return error_; }
    // The provider's own words for the failure, sanitized and length-capped (never a credential).
    const std::string& diagnostics() const { return diagnostics_; }

protected:
    upstream_codec(upstream_tls tls, upstream_credentials credentials, upstream_limits limits);

    // One complete line from the provider (CRLF removed).
    virtual void on_line(std::string_view line) = 0;
    // TLS is up: forget every pre-TLS fact (capabilities) and continue (RFC 3207 §4.2, RFC 2595 §3.1).
    virtual void on_tls_started() = 0;
    virtual void on_logout() = 0;

    void send(std::string bytes) { out_ += std::move(bytes); }
    // Sends `command` with the SASL initial response inline, unless the line would exceed `max_line` octets
    // (RFC 5034 §4, RFC 4954 §4): then the command alone, and the response after the server's continuation.
    void send_with_initial_response(std::string_view command, std::string response, std::size_t max_line);
    // On a continuation: sends the held-back response; false when none was held back.
    bool send_held_response();
    void request_tls() { want_tls_ = true; }
    void finish() { done_ = true; }
    void fail(upstream_errc e, std::string_view provider_text = {});
    line_buffer& input() { return input_; }

    upstream_tls tls_mode_;
    upstream_credentials credentials_;

private:
    line_buffer input_;
    std::string out_;
    std::string held_response_;
    bool want_tls_ = false;
    bool done_ = false;
    bool eof_ = false;
    std::error_code error_;
    std::string diagnostics_;
};

// Peer text made safe for logs: printable ASCII only, at most `cap` characters.
std::string sanitize_peer_text(std::string_view text, std::size_t cap = 200);

} // namespace mailgate::protocols
