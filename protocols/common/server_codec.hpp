// Base of the client-facing server codecs (POP3, IMAP, SMTP): what every one of them does the same way before
// a login, so that each protocol supplies only its greeting, its command dispatch and its reply texts.
//
// Flow (phases):  greeting -> command <-> sasl -> authenticating -> command | relaying ... -> closing -> closed
//   greeting        the protocol's greet() queues the banner.
//   command         input is parsed command by command (parse_input()); replies queue up in the output.
//   sasl            an AUTH/AUTHENTICATE exchange (PLAIN, LOGIN, CRAM-MD5): the client's response lines go to
//                   the SASL server; a finished exchange starts the login like a plain one.
//   authenticating  next() asks the driver to `authenticate` user()/password(); the driver answers with
//                   login_result(), which wipes the password; the protocol answers the client (answer_login()).
//   relaying        the protocol's own phase: POP3/IMAP hand over to a byte relay, SMTP runs its transactions.
//   closing/closed  the queued replies go out, then `close` (sticky); error() says why.
// Actions: output first (`write`, then wrote()); `start_tls` once a STARTTLS/STLS reply is out (the bytes the
// client pipelined after it are dropped - CVE-2011-0411 - and every pre-TLS fact is forgotten after
// tls_started(), RFC 2595 §4, RFC 3207 §4.2); `read` when input runs dry (received(), empty = the client closed).
// A TLS handshake as the first bytes on a plaintext port closes at once (tls_on_plaintext).
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/client_input.hpp"
#include "protocols/common/login_outcome.hpp"
#include "protocols/common/login_proof.hpp"
#include "protocols/common/refusal.hpp"
#include "protocols/common/secret.hpp"
#include "protocols/common/session_error.hpp"
#include "protocols/sasl/server_exchange.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::protocols {

// What decides the login rules of one connection; TLS fields change when STARTTLS completes.
struct server_policy {
    bool starttls_offered = false;        // plaintext connection and a certificate is configured
    bool plaintext_login_allowed = false; // client network is in access.plaintext_auth (moot once TLS is up)
    bool tls_active = false;              // implicit TLS port, or after STARTTLS
    unsigned max_failures = 3;            // failed logins before the connection is closed
    challenge_logins challenges{};        // APOP / CRAM-MD5 (off unless some account allows them)
};

class server_codec {
public:
    virtual ~server_codec() = default;
    server_codec(const server_codec&) = delete;
    server_codec& operator=(const server_codec&) = delete;

    void wrote() { out_.clear(); }
    void received(std::string_view bytes); // empty: the client closed
    void tls_started();

    // Valid after `authenticate`; login_result() wipes the password (the driver takes its own copy first).
    // For an APOP or CRAM-MD5 login, password() is the client's digest and proof() says of which challenge.
    const std::string& user() const { return user_; }
    const std::string& password() const { return password_.str(); }
    const login_proof& proof() const { return proof_; }
    void login_result(login_outcome outcome, const provider_capabilities& capabilities = {});

    // After `relay`: client bytes already received after the login command (pipelining), to forward first.
    std::string take_pipelined() { return in_.take_pipelined(); }
    // Bytes the client sent after its STARTTLS command and before the handshake, dropped unread.
    std::size_t plaintext_dropped() const { return plaintext_dropped_; }
    // The line a client in the dialogue gets when the gateway shuts down (written outside the codec's flow).
    virtual std::string_view goodbye() const = 0;

    std::error_code error() const { return error_; }

protected:
    enum class phase { greeting, command, sasl, authenticating, relaying, closing, closed };

    server_codec(server_policy policy, std::size_t max_line);

    // The shared phases; nullopt in `relaying`, which is the protocol's own.
    std::optional<action<session_step>> next_common();

    // ---- What each protocol supplies
    virtual void greet() = 0;
    // Consumes one command's worth of input; false when more input is needed. The default reads lines and
    // hands them to on_command_line().
    virtual bool parse_input();
    virtual void on_command_line(std::string_view) {}
    // Input errors, in the command and the sasl phase alike.
    virtual void on_line_too_long() = 0;
    virtual void on_bare_lf() = 0;
    virtual void on_control_bytes() = 0; // a line with control characters: binary garbage, not a client
    // The SASL framing and refusals: "+ " / "334 " before a challenge; `failed` and `cancelled` replies.
    virtual std::string_view sasl_challenge_prefix() const = 0;
    virtual void on_sasl_refused(sasl::server_exchange::result why) = 0;
    // The reply to a login; call relay() for a POP3/IMAP success and login_failed() for bad_credentials.
    virtual void answer_login(login_outcome outcome, const provider_capabilities& capabilities) = 0;
    // The line(s) before closing after max_failures bad logins (nothing by default).
    virtual void on_too_many_failures() {}
    // STARTTLS completed: forget the protocol's own pre-TLS state too.
    virtual void forget_pre_tls_state() {}

    // ---- Helpers for the protocols
    void reply(std::string_view text) { (out_ += text) += "\r\n"; }
    void queue(std::string_view bytes) { out_ += bytes; }
    void end(session_errc why);
    void begin_tls() { want_tls_ = true; } // after the protocol's "go ahead" reply
    void begin_sasl(sasl::mechanism m, std::optional<std::string_view> initial);
    void begin_login(std::string_view user, std::string_view password, login_proof proof = {});
    void relay() { phase_ = phase::relaying; }
    void login_failed();
    // Input ran dry: `read` under `deadline`, or the close when the client has gone.
    action<session_step> read_or_close(read_deadline deadline);

    bool tls_active() const { return policy_.tls_active; }
    bool starttls_offered() const { return policy_.starttls_offered && !policy_.tls_active; }
    bool login_permitted() const { return policy_.tls_active || policy_.plaintext_login_allowed; }
    // A SASL mechanism this connection takes (CRAM-MD5 only when challenge logins are on), else nullopt.
    std::optional<sasl::mechanism> accepted_mechanism(std::string_view name) const;
    // The mechanisms to advertise where login is permitted, joined by `separator`: PLAIN, LOGIN, and CRAM-MD5
    // where challenge logins are offered.
    std::string advertised_mechanisms(std::string_view separator) const;
    // Challenge logins are on and advertised on this connection as it is now (plaintext, or TLS if asked).
    bool challenge_logins_offered() const;
    // A challenge no earlier one of this connection used (RFC 1939 §7, RFC 2195 §2).
    std::string next_challenge() { return policy_.challenges.challenge(challenges_issued_++); }

    phase phase_ = phase::greeting;
    client_input in_;

private:
    bool take_line(); // false: no complete line yet
    void on_sasl_result(sasl::server_exchange::result r);

    server_policy policy_;
    std::string out_;
    std::string user_;
    secret_string password_;
    login_proof proof_;
    sasl::server_exchange sasl_;
    unsigned challenges_issued_ = 0;
    unsigned failures_ = 0;
    bool want_tls_ = false;
    std::size_t plaintext_dropped_ = 0;
    std::error_code error_;
};

// `a` as the wider action type `To` (a codec's next() returning what next_common() produced).
template <class To, class From> To widen(From&& a) {
    return std::visit([](auto&& x) -> To { return std::forward<decltype(x)>(x); }, std::forward<From>(a));
}

} // namespace mailgate::protocols
