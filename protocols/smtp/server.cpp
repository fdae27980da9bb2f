// SMTP server codec: client-facing state machine of the submission gateway.
#include "protocols/smtp/server.hpp"

#include "protocols/common/ascii.hpp"

#include <algorithm>
#include <charconv>

namespace mailgate::protocols::smtp {
namespace {

bool non_ascii(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

} // namespace

server::server(server_options options)
    : server_codec({.starttls_offered = options.starttls_offered,
                    .plaintext_login_allowed = options.plaintext_auth_allowed,
                    .tls_active = options.tls_active,
                    .max_failures = options.max_auth_failures,
                    .challenges = options.challenges},
                   options.max_line),
      options_(std::move(options)) {
    in_.lines().accept_bare_lf(options_.normalize_bare_lf);
}

std::string_view server::refusal_line(refusal why) {
    // RFC 5321 §3.1: a server that will not serve answers 554 (permanent) or 421 (try later) and closes.
    if (why == refusal::not_allowed) return "554 5.7.1 mailgate: your network is not allowed\r\n";
    return "421 4.7.0 mailgate: too many connections, try again later\r\n";
}

submission_action server::next() {
    for (;;) {
        // First, before the refusal reply is written: a refusal noticed while decoding a single read has
        // already left the data state, yet the provider still sits in DATA and must never see that message end.
        if (abort_owed_) {
            abort_owed_ = false;
            return transaction_step{transaction_step::kind::abort};
        }
        if (auto a = next_common()) return widen<submission_action>(std::move(*a));
        switch (step_) {
        case step::account: return transaction_step{transaction_step::kind::select_account};
        case step::reply: return transaction_step{transaction_step::kind::command, upstream_out_};
        case step::chunk: return transaction_step{transaction_step::kind::data, upstream_out_};
        case step::verdict: return transaction_step{transaction_step::kind::verdict};
        case step::client_data:
            if (auto a = take_data()) return std::move(*a);
            continue;
        }
    }
}

std::optional<submission_action> server::take_data() {
    if (in_.lines().buffered() > 0) {
        std::string chunk;
        std::size_t consumed = 0;
        bool was_discarding = decoder_->discarding();
        auto status = decoder_->decode(in_.lines().rest(), chunk, consumed);
        std::string_view taken;
        in_.lines().take_bytes(consumed, taken);
        if (!was_discarding && decoder_->discarding() && txn_ == transaction::data) {
            // Refused mid-stream: the provider must never complete this message, so its session is dropped.
            txn_ = transaction::refused;
            abort_owed_ = true;
        }
        if (status == data_decoder::status::rejected) {
            if (txn_ == transaction::lost)
                reply("451 4.4.1 Connection to the mail provider failed during DATA; message not sent, try "
                      "again");
            else if (decoder_->why() == data_decoder::reason::too_big)
                reply("552 5.3.4 Message size exceeds the fixed maximum message size");
            else if (decoder_->loose_end()) {
                // What follows a loose end may be a smuggled command: nothing more is read from this client.
                reply("554 5.6.0 Message refused: lines must end with CRLF, not a bare LF; closing");
                reset_transaction();
                end(session_errc::garbage);
                return std::nullopt;
            } else
                reply("554 5.6.0 Message refused: bare CR or LF in the data (SMTP smuggling protection)");
            reset_transaction();
            phase_ = phase::command;
            return std::nullopt;
        }
        if (txn_ == transaction::refused || txn_ == transaction::lost) return std::nullopt;
        if (status == data_decoder::status::end) {
            upstream_out_ = std::move(chunk); // ends with the ".\r\n" terminator
            txn_ = transaction::ending;
            step_ = step::chunk;
            return std::nullopt;
        }
        if (!chunk.empty()) {
            upstream_out_ = std::move(chunk);
            step_ = step::chunk;
            return std::nullopt;
        }
    }
    return widen<submission_action>(read_or_close(read_deadline::data));
}

void server::greet() { reply("220 " + options_.host_name + " ESMTP mailgate ready"); }

void server::on_line_too_long() {
    in_.skip_line();
    error_reply("500 5.5.2 Line too long");
}

void server::on_bare_lf() {
    reply("500 5.5.2 Lines must end with CRLF");
    end(session_errc::garbage);
}

void server::on_control_bytes() {
    reply("500 5.5.2 Invalid characters in command");
    end(session_errc::garbage);
}

void server::error_reply(std::string_view text) {
    reply(text);
    if (++errors_ >= options_.max_errors) {
        reply("421 4.7.0 Too many errors, closing connection");
        end(session_errc::too_many_failures);
    }
}

void server::forget_pre_tls_state() {
    // RFC 3207 §4.2: forget EHLO, AUTH and the envelope.
    hello_ = hello::none;
    authenticated_ = false;
    reset_transaction();
}

void server::reset_transaction() {
    txn_ = transaction::none;
    mail_.reset();
    recipients_ = 0;
    decoder_.reset();
}

void server::on_command_line(std::string_view line) {
    auto c = parse_command(line);
    on_command(c);
    // AUTH with an initial response holds the password. Only then: the buffer also carries DATA, where a
    // second pass over every byte would cost.
    if (c.verb == "AUTH") {
        wipe(c.argument);
        in_.lines().wipe_spent();
    }
}

void server::hello_reply() {
    if (hello_ != hello::ehlo) return reply("250 " + options_.host_name);
    std::string lines = "250-" + options_.host_name + " Hello [" + options_.client_address + "]\r\n";
    lines += "250-PIPELINING\r\n250-SIZE " + std::to_string(options_.max_message_size) + "\r\n";
    lines += "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n";
    if (starttls_offered()) lines += "250-STARTTLS\r\n";
    // "AUTH=" is the pre-RFC 2554 spelling Outlook Express and some printers still look for.
    if (login_permitted()) {
        auto names = advertised_mechanisms(" ");
        lines += "250-AUTH " + names + "\r\n250-AUTH=" + names + "\r\n";
    }
    lines += "250 HELP\r\n";
    queue(lines);
}

void server::on_command(const parsed_command& c) {
    const auto& verb = c.verb;
    if (verb == "EHLO" || verb == "HELO") return on_ehlo(c);
    if (verb == "NOOP") return reply("250 2.0.0 OK");
    if (verb == "QUIT") {
        reply("221 2.0.0 " + options_.host_name + " closing connection");
        return end(session_errc::client_quit);
    }
    if (verb == "RSET") {
        if (has_open_transaction()) return forward("RSET\r\n", answers::rset);
        reset_transaction();
        return reply("250 2.0.0 OK");
    }
    if (verb == "VRFY")
        return reply("252 2.5.0 Cannot VRFY user, but will accept the message and attempt delivery");
    if (verb == "HELP") return reply("214 2.0.0 mailgate: EHLO, AUTH, MAIL, RCPT, DATA, RSET, NOOP, QUIT");
    if (verb == "STARTTLS") {
        if (tls_active()) return error_reply("503 5.5.1 TLS already active");
        if (!starttls_offered()) return error_reply("502 5.5.1 STARTTLS not available");
        if (!c.argument.empty()) return error_reply("501 5.5.4 STARTTLS takes no parameters");
        reply("220 2.0.0 Ready to start TLS");
        begin_tls();
        return;
    }
    if (verb == "AUTH") return on_auth(c.argument);
    if (verb == "MAIL") return on_mail(c.argument);
    if (verb == "RCPT") return on_rcpt(c.argument);
    if (verb == "DATA") {
        if (!has_open_transaction() || recipients_ == 0)
            return error_reply("503 5.5.1 Need MAIL and RCPT before DATA");
        if (!c.argument.empty()) return error_reply("501 5.5.4 DATA takes no parameters");
        return forward("DATA\r\n", answers::data_start);
    }
    if (verb == "BDAT") return error_reply("502 5.5.1 CHUNKING is not supported");
    error_reply("500 5.5.2 Command unrecognized");
}

void server::on_ehlo(const parsed_command& c) {
    if (c.argument.empty()) return error_reply("501 5.5.4 " + c.verb + " needs a domain or address");
    hello_ = c.verb == "EHLO" ? hello::ehlo : hello::helo;
    // EHLO/HELO reset the transaction (RFC 5321 §4.1.4); the provider's half is reset too.
    if (has_open_transaction())
        return forward("RSET\r\n", hello_ == hello::ehlo ? answers::rset_then_ehlo : answers::rset_then_helo);
    reset_transaction();
    hello_reply();
}

void server::on_auth(const std::string& argument) {
    if (hello_ == hello::none) return error_reply("503 5.5.1 Send EHLO or HELO first");
    if (authenticated_) return error_reply("503 5.5.1 Already authenticated");
    if (has_open_transaction()) return error_reply("503 5.5.1 AUTH not allowed during a mail transaction");
    auto space = argument.find(' ');
    auto mechanism = accepted_mechanism(std::string_view(argument).substr(0, space));
    if (!mechanism) return error_reply("504 5.5.4 Unsupported authentication mechanism");
    if (!login_permitted())
        return error_reply("538 5.7.11 Encryption required for requested authentication mechanism");
    std::optional<std::string_view> initial;
    if (space != std::string::npos) initial = std::string_view(argument).substr(space + 1);
    begin_sasl(*mechanism, initial);
}

void server::on_sasl_refused(sasl::server_exchange::result why) {
    if (why == sasl::server_exchange::result::cancelled)
        return error_reply("501 5.0.0 Authentication cancelled");
    if (why == sasl::server_exchange::result::not_authorized)
        return error_reply("535 5.7.8 Logging in as another user is not supported");
    error_reply("501 5.5.2 Invalid SASL response");
}

void server::answer_login(login_outcome outcome, const provider_capabilities& extensions) {
    if (phase_ == phase::relaying && step_ == step::account) return account_chosen(outcome, extensions);
    switch (outcome) {
    case login_outcome::ok:
        authenticated_ = true;
        upstream_extensions_ = extensions;
        return reply("235 2.7.0 Authentication successful");
    case login_outcome::bad_credentials:
        reply("535 5.7.8 Authentication credentials invalid");
        login_failed();
        return;
    case login_outcome::provider_temp:
        return reply("454 4.7.0 Temporary authentication failure: the mail provider is not reachable");
    case login_outcome::provider_perm:
        return reply(
            "454 4.7.0 Temporary authentication failure: the mail provider refused the gateway's login");
    }
}

void server::on_too_many_failures() {
    reply("421 4.7.0 Too many failed authentications, closing connection");
}

bool server::has_upstream_extension(std::string_view keyword) const {
    for (const auto& e : upstream_extensions_)
        if (e == keyword || (e.starts_with(keyword) && e.size() > keyword.size() && e[keyword.size()] == ' '))
            return true;
    return false;
}

// Decides whether a MAIL/RCPT parameter can go upstream; false with a reply when the provider lacks the extension.
bool server::extension_ok(const path_parameter& p, std::string& reject) const {
    const auto& k = p.keyword;
    if (k == "SIZE" || k == "AUTH") return true; // advisory / ours: filtered when serializing
    if (k == "BODY") {
        auto v = ascii_upper(p.value);
        if (v == "7BIT") return true;
        if (v == "8BITMIME" && has_upstream_extension("8BITMIME")) return true;
        reject = "555 5.6.3 BODY=" + v + " is not supported by the mail provider";
        return false;
    }
    if (k == "SMTPUTF8") {
        if (has_upstream_extension("SMTPUTF8")) return true;
        reject = "555 5.6.7 The mail provider does not support SMTPUTF8";
        return false;
    }
    if (k == "RET" || k == "ENVID" || k == "NOTIFY" || k == "ORCPT") {
        if (has_upstream_extension("DSN")) return true;
        reject = "555 5.5.4 The mail provider does not support DSN (" + k + ")";
        return false;
    }
    reject = "555 5.5.4 Unsupported parameter " + k;
    return false;
}

void server::on_mail(const std::string& argument) {
    if (hello_ == hello::none) return error_reply("503 5.5.1 Send EHLO or HELO first");
    if (has_open_transaction()) return error_reply("503 5.5.1 Nested MAIL command");
    auto path = parse_path(argument, "FROM:");
    if (!path) return error_reply("501 5.5.4 Syntax: MAIL FROM:<address>");
    bool utf8 = false;
    for (const auto& p : path->parameters) {
        if (p.keyword == "SIZE") {
            std::uint64_t size = 0;
            auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), size);
            if (ec != std::errc{} || end != p.value.data() + p.value.size())
                return error_reply("501 5.5.4 Bad SIZE");
            if (size > options_.max_message_size)
                return reply("552 5.3.4 Message size exceeds the fixed maximum message size");
        }
        if (p.keyword == "SMTPUTF8") utf8 = true;
    }
    if (!utf8 && non_ascii(path->address)) return error_reply("553 5.6.7 Non-ASCII address needs SMTPUTF8");
    mail_ = std::move(*path);
    if (authenticated_) return send_mail();
    if (!options_.relay_allowed) {
        mail_.reset();
        return error_reply("530 5.7.0 Authentication required");
    }
    sender_ = mail_->address;
    step_ = step::account;
    relay();
}

void server::account_chosen(login_outcome outcome, const provider_capabilities& extensions) {
    phase_ = phase::command;
    switch (outcome) {
    case login_outcome::ok: upstream_extensions_ = extensions; return send_mail();
    case login_outcome::bad_credentials: // no account may send as this sender
        mail_.reset();
        return error_reply("550 5.7.1 Sender <" + sender_ + "> is not allowed to send through this gateway");
    case login_outcome::provider_temp:
        mail_.reset();
        return reply("451 4.4.1 The mail provider is not reachable right now, try again later");
    case login_outcome::provider_perm:
        mail_.reset();
        return reply("454 4.7.0 The mail provider refused the gateway's login; tell your administrator");
    }
}

void server::send_mail() {
    std::string reject;
    mail_path upstream{mail_->address, {}};
    for (const auto& p : mail_->parameters) {
        if (!extension_ok(p, reject)) {
            mail_.reset();
            return error_reply(reject);
        }
        if (p.keyword == "AUTH" || (p.keyword == "SIZE" && !has_upstream_extension("SIZE"))) continue;
        upstream.parameters.push_back(p);
    }
    forward("MAIL FROM:" + serialize(upstream) + "\r\n", answers::mail);
}

void server::on_rcpt(const std::string& argument) {
    if (!has_open_transaction()) return error_reply("503 5.5.1 Need MAIL before RCPT");
    if (recipients_ >= options_.max_recipients) return reply("452 4.5.3 Too many recipients");
    auto path = parse_path(argument, "TO:");
    if (!path || path->address.empty()) return error_reply("501 5.5.4 Syntax: RCPT TO:<address>");
    // RFC 6531 §3.4: a non-ASCII recipient only in a transaction that MAIL opened with SMTPUTF8.
    bool utf8 = std::any_of(mail_->parameters.begin(), mail_->parameters.end(),
                            [](const path_parameter& p) { return p.keyword == "SMTPUTF8"; });
    if (!utf8 && non_ascii(path->address)) return error_reply("553 5.6.7 Non-ASCII address needs SMTPUTF8");
    std::string reject;
    for (const auto& p : path->parameters)
        if (!extension_ok(p, reject) || p.keyword == "SIZE" || p.keyword == "AUTH" || p.keyword == "BODY")
            return error_reply(reject.empty() ? "555 5.5.4 Unsupported parameter " + p.keyword : reject);
    forward("RCPT TO:" + serialize(*path) + "\r\n", answers::rcpt);
}

void server::forward(std::string line, answers what) {
    upstream_out_ = std::move(line);
    answers_ = what;
    step_ = step::reply;
    relay();
}

void server::relay_reply(const smtp::reply& r) {
    // Re-serialized line by line: the provider's text reaches the client, its framing never does.
    for (std::size_t i = 0; i < r.lines.size(); ++i) {
        std::string text;
        for (char c : r.lines[i]) text += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
        reply(std::to_string(r.code) + (i + 1 < r.lines.size() ? "-" : " ") + text);
    }
}

void server::upstream_written() {
    upstream_out_.clear();
    // The terminator went out with the last chunk: now the verdict.
    step_ = txn_ == transaction::ending ? step::verdict : step::client_data;
}

void server::upstream_reply(const smtp::reply& r) {
    upstream_out_.clear();
    phase_ = phase::command;
    bool positive = r.code >= 200 && r.code < 300;
    if (step_ == step::verdict) {
        // The client hears 250 only because the provider said 250.
        relay_reply(r);
        reset_transaction();
        return;
    }
    switch (answers_) {
    case answers::mail:
        relay_reply(r);
        txn_ = positive ? transaction::open : transaction::none;
        if (!positive) mail_.reset();
        return;
    case answers::rcpt:
        relay_reply(r);
        if (positive) ++recipients_;
        return;
    case answers::data_start:
        relay_reply(r);
        if (r.code == 354) {
            decoder_.emplace(options_.max_message_size, options_.normalize_bare_lf
                                                            ? data_decoder::line_ends::normalize
                                                            : data_decoder::line_ends::strict);
            txn_ = transaction::data;
            step_ = step::client_data;
            relay();
        }
        return;
    case answers::rset:
        relay_reply(r);
        reset_transaction();
        return;
    case answers::rset_then_ehlo:
    case answers::rset_then_helo:
        reset_transaction();
        hello_reply();
        return;
    }
}

void server::upstream_failed() {
    upstream_out_.clear();
    bool chunk = step_ == step::chunk;
    if (chunk && txn_ == transaction::data) {
        // The client is still sending: swallow its data to the end marker, then answer 451.
        txn_ = transaction::lost;
        decoder_->abandon();
        step_ = step::client_data;
        return;
    }
    phase_ = phase::command;
    if (step_ == step::reply &&
        (answers_ == answers::rset_then_ehlo || answers_ == answers::rset_then_helo)) {
        // The EHLO/HELO is ours to answer; the transaction it resets went away with the provider anyway.
        reset_transaction();
        hello_reply();
        return;
    }
    if (chunk || step_ == step::verdict) {
        // The end of data went (or may have gone) out and its reply is lost: the provider may have taken the
        // message. Asking for a retry risks a duplicate, which is better than a loss; claiming nothing was sent
        // would be a lie.
        reply("451 4.4.1 Connection to the mail provider lost after the end of the message; it may have been "
              "delivered: try again (a duplicate is possible)");
    } else {
        reply("451 4.4.1 Connection to the mail provider failed; nothing was sent, try again later");
    }
    reset_transaction();
}

} // namespace mailgate::protocols::smtp
