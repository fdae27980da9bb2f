// Per-account mailbox behaviour beyond the endpoints: where POP3 comes from (the provider's POP3, or an IMAP
// folder served as POP3 by the gateway) and whether submitted mail is copied into a Sent folder.
#pragma once

#include "server/common/user_error.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace mailgate::domain {

// native: POP3 is relayed to the provider's POP3 endpoint. imap: the gateway serves POP3 itself from one folder
// of the account's IMAP endpoint (providers without POP3, like iCloud; or to get stable UIDLs from any folder).
enum class pop3_source { native, imap };
// auto: copy unless the provider stores submitted mail itself (see saves_sent_by_default).
enum class save_sent { automatic, always, never };

std::string_view to_string(pop3_source s);
std::string_view to_string(save_sent s);
std::optional<pop3_source> pop3_source_from_string(std::string_view s);
std::optional<save_sent> save_sent_from_string(std::string_view s);

struct mailbox_options {
    pop3_source pop3 = pop3_source::native;
    std::string pop3_folder = "INBOX";
    bool pop3_mark_seen = false; // RETR sets \Seen (BODY[] instead of BODY.PEEK[])
    save_sent sent = save_sent::automatic;
    std::string sent_folder = "Sent";
};

// The options a new account of `provider` starts with: POP3 from IMAP where the preset has no POP3 endpoint.
mailbox_options default_mailbox_options(std::string_view provider);

// Whether a message this account submitted is appended to its Sent folder: `always`, never for `never`, and for
// `automatic` unless the provider saves submitted mail by itself (Gmail, Microsoft).
bool saves_sent_copy(const mailbox_options& options, std::string_view provider);

// Folder names are the provider's own (as IMAP LIST shows them): 1..255 printable ASCII characters. POP3 from
// IMAP needs an IMAP endpoint.
user_result<void> validate_mailbox_options(const mailbox_options& options, bool has_imap_endpoint);

} // namespace mailgate::domain
