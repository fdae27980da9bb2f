// Shared driver-facing mechanics of the upstream client codecs.
#include "protocols/common/upstream_codec.hpp"

namespace mailgate::protocols {

upstream_codec::upstream_codec(upstream_tls tls, upstream_credentials credentials, upstream_limits limits)
    : tls_mode_(tls), credentials_(std::move(credentials)), input_(limits.max_line) {}

action upstream_codec::next() {
    for (;;) {
        if (error_) return {action_kind::close};
        if (!out_.empty()) return {action_kind::write, out_};
        if (want_tls_) {
            // Anything already buffered was sent before the handshake: an injection attempt (CVE-2011-0411).
            if (input_.buffered() > 0) {
                fail(upstream_errc::data_after_starttls);
                continue;
            }
            return {action_kind::start_tls};
        }
        if (done_) {
            done_ = false;
            return {action_kind::done};
        }
        std::string_view line;
        switch (input_.next_line(line)) {
        case line_buffer::result::line: on_line(line); continue;
        case line_buffer::result::too_long: fail(upstream_errc::line_too_long); continue;
        case line_buffer::result::bare_lf: fail(upstream_errc::malformed_reply); continue;
        case line_buffer::result::need_more: break;
        }
        if (eof_) {
            fail(upstream_errc::closed);
            continue;
        }
        return {action_kind::read};
    }
}

void upstream_codec::received(std::string_view bytes) {
    if (bytes.empty()) eof_ = true;
    input_.append(bytes);
}

void upstream_codec::tls_started() {
    want_tls_ = false;
    on_tls_started();
}

void upstream_codec::logout() {
    done_ = false;
    on_logout();
}

void upstream_codec::send_with_initial_response(std::string_view command, std::string response,
                                                std::size_t max_line) {
    if (command.size() + 1 + response.size() + 2 > max_line) {
        send(std::string(command) + "\r\n");
        held_response_ = std::move(response);
        return;
    }
    send(std::string(command) + " " + response + "\r\n");
}

bool upstream_codec::send_held_response() {
    if (held_response_.empty()) return false;
    send(std::move(held_response_) + "\r\n");
    held_response_.clear();
    return true;
}

void upstream_codec::fail(upstream_errc e, std::string_view provider_text) {
    if (error_) return;
    error_ = make_error_code(e);
    // A provider may echo what it was sent; the stored secret must never reach a log through us.
    std::string text(provider_text);
    if (!credentials_.secret.empty()) {
        for (auto at = text.find(credentials_.secret); at != std::string::npos; at = text.find(credentials_.secret, at))
            text.replace(at, credentials_.secret.size(), "***");
    }
    diagnostics_ = sanitize_peer_text(text);
}

std::string sanitize_peer_text(std::string_view text, std::size_t cap) {
    std::string out;
    for (char c : text) {
        if (out.size() >= cap) {
            out += "...";
            break;
        }
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
}

} // namespace mailgate::protocols
