// One HTTPS POST of a form (the OAuth2 token and device endpoints): verified TLS (chain and host name against the
// upstream context: system store plus upstream.ca_file), a deadline for the whole exchange, a capped response.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <string>
#include <variant>
#include <vector>

namespace mailgate::oauth {

struct http_response {
    int status = 0;
    std::string body;
};

// Could not get an answer at all (DNS, connect, TLS, timeout, malformed HTTP): always transient for OAuth.
struct http_failure {
    std::string reason; // for logs; never contains the request body
};

using form_fields = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded (RFC 6749 appendix B).
std::string encode_form(const form_fields& fields);

// POSTs `body` (already form-encoded; a secret: wiped) to an https:// URL. Anything else is refused unsent.
boost::asio::awaitable<std::variant<http_response, http_failure>> https_post(const std::string& url,
                                                                             std::string body,
                                                                             boost::asio::ssl::context& tls,
                                                                             std::chrono::seconds timeout);

} // namespace mailgate::oauth
