// POP3 maildrop codec: the TRANSACTION commands over a snapshot, RETR/TOP streaming, the UPDATE commit.
#include "protocols/pop3/maildrop.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/client_bytes.hpp"
#include "protocols/pop3/line_errors.hpp"

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace mailgate::protocols::pop3 {
namespace {

// RFC 1939 §7: "The unique-id of a message ... consists of one to 70 characters in the range 0x21 to 0x7E".
bool valid_uidl(std::string_view uidl) {
    if (uidl.empty() || uidl.size() > 70) return false;
    for (char c : uidl)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

// A decimal number of digits only (no sign, no space); values past 2^64 - 1 saturate, which is out of range
// for a message number and "the whole body" for a line count.
std::optional<std::uint64_t> parse_number(std::string_view text) {
    if (text.empty()) return std::nullopt;
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        auto digit = static_cast<std::uint64_t>(c - '0');
        value = value > (max - digit) / 10 ? max : value * 10 + digit;
    }
    return value;
}

// RFC 1939 §3: "Keywords and arguments are ... separated by a single SPACE character". An empty argument (two
// spaces, a trailing space) is malformed, not skipped: strict by default.
struct arguments {
    std::string_view first, second;
    std::size_t count = 0;
};
enum class args_error { none, missing, too_many, malformed };

args_error split(std::optional<std::string_view> rest, std::size_t min, std::size_t max, arguments& out) {
    if (rest) {
        for (;;) {
            auto space = rest->find(' ');
            auto token = rest->substr(0, space);
            if (token.empty()) return args_error::malformed;
            if (out.count == max) return args_error::too_many;
            (out.count == 0 ? out.first : out.second) = token;
            ++out.count;
            if (space == std::string_view::npos) break;
            rest->remove_prefix(space + 1);
        }
    }
    return out.count < min ? args_error::missing : args_error::none;
}

} // namespace

maildrop::maildrop(std::vector<maildrop_message> messages, maildrop_options options)
    : messages_(std::move(messages)), deleted_(messages_.size(), false), in_(options.max_line) {
    std::unordered_set<std::string_view> seen;
    for (const auto& m : messages_) {
        if (!valid_uidl(m.uidl) || !seen.insert(m.uidl).second) {
            // Nothing is written: a reply nobody asked for would be taken as the answer to the next command.
            error_ = make_error_code(session_errc::internal_error);
            phase_ = phase::closed;
            return;
        }
    }
}

maildrop_action maildrop::next() {
    for (;;) {
        if (!out_.empty()) return write_output{out_};
        switch (phase_) {
        case phase::closing: phase_ = phase::closed; [[fallthrough]];
        case phase::closed: return session_step::close;
        case phase::retrieving:
            return maildrop_step{.what = maildrop_step::kind::retrieve, .index = index_, .top_lines = top_};
        case phase::committing: {
            maildrop_step commit{.what = maildrop_step::kind::commit};
            for (std::size_t i = 0; i < deleted_.size(); ++i)
                if (deleted_[i]) commit.deleted.push_back(i);
            return commit;
        }
        case phase::command: break;
        }
        std::string_view line;
        switch (in_.lines().next_line(line)) {
        case line_buffer::result::line:
            if (has_control_bytes(line)) {
                reply(line_errors::control_bytes);
                end(session_errc::garbage);
            } else {
                on_line(line);
            }
            continue;
        case line_buffer::result::too_long:
            reply(line_errors::too_long);
            end(session_errc::line_too_long);
            continue;
        case line_buffer::result::bare_lf:
            reply(line_errors::bare_lf);
            end(session_errc::garbage);
            continue;
        case line_buffer::result::need_more: break;
        }
        if (!in_.client_closed()) return read_input{};
        // RFC 1939 §6: without QUIT there is no UPDATE state; nothing is deleted.
        error_ = make_error_code(session_errc::client_closed);
        phase_ = phase::closed;
    }
}

void maildrop::wrote() {
    out_.clear();
    // A finished message or a long listing leaves a large buffer behind: not kept while the session idles.
    if (phase_ != phase::retrieving && out_.capacity() > 4096) std::string().swap(out_);
}

void maildrop::received(std::string_view bytes) {
    // Past the login: these are never a connection's first bytes, so no check for a TLS handshake.
    in_.receive(bytes, /*tls_active=*/true);
}

std::size_t maildrop::buffered() const {
    return in_.lines().buffered() + out_.size() + (pending_cr_ ? 1 : 0);
}

void maildrop::end(session_errc why) {
    error_ = make_error_code(why);
    phase_ = phase::closing;
}

std::uint64_t maildrop::octets() const {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < messages_.size(); ++i)
        if (!deleted_[i]) sum += messages_[i].size;
    return sum;
}

void maildrop::on_line(std::string_view line) {
    auto space = line.find(' ');
    auto keyword = ascii_upper(line.substr(0, space));
    std::optional<std::string_view> rest;
    if (space != std::string_view::npos) rest = line.substr(space + 1);
    on_command(keyword, rest);
}

// `rest`: what follows the keyword's space; none without a space ("STAT" has no argument, "STAT " an empty one).
void maildrop::on_command(std::string_view keyword, std::optional<std::string_view> rest) {
    struct arity {
        std::string_view keyword;
        std::size_t min, max;
    };
    static constexpr arity arities[] = {{"STAT", 0, 0}, {"LIST", 0, 1}, {"UIDL", 0, 1}, {"RETR", 1, 1},
                                        {"TOP", 2, 2},  {"DELE", 1, 1}, {"RSET", 0, 0}, {"NOOP", 0, 0},
                                        {"QUIT", 0, 0}, {"CAPA", 0, 0}};
    const arity* known = nullptr;
    for (const auto& a : arities)
        if (a.keyword == keyword) known = &a;
    if (known == nullptr) {
        // RFC 1939 §4: the AUTHORIZATION commands are not valid in the TRANSACTION state.
        if (keyword == "USER" || keyword == "PASS" || keyword == "APOP" || keyword == "AUTH" ||
            keyword == "STLS")
            return reply("-ERR Already logged in");
        return reply("-ERR Unknown command");
    }
    arguments args;
    switch (split(rest, known->min, known->max, args)) {
    case args_error::none: break;
    case args_error::missing:
        return reply(keyword == "TOP" ? "-ERR TOP needs a message number and a line count"
                                      : "-ERR Message number required");
    case args_error::too_many: return reply("-ERR Too many arguments");
    case args_error::malformed: return reply("-ERR Arguments are separated by a single space");
    }

    if (keyword == "STAT") {
        // RFC 1939 §5: deleted messages are not counted.
        reply("+OK " + std::to_string(messages_.size() - deleted_count_) + " " + std::to_string(octets()));
    } else if (keyword == "LIST" || keyword == "UIDL") {
        bool uidl = keyword == "UIDL";
        if (args.count == 1) {
            auto i = message_arg(args.first);
            if (!i) return;
            reply("+OK " + std::to_string(*i + 1) + " " +
                  (uidl ? messages_[*i].uidl : std::to_string(messages_[*i].size)));
            return;
        }
        if (uidl)
            reply("+OK unique-id listing follows");
        else
            reply("+OK " + std::to_string(messages_.size() - deleted_count_) + " messages (" +
                  std::to_string(octets()) + " octets)");
        for (std::size_t i = 0; i < messages_.size(); ++i) {
            if (deleted_[i]) continue;
            // Neither a number nor a valid UIDL starts with "." (RFC 1939 §7): no dot-stuffing needed.
            reply(std::to_string(i + 1) + " " +
                  (uidl ? messages_[i].uidl : std::to_string(messages_[i].size)));
        }
        reply(".");
    } else if (keyword == "RETR") {
        if (auto i = message_arg(args.first)) begin_retrieve(*i, std::nullopt);
    } else if (keyword == "TOP") {
        auto i = message_arg(args.first);
        if (!i) return;
        auto lines = parse_number(args.second);
        if (!lines) return reply("-ERR Invalid line count");
        auto capped = std::min<std::uint64_t>(*lines, std::numeric_limits<std::size_t>::max());
        begin_retrieve(*i, static_cast<std::size_t>(capped));
    } else if (keyword == "DELE") {
        auto i = message_arg(args.first);
        if (!i) return;
        deleted_[*i] = true;
        ++deleted_count_;
        reply("+OK message " + std::to_string(*i + 1) + " deleted");
    } else if (keyword == "RSET") {
        deleted_.assign(deleted_.size(), false);
        deleted_count_ = 0;
        reply("+OK maildrop has " + std::to_string(messages_.size()) + " messages (" +
              std::to_string(octets()) + " octets)");
    } else if (keyword == "NOOP") {
        reply("+OK");
    } else if (keyword == "QUIT") {
        quit();
    } else { // CAPA (RFC 2449 §5): what works after login; no USER, SASL or STLS any more.
        out_ += "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
                "IMPLEMENTATION mailgate\r\n.\r\n";
    }
}

std::optional<std::size_t> maildrop::message_arg(std::string_view arg) {
    auto n = parse_number(arg);
    if (!n) {
        reply("-ERR Invalid message number");
        return std::nullopt;
    }
    if (*n == 0 || *n > messages_.size()) {
        reply("-ERR no such message");
        return std::nullopt;
    }
    auto i = static_cast<std::size_t>(*n - 1);
    if (deleted_[i]) {
        reply("-ERR message " + std::to_string(*n) + " already deleted");
        return std::nullopt;
    }
    return i;
}

void maildrop::quit() {
    if (deleted_count_ == 0) {
        reply("+OK mailgate POP3 signing off");
        return end(session_errc::client_quit);
    }
    phase_ = phase::committing; // RFC 1939 §6: the UPDATE state
}

void maildrop::commit_result(bool ok) {
    if (phase_ != phase::committing) return;
    if (!ok) {
        // RFC 1939 §6's own example; RFC 3206 SYS/TEMP: the client may try again in its next session.
        reply("-ERR [SYS/TEMP] some deleted messages not removed");
        return end(session_errc::upstream_failed);
    }
    reply("+OK mailgate POP3 signing off (" + std::to_string(deleted_count_) + " messages deleted)");
    end(session_errc::client_quit);
}

// ---- Streaming a message

void maildrop::begin_retrieve(std::size_t index, std::optional<std::size_t> top_lines) {
    phase_ = phase::retrieving;
    index_ = index;
    top_ = top_lines;
    status_sent_ = false;
    line_start_ = true;
    pending_cr_ = false;
    in_header_ = true;
    body_lines_left_ = top_lines.value_or(0);
    message_octets_ = 0;
}

void maildrop::start_output() {
    if (status_sent_) return;
    status_sent_ = true;
    // Sent with the first bytes, not before the fetch: a provider that fails at once gets the client an -ERR.
    if (top_)
        reply("+OK top of message follows");
    else
        reply("+OK " + std::to_string(messages_[index_].size) + " octets");
}

void maildrop::emit(std::string_view run) {
    if (run.empty()) return;
    if (line_start_ && run.front() == '.') out_ += '.'; // RFC 1939 §3 byte-stuffing
    out_ += run;
    message_octets_ += run.size();
    line_start_ = false;
}

void maildrop::line_end() {
    out_ += "\r\n";
    message_octets_ += 2;
    if (top_) {
        if (!in_header_)
            --body_lines_left_;
        else if (line_start_)
            in_header_ = false; // the empty line ending the header block (RFC 5322 §2.1) belongs to it
    }
    line_start_ = true;
}

void maildrop::message_bytes(std::string_view bytes) {
    if (phase_ != phase::retrieving || bytes.empty()) return;
    start_output();
    while (!bytes.empty() && !top_done()) {
        if (pending_cr_) {
            // CR LF is one line end even when the provider's chunks part them; a bare CR is one of its own.
            pending_cr_ = false;
            line_end();
            if (bytes.front() == '\n') bytes.remove_prefix(1);
            continue;
        }
        auto stop = bytes.find_first_of("\r\n");
        emit(bytes.substr(0, stop));
        if (stop == std::string_view::npos) break;
        if (bytes[stop] == '\r')
            pending_cr_ = true;
        else
            line_end(); // a bare LF
        bytes.remove_prefix(stop + 1);
    }
}

void maildrop::message_end() {
    if (phase_ != phase::retrieving) return;
    start_output();
    if (pending_cr_) {
        pending_cr_ = false;
        line_end();
    }
    // RFC 1939 §3: the terminator is CRLF "." CRLF, so a message without a final line end gets one.
    if (!line_start_) out_ += "\r\n";
    out_ += ".\r\n";
    if (!top_) size_mismatch_ = message_octets_ != messages_[index_].size;
    phase_ = phase::command;
}

void maildrop::message_failed() {
    if (phase_ != phase::retrieving) return;
    pending_cr_ = false;
    // No final dot: the client must see a broken connection, not a complete (truncated) message.
    if (!status_sent_) reply("-ERR [SYS/TEMP] The mail provider failed, try again later");
    end(session_errc::upstream_failed);
}

} // namespace mailgate::protocols::pop3
