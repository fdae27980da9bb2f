// IMAP server codec facing legacy clients before login (RFC 9051/3501 not-authenticated state, RFC 2595
// STARTTLS, RFC 4959 SASL-IR, RFC 7888 LITERAL+, RFC 2971 ID). After a successful login it hands over to the relay.
//
// Flow: the shared phases of server_codec (greeting, command, sasl, authenticating, closing). Commands are read
// by the command_reader (tags, quoted strings, literals; a synchronizing literal gets "+" only when the command
// could succeed). Before login: CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN, AUTHENTICATE [PLAIN|LOGIN|CRAM-MD5]
// (CRAM-MD5 only with challenge logins on).
// LOGIN or a finished AUTHENTICATE asks to `authenticate`; login_result(ok, provider capabilities) answers OK
// with the provider's capabilities (the gateway-only ones removed) and then `relay` (sticky).
#pragma once

#include "protocols/common/server_codec.hpp"
#include "protocols/imap/command_reader.hpp"

#include <string>

namespace mailgate::protocols::imap {

struct server_options {
    bool starttls_offered = false;
    bool plaintext_login_allowed = false;
    bool tls_active = false;
    std::size_t max_command = 64 * 1024; // lines and literals before login
    unsigned max_failures = 3;
    std::string version = "0";
    challenge_logins challenges{};
};

class server final : public server_codec {
public:
    explicit server(server_options options);

    pre_login_action next();
    std::string_view goodbye() const override { return "* BYE [UNAVAILABLE] mailgate is shutting down\r\n"; }
    static std::string_view refusal_line(refusal why);
    // Shutdown inside the codec's own flow: the untagged BYE, then close.
    void shutting_down();

private:
    void greet() override;
    bool parse_input() override;
    void on_line_too_long() override; // in an AUTHENTICATE exchange
    void on_bare_lf() override { end(session_errc::garbage); }
    void on_control_bytes() override { end(session_errc::garbage); }
    std::string_view sasl_challenge_prefix() const override { return "+ "; }
    void on_sasl_refused(sasl::server_exchange::result why) override;
    void answer_login(login_outcome outcome, const provider_capabilities& capabilities) override;
    void on_too_many_failures() override { untagged("BYE Too many failed logins"); }
    void forget_pre_tls_state() override { reader_.reset(); }

    std::string capabilities() const;
    void on_command(const command& c);
    // Queues the refusal the gateway gives `c` and returns true, or returns false when `c` may go ahead.
    bool refuse(const command& c, bool partial);
    void tagged(std::string_view status_and_text) { reply(tag_ + " " + std::string(status_and_text)); }
    void untagged(std::string_view text) { reply("* " + std::string(text)); }

    command_reader reader_;
    std::string tag_;
    std::string version_;
};

} // namespace mailgate::protocols::imap
