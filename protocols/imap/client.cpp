// IMAP upstream login (RFC 9051 / RFC 3501, RFC 2595 STARTTLS, RFC 4959 SASL-IR, RFC 7888 LITERAL+, RFC 7628
// OAUTHBEARER and XOAUTH2).
#include "protocols/imap/client.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/imap/split_word.hpp"
#include "protocols/imap/string_encoding.hpp"
#include "protocols/sasl/client_mechanisms.hpp"

namespace mailgate::protocols::imap {
namespace {

// The base64 text of a continuation ("+ text", or a bare "+").
std::string_view continuation_text(std::string_view line) {
    line.remove_prefix(1);
    if (line.starts_with(' ')) line.remove_prefix(1);
    return line;
}

} // namespace

client::client(upstream_tls tls, upstream_credentials credentials, upstream_limits limits)
    : upstream_codec(tls, std::move(credentials), limits), tls_done_(tls == upstream_tls::implicit) {}

void client::new_tag() {
    tag_ = "a" + std::to_string(next_tag_++);
    reply_complete(); // the untagged lines before this command's completion are counted afresh
}

void client::command(std::string_view text) {
    new_tag();
    send(tag_ + " " + std::string(text) + "\r\n");
}

// Both views of the capabilities go together: a stale atom list would show pre-TLS (attacker-controlled) facts to
// the legacy client after login (RFC 2595 §3.1).
void client::forget_capabilities() {
    capabilities_.clear();
    capability_atoms_.clear();
}

void client::read_capabilities(std::string_view atoms) {
    forget_capabilities();
    while (!atoms.empty()) {
        auto [word, rest] = split_word(atoms);
        if (!word.empty()) {
            capabilities_.insert(ascii_upper(word));
            capability_atoms_.emplace_back(word);
        }
        atoms = rest;
    }
}

bool client::take_capability_code(std::string_view text) {
    if (!text.starts_with("[")) return false;
    auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    auto [name, atoms] = split_word(text.substr(1, close - 1));
    if (ascii_upper(name) != "CAPABILITY") return false;
    read_capabilities(atoms);
    return true;
}

void client::on_line(std::string_view line) {
    if (line.starts_with("* ")) {
        if (!count_reply_line(line)) return;
        auto [kind, rest] = split_word(line.substr(2));
        auto k = ascii_upper(kind);
        if (state_ == state::greeting) {
            if (k == "OK") {
                if (!take_capability_code(rest)) {
                    forget_capabilities();
                    command("CAPABILITY");
                    state_ = state::capability;
                    return;
                }
                after_capabilities();
                return;
            }
            // PREAUTH would skip our login and BYE refuses us: neither is a usable provider session.
            return fail(upstream_errc::greeting_rejected, line);
        }
        if (k == "CAPABILITY")
            read_capabilities(rest);
        else if (k == "BYE" && state_ != state::logout)
            return fail(upstream_errc::closed, line);
        return; // other untagged data before login is not passed on
    }
    if (line.starts_with("+")) {
        // The rest of LOGIN after a synchronizing literal, AUTHENTICATE's response without SASL-IR, or a bearer
        // login's error report.
        bool logging_in = state_ == state::login || state_ == state::authenticate;
        if (logging_in && continue_login(continuation_text(line))) return;
        return fail(upstream_errc::malformed_reply, line);
    }
    auto [tag, rest] = split_word(line);
    if (state_ == state::greeting || tag != tag_) return fail(upstream_errc::malformed_reply, line);
    reply_complete();
    auto [status_word, text] = split_word(rest);
    auto status = ascii_upper(status_word);
    if (status != "OK" && status != "NO" && status != "BAD")
        return fail(upstream_errc::malformed_reply, line);

    switch (state_) {
    case state::capability:
        if (status != "OK") return fail(upstream_errc::malformed_reply, line);
        return after_capabilities();
    case state::starttls:
        if (status != "OK") return fail(upstream_errc::starttls_refused, line);
        return request_tls();
    case state::authenticate:
    case state::login: return on_login_done(status, line);
    case state::post_login_capability:
        if (status != "OK") return fail(upstream_errc::malformed_reply, line);
        state_ = state::logged_in;
        return finish();
    case state::logout: return finish();
    case state::greeting:
    case state::logged_in: return fail(upstream_errc::malformed_reply, line);
    }
}

void client::after_capabilities() {
    if (!tls_done_) {
        if (!capabilities_.contains("STARTTLS")) return fail(upstream_errc::starttls_unsupported);
        command("STARTTLS");
        state_ = state::starttls;
        return;
    }
    start_login();
}

void client::start_login() {
    if (bearer()) {
        auto mechanism = bearer_mechanism_name();
        if (auto response = bearer_initial_response(capabilities_.contains("AUTH=" + std::string(mechanism))))
            authenticate(mechanism, std::move(*response));
        return;
    }
    if (capabilities_.contains("AUTH=PLAIN")) {
        auto response = sasl::plain_initial_response(credentials_.user, credentials_.secret);
        if (!response) return fail(upstream_errc::credential_unencodable);
        return authenticate("PLAIN", std::move(*response));
    }
    if (capabilities_.contains("LOGINDISABLED")) return fail(upstream_errc::no_usable_mechanism);
    send_login();
}

// The initial response inline where the provider takes one (RFC 4959), else after its "+".
void client::authenticate(std::string_view mechanism, std::string&& response) {
    std::string verb = "AUTHENTICATE " + std::string(mechanism);
    if (capabilities_.contains("SASL-IR")) {
        new_tag();
        send_credential(tag_ + " " + verb + " ", std::move(response));
    } else {
        command(verb);
        hold_credential({}, std::move(response));
    }
    state_ = state::authenticate;
}

void client::send_login() {
    const auto& user = credentials_.user;
    const auto& secret = credentials_.secret;
    // NUL travels in neither a quoted string nor a literal (RFC 9051 §4.3; literal8 needs BINARY).
    if (user.find('\0') != std::string::npos || secret.find('\0') != std::string::npos)
        return fail(upstream_errc::credential_unencodable);
    new_tag();
    bool literal_plus = capabilities_.contains("LITERAL+");
    // "tag LOGIN user secret", each a quoted string where it can be one, else a literal. After a
    // synchronizing literal's "{n}" the command goes on only at the provider's "+": the pieces after it are
    // held. The secret is always in the last piece.
    std::vector<std::string> pieces{tag_ + " LOGIN "};
    auto literal = [&](std::size_t size) {
        pieces.back() += literal_marker(size, literal_plus);
        if (!literal_plus) pieces.emplace_back();
    };
    if (auto quoted = quote(user)) {
        pieces.back() += *quoted;
    } else {
        literal(user.size());
        pieces.back() += user;
    }
    pieces.back() += ' ';
    auto quoted_secret = quote(secret);
    if (!quoted_secret) literal(secret.size());
    std::string secret_part = quoted_secret ? std::move(*quoted_secret) : std::string(secret);
    if (quoted_secret) wipe(*quoted_secret);
    if (pieces.size() == 1) {
        send_credential(pieces.back(), std::move(secret_part));
    } else {
        send(pieces.front());
        for (std::size_t i = 1; i + 1 < pieces.size(); ++i) hold_credential(pieces[i], {}, {});
        hold_credential(pieces.back(), std::move(secret_part));
    }
    state_ = state::login;
}

void client::on_login_done(std::string_view status, std::string_view line) {
    drop_held(); // the provider may refuse a literal instead of inviting it
    if (status == "OK") {
        auto [tag, rest] = split_word(line);
        auto [word, text] = split_word(rest);
        if (take_capability_code(text)) {
            state_ = state::logged_in;
            return finish();
        }
        forget_capabilities();
        command("CAPABILITY");
        state_ = state::post_login_capability;
        return;
    }
    // RFC 5530 codes: UNAVAILABLE means "not now"; AUTHENTICATIONFAILED and the rest are rejections.
    if (ascii_upper(line).find("[UNAVAILABLE]") != std::string::npos)
        return fail_login(upstream_errc::temporarily_unavailable, line);
    if (status == "BAD") return fail_login(upstream_errc::malformed_reply, line);
    reject_login(line);
}

void client::on_tls_started() {
    tls_done_ = true;
    forget_capabilities();
    command("CAPABILITY");
    state_ = state::capability;
}

void client::on_logout() {
    command("LOGOUT");
    state_ = state::logout;
}

} // namespace mailgate::protocols::imap
