// SMTP server codec: client-facing state machine of the submission gateway.
#include "protocols/smtp/server.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/client_bytes.hpp"

#include <algorithm>
#include <charconv>

namespace mailgate::protocols::smtp {
namespace {


bool non_ascii(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}


} // namespace

server::server(server_options options) : options_(std::move(options)), in_(options_.max_line) {}

void server::received(std::string_view bytes) {
    if (!in_.receive(bytes, options_.tls_active)) {
        error_ = make_error_code(session_errc::tls_on_plaintext);
        state_ = state::closed;
    }
}

action server::next() {
    for (;;) {
        // First, before the refusal reply is written: a refusal noticed while decoding a single read has
        // already left the data state, yet the provider still sits in DATA and must never see that message end.
        if (abort_pending_) {
            abort_pending_ = false;
            return {action_kind::upstream_abort};
        }
        if (!out_.empty()) return {action_kind::write, out_};
        switch (state_) {
        case state::greeting:
            say("220 " + options_.host_name + " ESMTP mailgate ready");
            state_ = state::command;
            continue;
        case state::closing: state_ = state::closed; [[fallthrough]];
        case state::closed: return {action_kind::close};
        case state::authenticating: return {action_kind::authenticate};
        case state::selecting: return {action_kind::select_account};
        case state::upstream:
            return {pending_ == pending::none ? action_kind::upstream_data : action_kind::upstream_command,
                    upstream_out_};
        case state::data: {
            if (in_.lines().buffered() > 0) {
                std::string chunk;
                std::size_t consumed = 0;
                bool was_discarding = decoder_->discarding();
                auto status = decoder_->decode(in_.lines().rest(), chunk, consumed);
                std::string_view taken;
                in_.lines().take_bytes(consumed, taken);
                if (!was_discarding && decoder_->discarding() && !data_rejected_ && !lost_in_data_) {
                    // Refused mid-stream: the provider must never complete this message, so its session is dropped.
                    data_rejected_ = true;
                    abort_pending_ = true;
                }
                if (status == data_decoder::status::rejected) {
                    if (lost_in_data_)
                        say("451 4.4.1 Connection to the mail provider failed during DATA; message not sent, try again");
                    else if (decoder_->why() == data_decoder::reason::too_big)
                        say("552 5.3.4 Message size exceeds the fixed maximum message size");
                    else
                        say("554 5.6.0 Message refused: bare CR or LF in the data (SMTP smuggling protection)");
                    reset_transaction();
                    state_ = state::command;
                    continue;
                }
                if (data_rejected_) continue;
                if (status == data_decoder::status::end) {
                    upstream_out_ = std::move(chunk); // ends with the ".\r\n" terminator
                    pending_ = pending::none;
                    data_end_next_ = true;
                    state_ = state::upstream;
                    continue;
                }
                if (!chunk.empty()) {
                    upstream_out_ = std::move(chunk);
                    pending_ = pending::none;
                    state_ = state::upstream;
                    continue;
                }
            }
            if (in_.client_closed()) {
                error_ = make_error_code(session_errc::client_closed);
                state_ = state::closed;
                continue;
            }
            return {action_kind::read};
        }
        case state::command:
        case state::sasl: break;
        }
        if (want_tls_) {
            in_.lines().clear(); // CVE-2011-0411 / CVE-2014-3556: nothing pipelined before TLS is executed
            return {action_kind::start_tls};
        }
        std::string_view line;
        switch (in_.lines().next_line(line)) {
        case line_buffer::result::line: on_line(line); continue;
        case line_buffer::result::too_long:
            in_.skip_line();
            error_reply("500 5.5.2 Line too long");
            continue;
        case line_buffer::result::bare_lf:
            say("500 5.5.2 Lines must end with CRLF");
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

void server::error_reply(std::string_view text) {
    say(text);
    if (++errors_ >= options_.max_errors) {
        say("421 4.7.0 Too many errors, closing connection");
        end(session_errc::too_many_failures);
    }
}

void server::tls_started() {
    want_tls_ = false;
    options_.tls_active = true;
    options_.starttls_offered = false;
    // RFC 3207 §4.2: forget EHLO, AUTH and the envelope.
    helo_seen_ = esmtp_ = authenticated_ = false;
    reset_transaction();
    sasl_.clear();
    password_.clear();
    state_ = state::command;
}

void server::reset_transaction() {
    mail_accepted_ = false;
    mail_.reset();
    recipients_ = 0;
    decoder_.reset();
    data_rejected_ = false;
    data_end_next_ = false;
    lost_in_data_ = false;
}

void server::on_line(std::string_view line) {
    if (has_control_bytes(line)) {
        say("500 5.5.2 Invalid characters in command");
        end(session_errc::garbage);
        if (state_ == state::sasl) in_.lines().wipe_spent();
        return;
    }
    if (state_ == state::sasl) {
        on_sasl_result(sasl_.step(line));
        in_.lines().wipe_spent(); // the response holds the password
        return;
    }
    auto c = parse_command(line);
    on_command(c);
    // AUTH with an initial response holds the password. Only then: the buffer also carries DATA, where a
    // second pass over every byte would cost.
    if (c.verb == "AUTH") {
        wipe(c.argument);
        in_.lines().wipe_spent();
    }
}

void server::ehlo_reply() {
    std::string lines = "250-" + options_.host_name + " Hello [" + options_.client_address + "]\r\n";
    lines += "250-PIPELINING\r\n250-SIZE " + std::to_string(options_.max_message_size) + "\r\n";
    lines += "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n";
    if (options_.starttls_offered && !options_.tls_active) lines += "250-STARTTLS\r\n";
    // "AUTH=" is the pre-RFC 2554 spelling Outlook Express and some printers still look for.
    if (login_permitted()) lines += "250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n";
    lines += "250 HELP\r\n";
    out_ += lines;
}

void server::on_command(const parsed_command& c) {
    const auto& verb = c.verb;
    if (verb == "EHLO" || verb == "HELO") return on_ehlo(c);
    if (verb == "NOOP") return say("250 2.0.0 OK");
    if (verb == "QUIT") {
        say("221 2.0.0 " + options_.host_name + " closing connection");
        return end(session_errc::client_quit);
    }
    if (verb == "RSET") {
        if (mail_accepted_) return forward("RSET\r\n", pending::rset);
        reset_transaction();
        return say("250 2.0.0 OK");
    }
    if (verb == "VRFY") return say("252 2.5.0 Cannot VRFY user, but will accept the message and attempt delivery");
    if (verb == "HELP") return say("214 2.0.0 mailgate: EHLO, AUTH, MAIL, RCPT, DATA, RSET, NOOP, QUIT");
    if (verb == "STARTTLS") {
        if (options_.tls_active) return error_reply("503 5.5.1 TLS already active");
        if (!options_.starttls_offered) return error_reply("502 5.5.1 STARTTLS not available");
        if (!c.argument.empty()) return error_reply("501 5.5.4 STARTTLS takes no parameters");
        say("220 2.0.0 Ready to start TLS");
        want_tls_ = true;
        return;
    }
    if (verb == "AUTH") return on_auth(c.argument);
    if (verb == "MAIL") return on_mail(c.argument);
    if (verb == "RCPT") return on_rcpt(c.argument);
    if (verb == "DATA") {
        if (!mail_accepted_ || recipients_ == 0) return error_reply("503 5.5.1 Need MAIL and RCPT before DATA");
        if (!c.argument.empty()) return error_reply("501 5.5.4 DATA takes no parameters");
        return forward("DATA\r\n", pending::data_start);
    }
    if (verb == "BDAT") return error_reply("502 5.5.1 CHUNKING is not supported");
    error_reply("500 5.5.2 Command unrecognized");
}

void server::on_ehlo(const parsed_command& c) {
    if (c.argument.empty()) return error_reply("501 5.5.4 " + c.verb + " needs a domain or address");
    helo_seen_ = true;
    esmtp_ = c.verb == "EHLO";
    bool open = mail_accepted_;
    // EHLO/HELO reset the transaction (RFC 5321 §4.1.4); the provider's half is reset too.
    if (open) return forward("RSET\r\n", esmtp_ ? pending::rset_then_ehlo : pending::rset_then_helo);
    reset_transaction();
    if (esmtp_)
        ehlo_reply();
    else
        say("250 " + options_.host_name);
}

void server::on_auth(const std::string& argument) {
    if (!helo_seen_) return error_reply("503 5.5.1 Send EHLO or HELO first");
    if (authenticated_) return error_reply("503 5.5.1 Already authenticated");
    if (mail_accepted_) return error_reply("503 5.5.1 AUTH not allowed during a mail transaction");
    auto space = argument.find(' ');
    auto mechanism = sasl::parse_mechanism(std::string_view(argument).substr(0, space));
    if (!mechanism) return error_reply("504 5.5.4 Unsupported authentication mechanism");
    if (!login_permitted()) return error_reply("538 5.7.11 Encryption required for requested authentication mechanism");
    std::optional<std::string_view> initial;
    if (space != std::string::npos) initial = std::string_view(argument).substr(space + 1);
    on_sasl_result(sasl_.start(*mechanism, initial));
}

void server::on_sasl_result(sasl::server_exchange::result r) {
    using result = sasl::server_exchange::result;
    switch (r) {
    case result::challenge:
        say("334 " + sasl_.challenge());
        state_ = state::sasl;
        return;
    case result::done:
        user_ = sasl_.user();
        password_.assign(sasl_.password());
        sasl_.clear();
        state_ = state::authenticating;
        return;
    case result::failed:
        state_ = state::command;
        return error_reply("501 5.5.2 Invalid SASL response");
    case result::cancelled:
        state_ = state::command;
        return error_reply("501 5.0.0 Authentication cancelled");
    }
}

void server::login_result(login_outcome outcome, const std::set<std::string>& extensions) {
    password_.clear(); // handed out with `authenticate`: no longer ours to keep
    state_ = state::command;
    switch (outcome) {
    case login_outcome::ok:
        authenticated_ = true;
        upstream_extensions_ = extensions;
        return say("235 2.7.0 Authentication successful");
    case login_outcome::bad_credentials:
        say("535 5.7.8 Authentication credentials invalid");
        if (++auth_failures_ >= options_.max_auth_failures) {
            say("421 4.7.0 Too many failed authentications, closing connection");
            end(session_errc::too_many_failures);
        }
        return;
    case login_outcome::provider_temp:
        return say("454 4.7.0 Temporary authentication failure: the mail provider is not reachable");
    case login_outcome::provider_perm:
        return say("454 4.7.0 Temporary authentication failure: the mail provider refused the gateway's login");
    }
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
    if (!helo_seen_) return error_reply("503 5.5.1 Send EHLO or HELO first");
    if (mail_accepted_) return error_reply("503 5.5.1 Nested MAIL command");
    auto path = parse_path(argument, "FROM:");
    if (!path) return error_reply("501 5.5.4 Syntax: MAIL FROM:<address>");
    bool utf8 = false;
    for (const auto& p : path->parameters) {
        if (p.keyword == "SIZE") {
            std::uint64_t size = 0;
            auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), size);
            if (ec != std::errc{} || end != p.value.data() + p.value.size()) return error_reply("501 5.5.4 Bad SIZE");
            if (size > options_.max_message_size)
                return say("552 5.3.4 Message size exceeds the fixed maximum message size");
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
    state_ = state::selecting;
}

void server::account_result(account_outcome outcome, const std::set<std::string>& extensions) {
    state_ = state::command;
    switch (outcome) {
    case account_outcome::ok:
        upstream_extensions_ = extensions;
        return send_mail();
    case account_outcome::no_account:
        mail_.reset();
        return error_reply("550 5.7.1 Sender <" + sender_ + "> is not allowed to send through this gateway");
    case account_outcome::provider_temp:
        mail_.reset();
        return say("451 4.4.1 The mail provider is not reachable right now, try again later");
    case account_outcome::provider_perm:
        mail_.reset();
        return say("454 4.7.0 The mail provider refused the gateway's login; tell your administrator");
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
    forward("MAIL FROM:" + serialize(upstream) + "\r\n", pending::mail);
}

void server::on_rcpt(const std::string& argument) {
    if (!mail_accepted_) return error_reply("503 5.5.1 Need MAIL before RCPT");
    if (recipients_ >= options_.max_recipients) return say("452 4.5.3 Too many recipients");
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
    forward("RCPT TO:" + serialize(*path) + "\r\n", pending::rcpt);
}

void server::forward(std::string line, pending what) {
    upstream_out_ = std::move(line);
    pending_ = what;
    state_ = state::upstream;
}

void server::relay_reply(const reply& r) {
    // Re-serialized line by line: the provider's text reaches the client, its framing never does.
    for (std::size_t i = 0; i < r.lines.size(); ++i) {
        std::string text;
        for (char c : r.lines[i]) text += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
        out_ += std::to_string(r.code) + (i + 1 < r.lines.size() ? "-" : " ") + text + "\r\n";
    }
}

void server::upstream_written() {
    upstream_out_.clear();
    if (data_end_next_) {
        data_end_next_ = false;
        forward({}, pending::data_end); // the terminator went out with the last chunk: now the verdict
        return;
    }
    state_ = state::data;
}

void server::upstream_reply(const reply& r) {
    auto what = pending_;
    pending_ = pending::none;
    upstream_out_.clear();
    state_ = state::command;
    bool positive = r.code >= 200 && r.code < 300;
    switch (what) {
    case pending::mail:
        relay_reply(r);
        mail_accepted_ = positive;
        if (!positive) mail_.reset();
        return;
    case pending::rcpt:
        relay_reply(r);
        if (positive) ++recipients_;
        return;
    case pending::data_start:
        relay_reply(r);
        if (r.code == 354) {
            decoder_.emplace(options_.max_message_size);
            state_ = state::data;
        }
        return;
    case pending::data_end:
        // The client hears 250 only because the provider said 250.
        relay_reply(r);
        reset_transaction();
        return;
    case pending::rset:
        relay_reply(r);
        reset_transaction();
        return;
    case pending::rset_then_ehlo:
    case pending::rset_then_helo:
        reset_transaction();
        if (what == pending::rset_then_ehlo)
            ehlo_reply();
        else
            say("250 " + options_.host_name);
        return;
    case pending::none: return;
    }
}

void server::upstream_failed() {
    auto what = pending_;
    pending_ = pending::none;
    upstream_out_.clear();
    bool data_in_flight = decoder_.has_value() && (what == pending::none || what == pending::data_end);
    if (data_in_flight && !data_end_next_ && what == pending::none) {
        // The client is still sending: swallow its data to the end marker, then answer 451.
        data_rejected_ = true;
        lost_in_data_ = true;
        decoder_->abandon();
        state_ = state::data;
        return;
    }
    if (what == pending::rset_then_ehlo || what == pending::rset_then_helo) {
        // The EHLO/HELO is ours to answer; the transaction it resets went away with the provider anyway.
        reset_transaction();
        state_ = state::command;
        if (what == pending::rset_then_ehlo)
            ehlo_reply();
        else
            say("250 " + options_.host_name);
        return;
    }
    if (data_in_flight) {
        // The end of data went (or may have gone) out and its reply is lost: the provider may have taken the
        // message. Asking for a retry risks a duplicate, which is better than a loss; claiming nothing was sent
        // would be a lie.
        say("451 4.4.1 Connection to the mail provider lost after the end of the message; it may have been "
            "delivered: try again (a duplicate is possible)");
    } else {
        say("451 4.4.1 Connection to the mail provider failed; nothing was sent, try again later");
    }
    reset_transaction();
    state_ = state::command;
}

} // namespace mailgate::protocols::smtp
