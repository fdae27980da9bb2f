// SASL PLAIN encoding for the upstream login.
#include "protocols/sasl/client_mechanisms.hpp"

#include "protocols/common/base64.hpp"
#include "protocols/common/secret.hpp"

namespace mailgate::protocols::sasl {

std::optional<std::string> plain_initial_response(std::string_view user, std::string_view secret) {
    if (user.find('\0') != std::string_view::npos || secret.find('\0') != std::string_view::npos) return std::nullopt;
    std::string message;
    message.reserve(user.size() + secret.size() + 2);
    message += '\0';
    message += user;
    message += '\0';
    message += secret;
    auto response = base64_encode(message);
    wipe(message);
    return response;
}

} // namespace mailgate::protocols::sasl
