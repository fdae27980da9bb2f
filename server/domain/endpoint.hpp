// A provider endpoint as a URL: imaps://, imap+starttls://, pop3s://, pop3+starttls://, smtps://, smtp+starttls://.
#pragma once

#include "protocols/common/upstream_tls.hpp"
#include "server/common/user_error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace mailgate::domain {

enum class mail_protocol { imap, pop3, smtp };
std::string_view to_string(mail_protocol p);

struct upstream_endpoint {
    mail_protocol protocol;
    protocols::upstream_tls tls; // implicit TLS, or STARTTLS that must succeed
    std::string host;
    std::uint16_t port;

    std::string url() const; // canonical form, always with the port
};

// Errors carry a message for the user (e.g. why a scheme without TLS is refused).
user_result<upstream_endpoint> parse_upstream_url(std::string_view text);

} // namespace mailgate::domain
