// POP3 server codec (pre-login part of the gateway session).
#include "protocols/pop3/server.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/pop3/line_errors.hpp"

namespace mailgate::protocols::pop3 {

server::server(server_options options)
    : server_codec({.starttls_offered = options.stls_offered,
                    .plaintext_login_allowed = options.plaintext_login_allowed,
                    .tls_active = options.tls_active,
                    .max_failures = options.max_failures,
                    .challenges = std::move(options.challenges)},
                   options.max_line),
      greeting_(std::move(options.greeting)) {}

pre_login_action server::next() {
    if (auto a = next_common()) return widen<pre_login_action>(std::move(*a));
    return relay_bytes{};
}

std::string_view server::refusal_line(refusal why) {
    // RFC 3206: AUTH for a permanent refusal, SYS/TEMP for "try again later".
    if (why == refusal::not_allowed) return "-ERR [AUTH] mailgate: your network is not allowed\r\n";
    return "-ERR [SYS/TEMP] mailgate: too many connections, try again later\r\n";
}

void server::greet() {
    if (!challenge_logins_offered()) return reply("+OK " + greeting_);
    apop_timestamp_ = next_challenge(); // RFC 1939 §7: its presence is what tells a client APOP works
    reply("+OK " + greeting_ + " " + apop_timestamp_);
}

void server::on_line_too_long() {
    reply(line_errors::too_long);
    end(session_errc::line_too_long);
}

void server::on_bare_lf() {
    reply(line_errors::bare_lf);
    end(session_errc::garbage);
}

void server::on_control_bytes() {
    reply(line_errors::control_bytes);
    end(session_errc::garbage);
}

void server::on_command_line(std::string_view line) {
    auto space = line.find(' ');
    auto keyword = ascii_upper(line.substr(0, space));
    auto args = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    on_command(keyword, args);
    // PASS and AUTH lines hold passwords, refused ones too; the line has been parsed by now.
    in_.lines().wipe_spent();
}

void server::on_command(std::string_view keyword, std::string_view args) {
    constexpr std::string_view tls_required =
        "-ERR [AUTH] Plaintext login is not allowed from your network: use STLS or the POP3S port";
    if (keyword == "CAPA") {
        // Only what works on this connection: where plaintext login is refused, USER and SASL appear once TLS
        // is up (RFC 2449 §6.2, §6.3; RFC 2595 §4; Dovecot does the same). A client that sees them before
        // STLS would send its password in the clear only to be refused.
        bool login = login_permitted();
        queue("+OK Capability list follows\r\n");
        if (login) queue("USER\r\n");
        queue("TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
        if (login) queue("SASL " + advertised_mechanisms(" ") + "\r\n");
        if (starttls_offered()) queue("STLS\r\n");
        queue("IMPLEMENTATION mailgate\r\n.\r\n");
    } else if (keyword == "USER") {
        if (!login_permitted()) return reply(tls_required);
        if (args.empty()) return reply("-ERR USER needs a user name");
        pending_user_ = std::string(args);
        reply("+OK");
    } else if (keyword == "PASS") {
        if (!login_permitted()) return reply(tls_required);
        if (pending_user_.empty()) return reply("-ERR USER first");
        begin_login(pending_user_, args); // the whole rest: passwords may hold spaces
    } else if (keyword == "AUTH") {
        if (args.empty()) {
            // The mechanism list some clients ask for (RFC 5034 §4 note): empty where CAPA has no SASL line.
            queue(login_permitted() ? "+OK\r\n" + advertised_mechanisms("\r\n") + "\r\n.\r\n"
                                    : "+OK\r\n.\r\n");
            return;
        }
        auto space = args.find(' ');
        auto mechanism = accepted_mechanism(args.substr(0, space));
        if (!mechanism) return reply("-ERR [AUTH] Unsupported authentication mechanism");
        if (!login_permitted()) return reply(tls_required);
        std::optional<std::string_view> initial;
        if (space != std::string_view::npos) initial = args.substr(space + 1);
        begin_sasl(*mechanism, initial);
    } else if (keyword == "APOP") {
        if (!login_permitted()) return reply(tls_required);
        on_apop(args);
    } else if (keyword == "STLS") {
        if (tls_active()) return reply("-ERR TLS already active");
        if (!starttls_offered()) return reply("-ERR STLS not available");
        reply("+OK Begin TLS negotiation");
        begin_tls();
    } else if (keyword == "QUIT") {
        reply("+OK mailgate POP3 signing off");
        end(session_errc::client_quit);
    } else {
        reply("-ERR Command not valid before login");
    }
}

void server::on_apop(std::string_view args) {
    if (apop_timestamp_.empty()) return reply("-ERR APOP is not available here");
    // "APOP name digest": the digest is MD5(timestamp + password) in hex; the name may hold spaces.
    auto space = args.rfind(' ');
    auto digest =
        md5_digest_text(space == std::string_view::npos ? std::string_view{} : args.substr(space + 1));
    if (!digest || space == 0) return reply("-ERR APOP needs a user name and an MD5 digest");
    begin_login(args.substr(0, space), *digest, {proof_kind::apop, apop_timestamp_});
}

void server::on_sasl_refused(sasl::server_exchange::result why) {
    if (why == sasl::server_exchange::result::cancelled) return reply("-ERR AUTH cancelled");
    if (why == sasl::server_exchange::result::not_authorized)
        return reply("-ERR [AUTH] Logging in as another user is not supported");
    reply("-ERR [AUTH] Invalid SASL response");
}

void server::answer_login(login_outcome outcome, const provider_capabilities&) {
    pending_user_.clear();
    switch (outcome) {
    case login_outcome::ok:
        reply("+OK Logged in");
        relay();
        return;
    case login_outcome::bad_credentials:
        reply("-ERR [AUTH] Authentication failed");
        login_failed();
        return;
    case login_outcome::provider_temp:
        return reply("-ERR [SYS/TEMP] The mail provider is not reachable right now, try again later");
    case login_outcome::provider_perm:
        return reply(
            "-ERR [SYS/PERM] The mail provider refused the gateway's login; tell your administrator");
    }
}

} // namespace mailgate::protocols::pop3
