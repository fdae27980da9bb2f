// POP3 server codec facing legacy clients before login (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH,
// RFC 3206 response codes). After a successful login it hands over to the relay.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/client_input.hpp"
#include "protocols/common/secret.hpp"
#include "protocols/common/session_error.hpp"
#include "protocols/sasl/server_exchange.hpp"

#include <string>

namespace mailgate::protocols::pop3 {

struct server_options {
    bool stls_offered = false;            // plaintext connection and a certificate is configured
    bool plaintext_login_allowed = false; // client network is in access.plaintext_auth (ignored once TLS is up)
    bool tls_active = false;              // implicit TLS port
    std::size_t max_line = 255;           // RFC 2449 §4: 255 octets including CRLF
    unsigned max_failures = 3;
    std::string greeting = "mailgate POP3 ready";
};

// Outcome of the `authenticate` action, reported back by the driver.
enum class login_outcome {
    ok,               // local credential good, provider session logged in: relay follows
    bad_credentials,  // wrong local user/password or disabled account (the driver already delayed)
    provider_temp,    // provider unreachable, TLS failure, or "try later"
    provider_perm,    // provider rejected the stored credential
};

class server {
public:
    explicit server(server_options options);

    action next();
    void wrote() { out_.clear(); }
    void received(std::string_view bytes); // empty: the client closed
    void tls_started();

    // Valid after `authenticate`; login_result() wipes the password (the driver takes its own copy first).
    const std::string& user() const { return user_; }
    const std::string& password() const { return password_.str(); }
    void login_result(login_outcome outcome);

    // After `relay`: client bytes already received after the login command (PIPELINING), to forward first.
    std::string take_pipelined();

    std::error_code error() const { return error_; }

private:
    enum class state { greeting, command, sasl, authenticating, relay, closing, closed };

    void on_line(std::string_view line);
    void on_command(std::string_view keyword, std::string_view args);
    void begin_login(std::string_view user, std::string_view password);
    void on_sasl_result(sasl::server_exchange::result r);
    bool login_permitted();
    void reply(std::string_view text) { out_ += std::string(text) + "\r\n"; }
    void end(session_errc why) { error_ = make_error_code(why); state_ = state::closing; }

    server_options options_;
    state state_ = state::greeting;
    client_input in_;
    std::string out_;
    std::string pending_user_; // from USER, waiting for PASS
    std::string user_;
    secret_string password_;
    sasl::server_exchange sasl_;
    unsigned failures_ = 0;
    bool want_tls_ = false;
    std::error_code error_;
};

} // namespace mailgate::protocols::pop3
