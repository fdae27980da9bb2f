// SMTP submission server codec facing legacy senders (RFC 5321, 4954 AUTH, 3207 STARTTLS, 1870 SIZE, 6152
// 8BITMIME, 2920 PIPELINING, 2034 ENHANCEDSTATUSCODES, 6531 SMTPUTF8, 3461 DSN). It never relays bytes blindly:
// every MAIL, RCPT and DATA is parsed, checked and re-serialized for the provider, and DATA is streamed through
// the data_decoder so that no bare CR or LF ever reaches the provider.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/client_input.hpp"
#include "protocols/common/secret.hpp"
#include "protocols/common/session_error.hpp"
#include "protocols/sasl/server_exchange.hpp"
#include "protocols/smtp/command.hpp"
#include "protocols/smtp/data_decoder.hpp"
#include "protocols/smtp/reply.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace mailgate::protocols::smtp {

struct server_options {
    bool starttls_offered = false;
    bool plaintext_auth_allowed = false; // client network in access.plaintext_auth
    bool relay_allowed = false;          // client network in access.relay_without_auth
    bool tls_active = false;
    std::string host_name = "mailgate";
    std::string client_address;
    std::uint64_t max_message_size = 50ull * 1024 * 1024;
    std::size_t max_line = 512; // RFC 5321 §4.5.3.1.4, CRLF included
    unsigned max_recipients = 100;
    unsigned max_auth_failures = 3;
    unsigned max_errors = 20;
};

enum class login_outcome { ok, bad_credentials, provider_temp, provider_perm };
enum class account_outcome { ok, no_account, provider_temp, provider_perm };

class server {
public:
    explicit server(server_options options);

    action next();
    void wrote() { out_.clear(); }
    void received(std::string_view bytes);
    void tls_started();

    // `authenticate`: the local credential.
    const std::string& user() const { return user_; }
    // Valid after `authenticate`; login_result() wipes the password (the driver takes its own copy first).
    const std::string& password() const { return password_.str(); }
    // `extensions` are the provider's EHLO keywords (upper-cased, with arguments), valid when ok.
    void login_result(login_outcome outcome, const std::set<std::string>& extensions = {});

    // `select_account`: the MAIL FROM address that picks the account.
    const std::string& sender() const { return sender_; }
    void account_result(account_outcome outcome, const std::set<std::string>& extensions = {});

    // `upstream_command`: the provider's reply. `upstream_data`: the chunk was written.
    void upstream_reply(const reply& r);
    void upstream_written();
    // The provider connection failed during a transaction: the client gets a 4xx and may retry.
    void upstream_failed();

    bool in_data() const { return state_ == state::data; }
    bool has_open_transaction() const { return mail_accepted_; }
    std::error_code error() const { return error_; }

private:
    enum class state { greeting, command, sasl, authenticating, selecting, upstream, data, closing, closed };
    // What an outstanding upstream reply answers.
    enum class pending { none, mail, rcpt, data_start, data_end, rset, rset_then_ehlo, rset_then_helo };

    void on_line(std::string_view line);
    void on_command(const parsed_command& c);
    void on_ehlo(const parsed_command& c);
    void on_auth(const std::string& argument);
    void on_mail(const std::string& argument);
    void send_mail();
    void on_rcpt(const std::string& argument);
    void on_sasl_result(sasl::server_exchange::result r);
    void reset_transaction();
    void ehlo_reply();
    bool extension_ok(const path_parameter& p, std::string& reject_reply) const;
    bool has_upstream_extension(std::string_view keyword) const;
    void forward(std::string line, pending what);
    void say(std::string_view text) { out_ += std::string(text) + "\r\n"; }
    void relay_reply(const reply& r);
    void error_reply(std::string_view text); // counts toward max_errors
    void end(session_errc why) { error_ = make_error_code(why); state_ = state::closing; }
    bool login_permitted() const { return options_.tls_active || options_.plaintext_auth_allowed; }

    server_options options_;
    state state_ = state::greeting;
    client_input in_;
    std::string out_;
    std::string upstream_out_; // command line or DATA chunk for the provider
    pending pending_ = pending::none;
    bool want_tls_ = false;
    bool helo_seen_ = false;
    bool esmtp_ = false;
    bool authenticated_ = false;
    bool mail_accepted_ = false;
    bool data_rejected_ = false;
    bool abort_pending_ = false;
    bool data_end_next_ = false; // the chunk being written ends the data: the verdict follows
    bool lost_in_data_ = false;  // the provider failed while the client was still sending
    unsigned recipients_ = 0;
    unsigned auth_failures_ = 0;
    unsigned errors_ = 0;
    std::string user_;
    secret_string password_;
    std::string sender_;
    std::optional<mail_path> mail_;
    std::set<std::string> upstream_extensions_;
    sasl::server_exchange sasl_;
    std::optional<data_decoder> decoder_;
    std::error_code error_;
};

} // namespace mailgate::protocols::smtp
