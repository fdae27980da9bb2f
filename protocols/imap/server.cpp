// IMAP server codec (pre-login part of the gateway session).
#include "protocols/imap/server.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/client_bytes.hpp"

#include <algorithm>

namespace mailgate::protocols::imap {
namespace {

bool valid_tag(std::string_view tag) {
    if (tag.empty()) return false;
    return std::all_of(tag.begin(), tag.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' && c != '"' &&
               c != '\\' && c != '+';
    });
}

constexpr std::string_view privacy_required =
    "NO [PRIVACYREQUIRED] Plaintext login is not allowed from your network: use STARTTLS or IMAPS";

// Capabilities only the gateway answers for before login; the provider's own would mislead the client.
bool gateway_only(std::string_view atom) {
    auto cap = ascii_upper(atom);
    return cap == "STARTTLS" || cap == "LOGINDISABLED" || cap == "SASL-IR" || cap.starts_with("AUTH=");
}

} // namespace

server::server(server_options options)
    : server_codec({.starttls_offered = options.starttls_offered,
                    .plaintext_login_allowed = options.plaintext_login_allowed,
                    .tls_active = options.tls_active,
                    .max_failures = options.max_failures,
                    .challenges = std::move(options.challenges)},
                   options.max_command + 2),
      reader_(options.max_command), version_(std::move(options.version)) {}

pre_login_action server::next() {
    if (auto a = next_common()) return widen<pre_login_action>(std::move(*a));
    return relay_bytes{};
}

std::string_view server::refusal_line(refusal why) {
    if (why == refusal::not_allowed) return "* BYE [UNAVAILABLE] mailgate: your network is not allowed\r\n";
    return "* BYE [UNAVAILABLE] mailgate: too many connections, try again later\r\n";
}

std::string server::capabilities() const {
    std::string caps = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE";
    if (starttls_offered()) caps += " STARTTLS";
    // RFC 9051 §6.2.3: without TLS where plaintext login is not allowed, advertise LOGINDISABLED and no AUTH=.
    if (!login_permitted()) return caps + " LOGINDISABLED";
    return caps + " AUTH=" + advertised_mechanisms(" AUTH=");
}

void server::greet() { untagged("OK [CAPABILITY " + capabilities() + "] mailgate IMAP ready"); }

void server::on_line_too_long() {
    untagged("BAD Line too long");
    end(session_errc::line_too_long);
}

bool server::parse_input() {
    switch (reader_.next(in_.lines())) {
    case command_reader::status::complete: {
        command c = reader_.current();
        reader_.reset();
        on_command(c);
        wipe(c.args);
        in_.lines().wipe_spent(); // LOGIN and AUTHENTICATE lines and literals hold passwords
        return true;
    }
    case command_reader::status::send_continuation: {
        // RFC 9051 §7.5: a command the gateway will refuse whatever the literal holds is refused now, in
        // place of the "+": the client never sends the literal (a password over a connection that may not
        // carry one, or to a command that cannot succeed).
        command c = reader_.partial();
        bool refused_now = refuse(c, true);
        wipe(c.args);
        if (refused_now) {
            reader_.reset();
            in_.lines().wipe_spent();
            return true;
        }
        queue("+ Ready for literal data\r\n");
        return true;
    }
    case command_reader::status::too_long:
        untagged("BAD Command line or literal too long");
        end(session_errc::line_too_long);
        return true;
    case command_reader::status::bad_literal:
        untagged("BAD Invalid literal length");
        end(session_errc::garbage);
        return true;
    case command_reader::status::nul_in_literal:
        untagged("BAD NUL in a literal");
        end(session_errc::garbage);
        return true;
    case command_reader::status::bare_lf: end(session_errc::garbage); return true;
    case command_reader::status::need_more: return false;
    }
    return false;
}

bool server::refuse(const command& c, bool partial) {
    // `partial`: c holds the arguments before a synchronizing literal; the literal is one more argument, and
    // others may follow it. Every check here refuses such a command whatever the rest of it will be.
    std::size_t least = c.args.size() + (partial ? 1 : 0);
    bool more = partial; // more arguments than `least` may come
    tag_ = c.tag;
    if (has_control_bytes(c.tag) || has_control_bytes(c.name)) {
        end(session_errc::garbage);
        return true;
    }
    if (!valid_tag(c.tag)) {
        tag_ = "*";
        untagged("BAD Invalid tag");
        return true;
    }
    if (!c.args_valid) {
        tagged("BAD Invalid arguments");
        return true;
    }
    const auto& name = c.name;
    if (name == "CAPABILITY" || name == "NOOP" || name == "LOGOUT" || name == "ID" || name == "ENABLE")
        return false;
    if (name == "STARTTLS") {
        if (tls_active())
            tagged("BAD TLS is already active");
        else if (!starttls_offered())
            tagged("BAD STARTTLS not available");
        else
            return false;
        return true;
    }
    if (name == "LOGIN") {
        if (!login_permitted()) {
            tagged(privacy_required);
        } else if (least > 2 || (!more && least != 2) || (!c.args.empty() && c.args[0].empty())) {
            tagged("BAD LOGIN needs a user name and a password");
        } else {
            return false;
        }
        return true;
    }
    if (name == "AUTHENTICATE") {
        if (least > 2 || (!more && least == 0)) {
            tagged("BAD AUTHENTICATE needs a mechanism");
        } else if (!c.args.empty() && !accepted_mechanism(c.args[0])) {
            tagged("NO [CANNOT] Unsupported authentication mechanism");
        } else if (!login_permitted()) {
            tagged(privacy_required);
        } else {
            return false;
        }
        return true;
    }
    tagged("BAD Command unknown or not valid before login");
    return true;
}

void server::on_command(const command& c) {
    if (refuse(c, false)) return;
    const auto& name = c.name;
    if (name == "CAPABILITY") {
        untagged("CAPABILITY " + capabilities());
        tagged("OK CAPABILITY completed");
    } else if (name == "NOOP") {
        tagged("OK NOOP completed");
    } else if (name == "LOGOUT") {
        untagged("BYE mailgate IMAP signing off");
        tagged("OK LOGOUT completed");
        end(session_errc::client_quit);
    } else if (name == "ID") {
        untagged("ID (\"name\" \"mailgate\" \"version\" \"" + version_ + "\")");
        tagged("OK ID completed");
    } else if (name == "ENABLE") {
        // Some clients send ENABLE before LOGIN; answered as Dovecot does, and sent again once logged in.
        untagged("ENABLED");
        tagged("OK ENABLE ignored in non-authenticated state");
    } else if (name == "STARTTLS") {
        tagged("OK Begin TLS negotiation now");
        begin_tls();
    } else if (name == "LOGIN") {
        begin_login(c.args[0], c.args[1]);
    } else if (name == "AUTHENTICATE") {
        std::optional<std::string_view> initial;
        if (c.args.size() == 2) initial = c.args[1];
        begin_sasl(*accepted_mechanism(c.args[0]), initial);
    }
}

void server::on_sasl_refused(sasl::server_exchange::result why) {
    if (why == sasl::server_exchange::result::cancelled)
        return tagged("BAD AUTHENTICATE cancelled"); // RFC 9051 §6.2.2
    if (why == sasl::server_exchange::result::not_authorized)
        return tagged("NO [AUTHORIZATIONFAILED] Logging in as another user is not supported");
    tagged("BAD Invalid SASL response");
}

void server::answer_login(login_outcome outcome, const provider_capabilities& provider_capabilities) {
    switch (outcome) {
    case login_outcome::ok: {
        std::string caps;
        for (const auto& cap : provider_capabilities)
            if (!gateway_only(cap)) caps += (caps.empty() ? "" : " ") + cap;
        tagged(caps.empty() ? "OK Logged in" : "OK [CAPABILITY " + caps + "] Logged in");
        relay();
        return;
    }
    case login_outcome::bad_credentials:
        tagged("NO [AUTHENTICATIONFAILED] Authentication failed");
        login_failed();
        return;
    case login_outcome::provider_temp:
        return tagged("NO [UNAVAILABLE] The mail provider is not reachable right now, try again later");
    case login_outcome::provider_perm:
        return tagged(
            "NO [UNAVAILABLE] The mail provider refused the gateway's login; tell your administrator");
    }
}

void server::shutting_down() {
    untagged("BYE mailgate is shutting down");
    end(session_errc::client_quit);
}

} // namespace mailgate::protocols::imap
