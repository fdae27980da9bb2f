// POP3 server codec facing legacy clients before login (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH,
// RFC 3206 response codes). After a successful login it hands over to the relay.
//
// Flow: the shared phases of server_codec (greeting, command, sasl, authenticating, closing). Commands before
// login: CAPA, USER/PASS, APOP, AUTH [PLAIN|LOGIN|CRAM-MD5], STLS, QUIT; the rest get -ERR. APOP and CRAM-MD5
// exist only with challenge logins on: then the greeting carries the APOP timestamp. PASS, APOP or a finished
// AUTH asks to `authenticate`; login_result(ok) answers +OK and then `relay` (sticky), with take_pipelined() to forward first.
#pragma once

#include "protocols/common/server_codec.hpp"

#include <string>

namespace mailgate::protocols::pop3 {

struct server_options {
    bool stls_offered = false; // plaintext connection and a certificate is configured
    bool plaintext_login_allowed =
        false;                  // client network is in access.plaintext_auth (ignored once TLS is up)
    bool tls_active = false;    // implicit TLS port
    std::size_t max_line = 255; // RFC 2449 §4: 255 octets including CRLF
    unsigned max_failures = 3;
    std::string greeting = "mailgate POP3 ready";
    challenge_logins challenges{};
};

class server final : public server_codec {
public:
    explicit server(server_options options);

    pre_login_action next();
    std::string_view goodbye() const override { return "-ERR [SYS/TEMP] mailgate is shutting down\r\n"; }
    static std::string_view refusal_line(refusal why);

private:
    void greet() override;
    void on_command_line(std::string_view line) override;
    void on_line_too_long() override;
    void on_bare_lf() override;
    void on_control_bytes() override;
    std::string_view sasl_challenge_prefix() const override { return "+ "; }
    void on_sasl_refused(sasl::server_exchange::result why) override;
    void answer_login(login_outcome outcome, const provider_capabilities& capabilities) override;
    void forget_pre_tls_state() override { pending_user_.clear(); } // RFC 2595 §4

    void on_command(std::string_view keyword, std::string_view args);
    void on_apop(std::string_view args);

    std::string greeting_;
    std::string pending_user_;   // from USER, waiting for PASS
    std::string apop_timestamp_; // in the greeting when APOP is offered
};

} // namespace mailgate::protocols::pop3
