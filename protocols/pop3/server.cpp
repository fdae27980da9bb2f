// POP3 server codec (pre-login part of the gateway session).
#include "protocols/pop3/server.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/client_bytes.hpp"

#include <algorithm>

namespace mailgate::protocols::pop3 {
server::server(server_options options) : options_(std::move(options)), in_(options_.max_line) {}

void server::received(std::string_view bytes) {
    if (!in_.receive(bytes, options_.tls_active)) {
        error_ = make_error_code(session_errc::tls_on_plaintext);
        state_ = state::closed;
    }
}

action server::next() {
    for (;;) {
        if (!out_.empty()) return {action_kind::write, out_};
        switch (state_) {
        case state::greeting:
            reply("+OK " + options_.greeting);
            state_ = state::command;
            continue;
        case state::closing: state_ = state::closed; [[fallthrough]];
        case state::closed: return {action_kind::close};
        case state::authenticating: return {action_kind::authenticate};
        case state::relay: return {action_kind::relay};
        case state::command:
        case state::sasl: break;
        }
        if (want_tls_) {
            // Whatever the client pipelined after STLS was sent in plaintext: drop it (CVE-2011-0411).
            in_.lines().clear();
            return {action_kind::start_tls};
        }
        std::string_view line;
        switch (in_.lines().next_line(line)) {
        case line_buffer::result::line: on_line(line); continue;
        case line_buffer::result::too_long:
            reply("-ERR Line too long");
            end(session_errc::line_too_long);
            continue;
        case line_buffer::result::bare_lf:
            reply("-ERR Lines must end with CRLF");
            end(session_errc::garbage);
            continue;
        case line_buffer::result::need_more: break;
        }
        if (in_.client_closed()) {
            error_ = make_error_code(session_errc::client_closed);
            state_ = state::closed;
            continue;
        }
        return {action_kind::read};
    }
}

void server::tls_started() {
    want_tls_ = false;
    options_.tls_active = true;
    options_.stls_offered = false;
    pending_user_.clear(); // RFC 2595 §4: nothing said before TLS counts after it
    sasl_.clear();
    password_.clear();
    state_ = state::command;
}

void server::on_line(std::string_view line) {
    if (has_control_bytes(line)) {
        reply("-ERR Invalid characters in command");
        end(session_errc::garbage);
    } else if (state_ == state::sasl) {
        on_sasl_result(sasl_.step(line));
    } else {
        auto space = line.find(' ');
        auto keyword = ascii_upper(line.substr(0, space));
        auto args = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        on_command(keyword, args);
    }
    // PASS, AUTH and SASL lines hold passwords, refused ones too; the line has been parsed by now.
    in_.lines().wipe_spent();
}

bool server::login_permitted() { return options_.tls_active || options_.plaintext_login_allowed; }

void server::on_command(std::string_view keyword, std::string_view args) {
    constexpr std::string_view tls_required =
        "-ERR [AUTH] Plaintext login is not allowed from your network: use STLS or the POP3S port";
    if (keyword == "CAPA") {
        // Only what works on this connection: where plaintext login is refused, USER and SASL appear once TLS
        // is up (RFC 2449 §6.2, §6.3; RFC 2595 §4; Dovecot does the same). A client that sees them before
        // STLS would send its password in the clear only to be refused.
        bool login = login_permitted();
        out_ += "+OK Capability list follows\r\n";
        if (login) out_ += "USER\r\n";
        out_ += "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
        if (login) out_ += "SASL PLAIN LOGIN\r\n";
        if (options_.stls_offered && !options_.tls_active) out_ += "STLS\r\n";
        out_ += "IMPLEMENTATION mailgate\r\n.\r\n";
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
            out_ += login_permitted() ? "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n" : "+OK\r\n.\r\n";
            return;
        }
        auto space = args.find(' ');
        auto mechanism = sasl::parse_mechanism(args.substr(0, space));
        if (!mechanism) return reply("-ERR [AUTH] Unsupported authentication mechanism");
        if (!login_permitted()) return reply(tls_required);
        std::optional<std::string_view> initial;
        if (space != std::string_view::npos) initial = args.substr(space + 1);
        on_sasl_result(sasl_.start(*mechanism, initial));
    } else if (keyword == "STLS") {
        if (options_.tls_active) return reply("-ERR TLS already active");
        if (!options_.stls_offered) return reply("-ERR STLS not available");
        reply("+OK Begin TLS negotiation");
        want_tls_ = true;
    } else if (keyword == "QUIT") {
        reply("+OK mailgate POP3 signing off");
        end(session_errc::client_quit);
    } else {
        reply("-ERR Command not valid before login");
    }
}

void server::on_sasl_result(sasl::server_exchange::result r) {
    using result = sasl::server_exchange::result;
    switch (r) {
    case result::challenge:
        reply("+ " + sasl_.challenge());
        state_ = state::sasl;
        return;
    case result::done:
        state_ = state::command;
        begin_login(sasl_.user(), sasl_.password());
        sasl_.clear();
        return;
    case result::failed:
        state_ = state::command;
        return reply("-ERR [AUTH] Invalid SASL response");
    case result::cancelled:
        state_ = state::command;
        return reply("-ERR AUTH cancelled");
    }
}

void server::begin_login(std::string_view user, std::string_view password) {
    user_ = user;
    password_.assign(password);
    pending_user_.clear();
    state_ = state::authenticating;
}

void server::login_result(login_outcome outcome) {
    password_.clear(); // handed out with `authenticate`: no longer ours to keep
    state_ = state::command;
    switch (outcome) {
    case login_outcome::ok:
        reply("+OK Logged in");
        state_ = state::relay;
        return;
    case login_outcome::bad_credentials:
        reply("-ERR [AUTH] Authentication failed");
        if (++failures_ >= options_.max_failures) end(session_errc::too_many_failures);
        return;
    case login_outcome::provider_temp:
        return reply("-ERR [SYS/TEMP] The mail provider is not reachable right now, try again later");
    case login_outcome::provider_perm:
        return reply("-ERR [SYS/PERM] The mail provider refused the gateway's login; tell your administrator");
    }
}

std::string server::take_pipelined() { return in_.take_pipelined(); }

} // namespace mailgate::protocols::pop3
