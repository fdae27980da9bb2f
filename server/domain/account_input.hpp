// Turns what an administrator typed (CLI flags or the admin page's form) into endpoints, senders and mailbox
// options, with one set of rules: presets fill endpoints, explicit URLs override them, only TLS schemes,
// plausible sender addresses, folder names that are safe to put in an IMAP command.
#pragma once

#include "server/common/user_error.hpp"
#include "server/domain/endpoint.hpp"
#include "server/domain/mailbox_options.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mailgate::domain {

struct endpoint_input {
    std::string provider = "custom";
    std::map<std::string, std::string> urls; // "imap"/"pop3"/"smtp" → URL; empty values are ignored
};

// The endpoints for a preset and/or explicit URLs. Errors name the protocol ("imap: ...").
user_result<std::vector<domain::upstream_endpoint>> resolve_endpoints(const endpoint_input& input);

user_result<void> validate_senders(const std::vector<std::string>& senders);

// Mailbox options as typed; what is absent keeps its value.
struct mailbox_input {
    std::optional<std::string> pop3_source; // native | imap
    std::optional<std::string> pop3_folder;
    std::optional<bool> pop3_mark_seen;
    std::optional<std::string> save_sent; // auto | always | never
    std::optional<std::string> sent_folder;

    bool empty() const {
        return !pop3_source && !pop3_folder && !pop3_mark_seen && !save_sent && !sent_folder;
    }
};

// `input` over `options` (a new account's defaults, or an account's current options). Errors name the field.
user_result<void> apply_mailbox_input(mailbox_options& options, const mailbox_input& input);

// The rules for stored options are domain::validate_mailbox_options (server/domain/mailbox_options.hpp).

} // namespace mailgate::domain
