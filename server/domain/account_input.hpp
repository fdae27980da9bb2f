// Turns what an administrator typed (CLI flags or the admin page's form) into endpoints and senders, with one set
// of rules: presets fill endpoints, explicit URLs override them, only TLS schemes, plausible sender addresses.
#pragma once

#include "server/common/user_error.hpp"
#include "server/domain/endpoint.hpp"

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

} // namespace mailgate::domain
