// IMAP mailbox commands on a provider session that imap::client has logged in: what the gateway needs to serve
// POP3 from a folder (SELECT, sizes and UIDs, Message-IDs, streamed message bodies, deleting) and to file a Sent
// copy (APPEND). Sans-io like every codec: next() returns I/O actions, `message_chunk` while a body streams in,
// and `done` or `failed` (sticky) when the command started last has finished.
//
//   select(folder)        SELECT -> uidvalidity(), exists(). A folder without UIDVALIDITY fails.
//   fetch_sizes()         UID FETCH 1:* (UID RFC822.SIZE FLAGS) -> entries(), ascending UID; messages flagged
//                         \Deleted (by any client) are left out. Nothing is sent when the folder is empty.
//   fetch_message_ids(u)  UID FETCH set BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] -> message_ids().
//   fetch_message(...)    UID FETCH uid BODY.PEEK[] (BODY[] with mark_seen): each piece of the body literal is a
//                         `message_chunk`, then `done`; message_found() says whether the provider sent it. For a
//                         TOP of n lines of a message longer than n*1000 octets, BODY.PEEK[HEADER] and
//                         BODY.PEEK[TEXT]<0.n*1000> instead (RFC 5322 lines are at most 1000 octets with CRLF).
//   delete_messages(u)    UID STORE set +FLAGS.SILENT (\Deleted), then UID EXPUNGE set (UIDPLUS). Without
//                         UIDPLUS: UID SEARCH DELETED, and EXPUNGE only when every \Deleted message is one of
//                         ours; otherwise ours stay flagged \Deleted (left out of later snapshots) and
//                         expunge_deferred() is true, so that nobody else's deletions are made final.
//   append(folder, size)  APPEND folder (\Seen) {size}: `done` when the provider invites the literal; the caller
//                         writes exactly `size` bytes itself, then literal_written() -> `done` at the tagged OK.
//   logout()              LOGOUT -> `done`.
// Untagged data nobody asked for (EXISTS, EXPUNGE, flag updates) is read and ignored; UIDs keep it harmless.
// A tagged NO/BAD fails with command_refused, `* BYE` with closed.
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/line_buffer.hpp"
#include "protocols/common/upstream_error.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mailgate::protocols::imap {

struct mailbox_limits {
    std::size_t max_line = 64 * 1024;
    // One untagged response with its small literals (a Message-ID header, say); body literals stream instead.
    std::size_t max_response = 64 * 1024;
    std::size_t max_set = 4000; // octets of one UID set in a command; longer sets are split over commands
};

struct folder_entry {
    std::uint32_t uid = 0;
    std::uint64_t size = 0;
};

class mailbox_client {
public:
    // `capabilities`: the provider's post-login capability atoms (UIDPLUS decides how deleting works).
    explicit mailbox_client(const std::vector<std::string>& capabilities, mailbox_limits limits = {});

    mailbox_action next();
    void wrote();
    void received(std::string_view bytes); // empty: the provider closed
    void tls_started() {}                  // never asked for: the session is secured before login

    void select(std::string_view folder);
    void fetch_sizes();
    void fetch_message_ids(const std::vector<std::uint32_t>& uids);
    void fetch_message(std::uint32_t uid, std::uint64_t size, std::optional<std::size_t> top_lines,
                       bool mark_seen);
    void delete_messages(const std::vector<std::uint32_t>& uids);
    void append(std::string_view folder, std::uint64_t size);
    void literal_written();
    void logout();

    std::uint32_t uidvalidity() const { return uidvalidity_; }
    std::uint32_t exists() const { return exists_; }
    const std::vector<folder_entry>& entries() const { return entries_; }
    const std::map<std::uint32_t, std::string>& message_ids() const { return message_ids_; }
    bool message_found() const { return message_found_; }
    bool expunge_deferred() const { return expunge_deferred_; }

    std::error_code error() const { return error_; }
    const std::string& diagnostics() const { return diagnostics_; }

private:
    enum class op { none, select, sizes, message_ids, message, store, expunge, search, append, logout };

    void start(op what, std::vector<std::string> commands);
    void send_next_command();
    void on_line(std::string_view line);
    void on_untagged(std::string_view text);
    void on_tagged(std::string_view status, std::string_view line);
    void on_response(); // a complete untagged response in response_ / literals_
    void finish_delete_search();
    void fail(upstream_errc e, std::string_view provider_text = {});
    bool body_literal_next() const; // the literal about to start is a body section of the message fetched
    std::vector<std::string> uid_set_commands(std::string_view prefix, const std::vector<std::uint32_t>& uids,
                                              std::string_view suffix) const;

    mailbox_limits limits_;
    bool uidplus_ = false;
    line_buffer input_;
    std::string out_;
    bool eof_ = false;

    op op_ = op::none;
    std::deque<std::string> pending_; // commands of the current operation still to send, one at a time
    std::string tag_;
    unsigned next_tag_ = 1;
    bool done_ = false;
    bool continuation_wanted_ = false; // APPEND: the "+" that invites the literal

    // The untagged response being assembled: its text, the literals read so far, the one being read.
    std::string response_;
    std::vector<std::string> literals_;
    std::uint64_t literal_left_ = 0;
    bool in_literal_ = false;
    bool literal_streams_ = false;    // a body literal: handed out as message_chunk, not kept
    bool literal_kept_ = true;        // a small literal over the limit is skipped and read as empty
    std::uint64_t literals_kept_ = 0; // their octets so far: max_response counts them with the text
    std::string chunk_;
    bool chunk_ready_ = false;

    std::uint32_t uidvalidity_ = 0;
    std::uint32_t exists_ = 0;
    std::map<std::uint32_t, std::uint64_t> sizes_;
    std::vector<folder_entry> entries_;
    std::map<std::uint32_t, std::string> message_ids_;
    std::set<std::uint32_t> deleting_;
    std::set<std::uint32_t> search_hits_;
    bool message_found_ = false;
    bool expunge_deferred_ = false;

    std::error_code error_;
    std::string diagnostics_;
};

} // namespace mailgate::protocols::imap
