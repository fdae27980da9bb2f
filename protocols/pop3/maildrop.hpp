// POP3 TRANSACTION and UPDATE states served by the gateway itself (RFC 1939 §5, §6; RFC 2449 CAPA), for accounts
// whose POP3 comes from an IMAP folder: the session owns the provider and the codec only speaks POP3 to the client.
//
// Flow: pop3::server logs the client in; the session takes a snapshot of the folder (sizes and UIDLs, in order),
// builds a maildrop from it and feeds it take_pipelined() with received() (unless empty). There is no greeting.
//   command     client lines are answered one by one (output first: `write`, then wrote()); `read` when the
//               input runs dry (received(), empty = the client closed: `close` with client_closed, no commit).
//   retrieving  RETR n / TOP n m: `retrieve{index, top_lines}`. The session fetches the message's raw bytes from
//               the provider and hands them in with message_bytes(), as they come, in chunks of any size; after
//               each chunk the codec asks to `write` what it could already send (status line, normalised,
//               dot-stuffed lines) and then asks to `retrieve` again (same index: the next chunk, please).
//               message_end() queues the rest and the final dot, written before anything else;
//               message_failed() closes with upstream_failed without the final dot, so the client never stores
//               a truncated message (a "-ERR" instead when nothing was sent yet). The client's pipelined
//               commands wait: no `read` while a message streams.
//   committing  QUIT after at least one DELE (RFC 1939 §6 UPDATE): `commit{deleted}`; the session deletes those
//               messages at the provider and answers commit_result(ok); the codec replies and closes (ok:
//               client_quit; not ok: upstream_failed). QUIT without DELE closes at once with client_quit.
//   closing     the queued replies go out, then `close` (sticky); error() says why.
// A snapshot whose UIDLs break RFC 1939 §7 (1..70 bytes of 0x21..0x7E, unique) closes at once with
// internal_error, before anything is written: such a UIDL would make clients lose or re-download mail.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/client_input.hpp"
#include "protocols/common/session_error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mailgate::protocols::pop3 {

struct maildrop_message {
    // The exact octets RETR sends for it (RFC 1939 "octets"): line ends normalised to CRLF, before dot-stuffing,
    // without the CRLF added before the final dot when the message does not end in one.
    std::uint64_t size;
    std::string uidl; // RFC 1939 §7: 1..70 characters in 0x21..0x7E, unique in the maildrop
};

struct maildrop_options {
    std::size_t max_line = 255; // RFC 2449 §4: 255 octets including CRLF
};

class maildrop {
public:
    explicit maildrop(std::vector<maildrop_message> messages, maildrop_options options = {});

    maildrop_action next();
    void wrote();
    void received(std::string_view bytes); // empty: the client closed
    void tls_started() {}                  // never asked for: TLS, if any, was set up before login

    // While retrieving: the message's raw bytes as the provider sends them, then its end or the failure.
    void message_bytes(std::string_view bytes);
    void message_end();
    void message_failed();

    // After `commit`: whether every message in `deleted` is gone at the provider.
    void commit_result(bool ok);

    std::error_code error() const { return error_; }
    // The line a client gets when the gateway shuts down (written outside the codec's flow, never mid-message).
    std::string_view goodbye() const { return "-ERR [SYS/TEMP] mailgate is shutting down\r\n"; }
    bool streaming() const { return phase_ == phase::retrieving; }
    // Bytes the codec holds between calls: unparsed client input, unwritten output, a CR from the provider
    // waiting for its LF. While a message streams this is the current chunk's output at most, never the message.
    std::size_t buffered() const;
    // The last finished RETR sent a different number of octets than its size said: for the session's log (the
    // message went out anyway; a client that checks the size would refuse it, one that never gets it is worse).
    bool size_mismatch() const { return size_mismatch_; }

private:
    enum class phase { command, retrieving, committing, closing, closed };

    void on_line(std::string_view line);
    void on_command(std::string_view keyword, std::optional<std::string_view> rest);
    // The message named by `arg` (0-based) if it exists and is not deleted; otherwise queues the -ERR.
    std::optional<std::size_t> message_arg(std::string_view arg);
    void list_or_uidl(std::string_view args, bool uidl);
    void begin_retrieve(std::size_t index, std::optional<std::size_t> top_lines);
    void quit();
    void reply(std::string_view text) { (out_ += text) += "\r\n"; }
    void end(session_errc why);
    std::uint64_t octets() const; // of the messages not deleted

    // Message streaming (RFC 1939 §3: CRLF lines, dot-stuffed; the provider's bare CR and LF become CRLF).
    void start_output(); // the status line, once the first byte (or the end) arrives
    void line_end();
    void emit(std::string_view run); // part of one line, without line ends
    bool top_done() const { return top_ && !in_header_ && body_lines_left_ == 0; }

    std::vector<maildrop_message> messages_;
    std::vector<bool> deleted_;
    std::size_t deleted_count_ = 0;
    client_input in_;
    std::string out_;
    phase phase_ = phase::command;
    std::error_code error_;

    // The message being retrieved.
    std::size_t index_ = 0;
    std::optional<std::size_t> top_;
    bool status_sent_ = false;
    bool line_start_ = true;
    bool pending_cr_ = false; // a CR at the end of a chunk: CRLF if the next chunk starts with LF, else bare
    bool in_header_ = true;   // TOP: before the empty line that ends the header block
    std::size_t body_lines_left_ = 0;
    std::uint64_t message_octets_ = 0; // normalised, before dot-stuffing
    bool size_mismatch_ = false;
};

} // namespace mailgate::protocols::pop3
