// The shared pre-login mechanics of the server codecs.
#include "protocols/common/server_codec.hpp"

#include "protocols/common/client_bytes.hpp"

namespace mailgate::protocols {

server_codec::server_codec(server_policy policy, std::size_t max_line) : in_(max_line), policy_(policy) {}

void server_codec::received(std::string_view bytes) {
    if (!in_.receive(bytes, policy_.tls_active)) {
        error_ = make_error_code(session_errc::tls_on_plaintext);
        phase_ = phase::closed;
    }
}

std::optional<action<session_step>> server_codec::next_common() {
    for (;;) {
        if (!out_.empty()) return write_output{out_};
        switch (phase_) {
        case phase::greeting:
            greet();
            phase_ = phase::command;
            continue;
        case phase::closing: phase_ = phase::closed; [[fallthrough]];
        case phase::closed: return session_step::close;
        case phase::authenticating: return session_step::authenticate;
        case phase::relaying: return std::nullopt;
        case phase::command:
        case phase::sasl: break;
        }
        if (want_tls_) {
            // Whatever the client pipelined after STARTTLS came in plaintext: never executed (CVE-2011-0411).
            plaintext_dropped_ = in_.lines().buffered();
            in_.lines().clear();
            return start_tls{};
        }
        if (phase_ == phase::sasl ? take_line() : parse_input()) continue;
        return read_or_close(read_deadline::command);
    }
}

action<session_step> server_codec::read_or_close(read_deadline deadline) {
    if (!in_.client_closed()) return read_input{deadline};
    error_ = make_error_code(session_errc::client_closed);
    phase_ = phase::closed;
    return session_step::close;
}

bool server_codec::parse_input() { return take_line(); }

bool server_codec::take_line() {
    std::string_view line;
    switch (in_.lines().next_line(line)) {
    case line_buffer::result::line: break;
    case line_buffer::result::too_long: on_line_too_long(); return true;
    case line_buffer::result::bare_lf: on_bare_lf(); return true;
    case line_buffer::result::need_more: return false;
    }
    if (has_control_bytes(line)) {
        on_control_bytes();
        in_.lines().wipe_spent(); // it may have been a SASL response: it held a password
    } else if (phase_ == phase::sasl) {
        on_sasl_result(sasl_.step(line));
        in_.lines().wipe_spent(); // the response holds the password
    } else {
        on_command_line(line);
    }
    return true;
}

void server_codec::tls_started() {
    want_tls_ = false;
    policy_.tls_active = true;
    policy_.starttls_offered = false;
    sasl_.clear();
    password_.clear();
    phase_ = phase::command;
    forget_pre_tls_state();
}

void server_codec::end(session_errc why) {
    error_ = make_error_code(why);
    phase_ = phase::closing;
}

void server_codec::begin_sasl(sasl::mechanism m, std::optional<std::string_view> initial) {
    if (m == sasl::mechanism::cram_md5) return on_sasl_result(sasl_.start(m, initial, next_challenge()));
    on_sasl_result(sasl_.start(m, initial));
}

std::optional<sasl::mechanism> server_codec::accepted_mechanism(std::string_view name) const {
    auto m = sasl::parse_mechanism(name);
    if (m == sasl::mechanism::cram_md5 && !policy_.challenges.enabled) return std::nullopt;
    return m;
}

bool server_codec::challenge_logins_offered() const {
    return policy_.challenges.enabled && login_permitted() &&
           (!policy_.tls_active || policy_.challenges.advertise_over_tls);
}

std::string server_codec::advertised_mechanisms(std::string_view separator) const {
    std::string names = "PLAIN";
    (names += separator) += "LOGIN";
    if (challenge_logins_offered()) (names += separator) += "CRAM-MD5";
    return names;
}

void server_codec::on_sasl_result(sasl::server_exchange::result r) {
    using result = sasl::server_exchange::result;
    switch (r) {
    case result::challenge:
        out_ += sasl_challenge_prefix();
        reply(sasl_.challenge());
        phase_ = phase::sasl;
        return;
    case result::done:
        phase_ = phase::command;
        begin_login(sasl_.user(), sasl_.password(), sasl_.proof());
        sasl_.clear();
        return;
    case result::failed:
    case result::cancelled:
        phase_ = phase::command;
        on_sasl_refused(r);
        return;
    case result::not_authorized:
        phase_ = phase::command;
        on_sasl_refused(r);
        login_failed(); // counted like a wrong password: it is a login attempt, not a syntax slip
        return;
    }
}

void server_codec::begin_login(std::string_view user, std::string_view password, login_proof proof) {
    user_ = user;
    password_.assign(password);
    proof_ = std::move(proof);
    phase_ = phase::authenticating;
}

void server_codec::login_result(login_outcome outcome, const provider_capabilities& capabilities) {
    password_.clear(); // handed out with `authenticate`: no longer ours to keep
    if (phase_ == phase::authenticating) phase_ = phase::command;
    answer_login(outcome, capabilities);
}

void server_codec::login_failed() {
    if (++failures_ < policy_.max_failures) return;
    on_too_many_failures();
    end(session_errc::too_many_failures);
}

} // namespace mailgate::protocols
