// Parsing of SMTP commands from a client (RFC 5321 §4.1): verb, argument, and MAIL/RCPT paths with parameters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::protocols::smtp {

struct parsed_command {
    std::string verb; // upper-cased
    std::string argument;
};
parsed_command parse_command(std::string_view line);

struct path_parameter {
    std::string keyword; // upper-cased
    std::string value;   // empty when the parameter has no "="
    bool has_value = false;
};

struct mail_path {
    std::string address; // without angle brackets; empty for the null reverse-path <>
    std::vector<path_parameter> parameters;
};

// "FROM:<a@b> SIZE=10" / "TO:<a@b>". `prefix` is "FROM:" or "TO:". A space after the colon is accepted (a
// widespread client habit, harmless here because the path is re-serialized). nullopt: syntax error.
std::optional<mail_path> parse_path(std::string_view argument, std::string_view prefix);

// The path re-serialized as we send it upstream: "<address> KEY=VALUE ...".
std::string serialize(const mail_path& path);

} // namespace mailgate::protocols::smtp
