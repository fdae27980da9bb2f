// The next thing a sans-io codec asks its driver to do (DESIGN.md, "The codec contract"). Every codec asks for
// the same three kinds of I/O (read, write, start TLS), which one driver performs (server/net/codec_driver.hpp),
// plus the steps of its own family, which only the session that owns the codec can take.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

namespace mailgate::protocols {

// Which limit a read waits under; the driver's owner maps each to a duration.
enum class read_deadline {
    command,      // a client's next command, or a provider's reply to a command
    data,         // a client's next DATA bytes (RFC 5321 §4.5.3.2.5)
    data_verdict, // a provider's reply to the end of DATA (RFC 5321 §4.5.3.2.6: 10 minutes)
};

// ---- I/O, for every codec
struct read_input {
    read_deadline deadline = read_deadline::command;
};
struct write_output {
    std::string_view bytes; // valid until the next call into the codec; report it with wrote()
};
struct start_tls {}; // run the TLS handshake now, then report tls_started()

// ---- Client sessions (the server codecs facing legacy clients)
enum class session_step {
    authenticate, // check the client's credential, log in upstream, report with login_result()
    close,        // end the connection: error() says why (client_quit, client_closed: an orderly end)
};
// POP3 and IMAP: both sides are logged in; pump bytes, starting with take_pipelined(). Sticky.
struct relay_bytes {};

// ---- SMTP transactions (the SMTP server codec re-originates them instead of relaying bytes)
struct transaction_step {
    enum class kind {
        select_account, // no AUTH, relay allowed: pick the account by sender(), log in, report with login_result()
        command,        // send `bytes` (one command line) upstream, report the provider's reply
        data,    // send `bytes` (DATA content, the last chunk ends with ".\r\n") upstream, report it written
        verdict, // the end of DATA went out: wait for the provider's reply to it, report it
        abort,   // drop the provider connection without finishing the transaction
    };
    kind what;
    std::string_view bytes{}; // command and data only; valid until the next call into the codec
};

// ---- POP3 served by the gateway itself from a snapshot of an IMAP folder (pop3/maildrop.hpp): RFC 1939 §5
// TRANSACTION and §6 UPDATE, the provider side belonging to the session
struct maildrop_step {
    enum class kind {
        retrieve, // stream message `index` in with message_bytes(), then message_end() or message_failed();
                  // asked again after each chunk's output is written, until the message is finished
        commit,   // QUIT after DELE: delete `deleted` at the provider, report with commit_result()
    };
    kind what;
    std::size_t index = 0;                  // retrieve: 0-based, in the snapshot's order
    std::optional<std::size_t> top_lines{}; // retrieve: TOP's body line count; none for RETR (the whole)
    std::vector<std::size_t> deleted{};     // commit: 0-based, ascending, never empty
};

// ---- Provider sessions (the client codecs facing providers)
enum class client_step {
    done,   // the codec reached its goal (logged in, a reply arrived, logged out)
    failed, // error() and diagnostics() say why; the connection is of no further use
};

// A piece of a message body the provider is sending (IMAP FETCH): valid until the next call into the codec.
struct message_chunk {
    std::string_view bytes;
};

// What next() returns: one of the I/O actions or one of the codec's own steps.
template <class... Steps> using action = std::variant<read_input, write_output, start_tls, Steps...>;

using pre_login_action = action<session_step, relay_bytes>;       // POP3, IMAP server codecs
using submission_action = action<session_step, transaction_step>; // SMTP server codec
using maildrop_action = action<session_step, maildrop_step>;      // POP3 maildrop codec
using client_action = action<client_step>;                        // every client codec
using mailbox_action = action<client_step, message_chunk>; // IMAP mailbox client (imap/mailbox_client.hpp)

} // namespace mailgate::protocols
