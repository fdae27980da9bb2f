// POP3 upstream login (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH, RFC 7628 OAUTHBEARER and
// XOAUTH2).
#include "protocols/pop3/client.hpp"

#include "protocols/pop3/reply.hpp"
#include "protocols/sasl/client_mechanisms.hpp"

namespace mailgate::protocols::pop3 {

client::client(upstream_tls tls, upstream_credentials credentials, upstream_limits limits)
    : upstream_codec(tls, std::move(credentials), limits), tls_done_(tls == upstream_tls::implicit) {}

void client::on_line(std::string_view line) {
    if (state_ == state::auth_sasl && line.starts_with("+ ") && continue_login(line.substr(2))) return;
    if (state_ == state::capa_lines) {
        if (line == ".") {
            reply_complete();
            after_capabilities();
        } else {
            if (!count_reply_line(line)) return;
            // Dot-stuffed lines (RFC 1939 §3) never occur in CAPA in practice, but unstuff anyway.
            if (line.starts_with("..")) line.remove_prefix(1);
            capabilities_.insert(upper_keyword_line(line));
        }
        return;
    }
    auto st = reply_status(line);
    if (st == status::malformed) return fail(upstream_errc::malformed_reply, line);

    switch (state_) {
    case state::greeting:
        if (st != status::ok) return fail(upstream_errc::greeting_rejected, line);
        send("CAPA\r\n");
        state_ = state::capa;
        return;
    case state::capa:
        capabilities_.clear();
        if (st == status::ok) {
            reply_complete();
            state_ = state::capa_lines;
        } else {
            after_capabilities(); // CAPA is optional (RFC 2449); fall back to USER/PASS
        }
        return;
    case state::stls:
        if (st != status::ok) return fail(upstream_errc::starttls_refused, line);
        request_tls();
        return;
    case state::auth_sasl:
    case state::pass: return on_login_reply(line);
    case state::user:
        if (st != status::ok) return fail(upstream_errc::auth_rejected, line);
        send_credential("PASS ", std::string(credentials_.secret));
        state_ = state::pass;
        return;
    case state::quit: finish(); return;
    case state::logged_in:
    case state::capa_lines: return fail(upstream_errc::malformed_reply, line);
    }
}

void client::after_capabilities() {
    if (!tls_done_) {
        if (!capabilities_.contains("STLS")) return fail(upstream_errc::starttls_unsupported);
        send("STLS\r\n");
        state_ = state::stls;
        return;
    }
    if (bearer()) {
        auto mechanism = bearer_mechanism_name();
        if (auto response = bearer_initial_response(sasl_offers(mechanism)))
            authenticate(mechanism, std::move(*response));
        return;
    }
    if (sasl_offers("PLAIN")) {
        auto response = sasl::plain_initial_response(credentials_.user, credentials_.secret);
        if (!response) return fail(upstream_errc::credential_unencodable);
        return authenticate("PLAIN", std::move(*response));
    }
    if (!line_safe(credentials_.user) || !line_safe(credentials_.secret) ||
        credentials_.user.find(' ') != std::string::npos)
        return fail(upstream_errc::credential_unencodable);
    send("USER " + credentials_.user + "\r\n");
    state_ = state::user;
}

bool client::sasl_offers(std::string_view mechanism) const {
    auto word = " " + std::string(mechanism) + " ";
    for (const auto& cap : capabilities_) {
        if (cap.starts_with("SASL ") && (" " + cap + " ").find(word) != std::string::npos) return true;
    }
    return false;
}

void client::authenticate(std::string_view mechanism, std::string&& response) {
    send_with_initial_response("AUTH " + std::string(mechanism), std::move(response), 255); // RFC 5034 §4
    state_ = state::auth_sasl;
}

void client::on_login_reply(std::string_view line) {
    drop_held(); // the provider answered without asking for a held-back response
    if (reply_status(line) == status::ok) {
        state_ = state::logged_in;
        finish();
        return;
    }
    // RFC 3206 response codes: SYS/TEMP and IN-USE mean "not now", anything else is a rejection.
    auto code = response_code(line);
    if (code == "SYS/TEMP" || code == "IN-USE")
        return fail_login(upstream_errc::temporarily_unavailable, line);
    reject_login(line);
}

void client::on_tls_started() {
    tls_done_ = true;
    capabilities_.clear();
    send("CAPA\r\n");
    state_ = state::capa;
}

void client::on_logout() {
    send("QUIT\r\n");
    state_ = state::quit;
}

} // namespace mailgate::protocols::pop3
