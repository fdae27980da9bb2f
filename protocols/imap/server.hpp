// IMAP server codec facing legacy clients before login (RFC 9051/3501 not-authenticated state, RFC 2595
// STARTTLS, RFC 4959 SASL-IR, RFC 7888 LITERAL+, RFC 2971 ID). After a successful login it hands over to the relay.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/client_input.hpp"
#include "protocols/common/secret.hpp"
#include "protocols/common/session_error.hpp"
#include "protocols/imap/command_reader.hpp"
#include "protocols/sasl/server_exchange.hpp"

#include <string>
#include <vector>

namespace mailgate::protocols::imap {

struct server_options {
    bool starttls_offered = false;
    bool plaintext_login_allowed = false;
    bool tls_active = false;
    std::size_t max_command = 64 * 1024; // lines and literals before login
    unsigned max_failures = 3;
    std::string version = "0";
};

enum class login_outcome { ok, bad_credentials, provider_temp, provider_perm };

class server {
public:
    explicit server(server_options options);

    action next();
    void wrote() { out_.clear(); }
    void received(std::string_view bytes);
    void tls_started();

    const std::string& user() const { return user_; }
    // Valid after `authenticate`; login_result() wipes the password (the driver takes its own copy first).
    const std::string& password() const { return password_.str(); }
    // For `ok`: the provider's post-login capability atoms, filtered before they reach the client.
    void login_result(login_outcome outcome, const std::vector<std::string>& provider_capabilities = {});
    // On shutdown before login: the untagged BYE.
    void shutting_down();

    std::string take_pipelined();
    std::error_code error() const { return error_; }

private:
    enum class state { greeting, command, sasl, authenticating, relay, closing, closed };

    std::string capabilities() const;
    bool login_permitted() const { return options_.tls_active || options_.plaintext_login_allowed; }
    void on_command(const command& c);
    // Queues the refusal the gateway gives `c` and returns true, or returns false when `c` may go ahead.
    bool refuse(const command& c, bool partial);
    void on_sasl_line(std::string_view line);
    void on_sasl_result(sasl::server_exchange::result r);
    void tagged(std::string_view status_and_text) { out_ += tag_ + " " + std::string(status_and_text) + "\r\n"; }
    void untagged(std::string_view text) { out_ += "* " + std::string(text) + "\r\n"; }
    void end(session_errc why) { error_ = make_error_code(why); state_ = state::closing; }

    server_options options_;
    state state_ = state::greeting;
    client_input in_;
    command_reader reader_;
    std::string out_;
    std::string tag_;
    std::string user_;
    secret_string password_;
    sasl::server_exchange sasl_;
    unsigned failures_ = 0;
    bool want_tls_ = false;
    std::error_code error_;
};

} // namespace mailgate::protocols::imap
