// SMTP submission server codec facing legacy senders (RFC 5321, 4954 AUTH, 3207 STARTTLS, 1870 SIZE, 6152
// 8BITMIME, 2920 PIPELINING, 2034 ENHANCEDSTATUSCODES, 6531 SMTPUTF8, 3461 DSN). It never relays bytes blindly:
// every MAIL, RCPT and DATA is parsed, checked and re-serialized for the provider, and DATA is streamed through
// the data_decoder so that no bare CR or LF ever reaches the provider.
//
// Flow: the shared phases of server_codec (greeting, command, sasl, authenticating, closing), and in `relaying`
// the transaction steps (transaction_step): `select_account` (MAIL without AUTH from a relay network; answered
// with login_result(), bad_credentials meaning "no account may send as this sender"), `command` (MAIL, RCPT,
// DATA, RSET for the provider: answer with upstream_reply()), `data` (a chunk of decoded DATA: answer with
// upstream_written()), `verdict` (the end of DATA went out: answer with upstream_reply()), `abort` (drop the
// provider session: a refused message must never complete there). upstream_failed() answers any of them when
// the provider connection broke. The client hears 250 for a message only because the provider said 250.
#pragma once

#include "protocols/common/server_codec.hpp"
#include "protocols/smtp/command.hpp"
#include "protocols/smtp/data_decoder.hpp"
#include "protocols/smtp/reply.hpp"

#include <cstdint>
#include <optional>
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
    // smtp.bare_lf = normalize: a bare LF ends command lines and message lines as CRLF would (old devices). The
    // risk: behind a relay that passes bare LFs through, "\n.\n" in a message ends it here (SMTP smuggling).
    bool normalize_bare_lf = false;
    challenge_logins challenges{}; // AUTH CRAM-MD5
};

class server final : public server_codec {
public:
    explicit server(server_options options);

    submission_action next();
    std::string_view goodbye() const override { return "421 4.3.2 mailgate is shutting down\r\n"; }
    static std::string_view refusal_line(refusal why);

    // `select_account`: the MAIL FROM address that picks the account.
    const std::string& sender() const { return sender_; }

    // `command` and `verdict`: the provider's reply. `data`: the chunk was written.
    void upstream_reply(const smtp::reply& r);
    void upstream_written();
    // The provider connection failed during a transaction step: the client gets a 4xx and may retry.
    void upstream_failed();

    // The client is sending DATA (a reply of ours now would be read as part of the message).
    bool in_data() const { return phase_ == phase::relaying && step_ == step::client_data; }
    bool has_open_transaction() const { return txn_ != transaction::none; }

private:
    // The mail transaction (RFC 5321 §3.3).
    enum class transaction {
        none,    // no MAIL accepted
        open,    // MAIL accepted by the provider; RCPT and DATA may follow
        data,    // the provider said 354: client data is decoded and forwarded
        refused, // data refused midway (size, bare CR/LF): swallowed to the end marker, then refused
        lost,    // the provider failed midway: swallowed to the end marker, then 451
        ending,  // the chunk being written ends the data: the verdict follows
    };
    // What the `relaying` phase waits for.
    enum class step { account, reply, chunk, verdict, client_data };
    // What the outstanding provider reply answers.
    enum class answers { mail, rcpt, data_start, rset, rset_then_ehlo, rset_then_helo };
    enum class hello { none, helo, ehlo };

    void greet() override;
    void on_command_line(std::string_view line) override;
    void on_line_too_long() override;
    void on_bare_lf() override;
    void on_control_bytes() override;
    std::string_view sasl_challenge_prefix() const override { return "334 "; }
    void on_sasl_refused(sasl::server_exchange::result why) override;
    void answer_login(login_outcome outcome, const provider_capabilities& capabilities) override;
    void on_too_many_failures() override;
    void forget_pre_tls_state() override;

    std::optional<submission_action> take_data();
    void on_command(const parsed_command& c);
    void on_ehlo(const parsed_command& c);
    void on_auth(const std::string& argument);
    void on_mail(const std::string& argument);
    void account_chosen(login_outcome outcome, const provider_capabilities& extensions);
    void send_mail();
    void on_rcpt(const std::string& argument);
    void reset_transaction();
    void hello_reply();
    bool extension_ok(const path_parameter& p, std::string& reject_reply) const;
    bool has_upstream_extension(std::string_view keyword) const;
    void forward(std::string line, answers what);
    void relay_reply(const smtp::reply& r);
    void error_reply(std::string_view text); // counts toward max_errors

    server_options options_;
    hello hello_ = hello::none;
    bool authenticated_ = false;
    transaction txn_ = transaction::none;
    step step_ = step::reply;
    answers answers_ = answers::mail;
    bool abort_owed_ = false;  // a refusal noticed in DATA: `abort` goes out before anything else
    std::string upstream_out_; // command line or DATA chunk for the provider
    unsigned recipients_ = 0;
    unsigned errors_ = 0;
    std::string sender_;
    std::optional<mail_path> mail_;
    provider_capabilities upstream_extensions_;
    std::optional<data_decoder> decoder_;
};

} // namespace mailgate::protocols::smtp
