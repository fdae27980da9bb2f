// SMTP upstream login (RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 7628 OAUTHBEARER and XOAUTH2).
#include "protocols/smtp/client.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/base64.hpp"
#include "protocols/sasl/client_mechanisms.hpp"

namespace mailgate::protocols::smtp {

client::client(upstream_tls tls, upstream_credentials credentials, std::string helo_name,
               upstream_limits limits)
    : upstream_codec(tls, std::move(credentials), limits), helo_name_(std::move(helo_name)),
      tls_done_(tls == upstream_tls::implicit) {}

bool client::has_extension(std::string_view keyword) const {
    for (const auto& ext : extensions_) {
        if (ext == keyword ||
            (ext.starts_with(keyword) && ext.size() > keyword.size() && ext[keyword.size()] == ' '))
            return true;
    }
    return false;
}

bool client::auth_offers(std::string_view mechanism) const {
    for (const auto& ext : extensions_) {
        if (ext.starts_with("AUTH ") &&
            (ext + " ").find(" " + std::string(mechanism) + " ") != std::string::npos)
            return true;
    }
    return false;
}

void client::on_line(std::string_view line) {
    if (!count_reply_line(line)) return;
    switch (assembler_.feed(line)) {
    case reply_assembler::result::malformed: return fail(upstream_errc::malformed_reply, line);
    case reply_assembler::result::more: return;
    case reply_assembler::result::complete: reply_complete(); on_reply(assembler_.take(), line);
    }
}

void client::on_reply(const reply& r, std::string_view last_line) {
    switch (state_) {
    case state::greeting:
        if (r.code != 220) return fail(upstream_errc::greeting_rejected, last_line);
        send("EHLO " + helo_name_ + "\r\n");
        state_ = state::ehlo;
        return;
    case state::ehlo:
        if (r.code != 250) return fail(upstream_errc::malformed_reply, last_line);
        extensions_.clear();
        for (std::size_t i = 1; i < r.lines.size(); ++i) extensions_.insert(ascii_upper(r.lines[i]));
        return after_ehlo();
    case state::starttls:
        if (r.code != 220) return fail(upstream_errc::starttls_refused, last_line);
        return request_tls();
    case state::auth_login_user:
    case state::auth_login_pass:
        if (r.code == 334) {
            if (state_ == state::auth_login_user) {
                send(base64_encode(credentials_.user) + "\r\n");
                state_ = state::auth_login_pass;
            } else {
                send_credential({}, base64_encode(credentials_.secret));
                state_ = state::auth_result;
            }
            return;
        }
        [[fallthrough]];
    case state::auth_sasl:
    case state::auth_result:
        if (r.code == 334 && continue_login(r.lines.empty() ? std::string_view() : r.lines.front())) {
            state_ = state::auth_result;
            return;
        }
        drop_held(); // answered without asking for a held-back response
        if (r.code == 235) {
            state_ = state::logged_in;
            return finish();
        }
        // RFC 4954 §6: 4xx is temporary; 530 (needs TLS/auth), 534 (mechanism too weak, e.g. "app password
        // required"), 535 (bad credentials) and 538 reject the credential; other codes are protocol errors.
        if (r.code >= 400 && r.code < 500)
            return fail_login(upstream_errc::temporarily_unavailable, last_line);
        if (r.code == 530 || r.code == 534 || r.code == 535 || r.code == 538) return reject_login(last_line);
        return fail_login(upstream_errc::malformed_reply, last_line);
    case state::quit: return finish();
    case state::transaction:
        last_reply_ = r;
        state_ = state::logged_in;
        read_under(read_deadline::command);
        return finish();
    case state::logged_in: return fail(upstream_errc::malformed_reply, last_line);
    }
}

void client::after_ehlo() {
    if (!tls_done_) {
        if (!has_extension("STARTTLS")) return fail(upstream_errc::starttls_unsupported);
        send("STARTTLS\r\n");
        state_ = state::starttls;
        return;
    }
    if (bearer()) {
        auto mechanism = bearer_mechanism_name();
        if (auto response = bearer_initial_response(auth_offers(mechanism)))
            authenticate(mechanism, std::move(*response));
        return;
    }
    if (auth_offers("PLAIN")) {
        auto response = sasl::plain_initial_response(credentials_.user, credentials_.secret);
        if (!response) return fail(upstream_errc::credential_unencodable);
        return authenticate("PLAIN", std::move(*response));
    }
    if (auth_offers("LOGIN")) {
        send("AUTH LOGIN\r\n");
        state_ = state::auth_login_user;
        return;
    }
    fail(upstream_errc::no_usable_mechanism);
}

void client::authenticate(std::string_view mechanism, std::string&& response) {
    send_with_initial_response("AUTH " + std::string(mechanism), std::move(response), 512); // RFC 4954 §4
    state_ = state::auth_sasl;
}

void client::on_tls_started() {
    tls_done_ = true;
    extensions_.clear();
    send("EHLO " + helo_name_ + "\r\n");
    state_ = state::ehlo;
}

void client::transact(std::string line) {
    send(std::move(line));
    state_ = state::transaction;
}

void client::await_verdict() {
    read_under(read_deadline::data_verdict);
    state_ = state::transaction;
}

void client::on_logout() {
    send("QUIT\r\n");
    state_ = state::quit;
}

} // namespace mailgate::protocols::smtp
