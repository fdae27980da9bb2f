// SASL client messages for the upstream login, built in one exactly sized buffer and wiped once encoded.
#include "protocols/sasl/client_mechanisms.hpp"

#include "protocols/common/base64.hpp"
#include "protocols/common/secret.hpp"

namespace mailgate::protocols::sasl {
namespace {

// \x01 separates the kvpairs of XOAUTH2 and OAUTHBEARER; CR, LF and NUL have no place in a user name, token
// or host name and would end a command line in providers that decode leniently.
bool kvpair_safe(std::string_view text) {
    return text.find_first_of(std::string_view("\x01\r\n\0", 4)) == std::string_view::npos;
}

// RFC 5801 §4 saslname: ',' and '=' are escaped as "=2C" and "=3D".
std::size_t saslname_size(std::string_view user) {
    std::size_t n = user.size();
    for (char c : user)
        if (c == ',' || c == '=') n += 2;
    return n;
}

void append_saslname(std::string& out, std::string_view user) {
    for (char c : user) {
        if (c == ',')
            out += "=2C";
        else if (c == '=')
            out += "=3D";
        else
            out += c;
    }
}

// Encodes `message` and wipes it: it holds the credential in the clear.
std::string encode_and_wipe(std::string& message) {
    auto response = base64_encode(message);
    wipe(message);
    return response;
}

} // namespace

std::optional<std::string> plain_initial_response(std::string_view user, std::string_view secret) {
    if (user.find('\0') != std::string_view::npos || secret.find('\0') != std::string_view::npos)
        return std::nullopt;
    std::string message;
    message.reserve(user.size() + secret.size() + 2);
    message += '\0';
    message += user;
    message += '\0';
    message += secret;
    return encode_and_wipe(message);
}

std::optional<std::string> xoauth2_initial_response(std::string_view user, std::string_view token) {
    if (!kvpair_safe(user) || !kvpair_safe(token)) return std::nullopt;
    constexpr std::string_view user_key = "user=",
                               auth_key = "\x01"
                                          "auth=Bearer ",
                               end = "\x01\x01";
    std::string message;
    message.reserve(user_key.size() + user.size() + auth_key.size() + token.size() + end.size());
    message.append(user_key).append(user).append(auth_key).append(token).append(end);
    return encode_and_wipe(message);
}

std::optional<std::string> oauthbearer_initial_response(std::string_view user, std::string_view token,
                                                        std::string_view host, std::uint16_t port) {
    if (!kvpair_safe(user) || !kvpair_safe(token) || !kvpair_safe(host)) return std::nullopt;
    constexpr std::string_view host_key = "host=", port_key = "port=", auth_key = "auth=Bearer ";
    const std::string port_text = port == 0 ? std::string() : std::to_string(port);
    std::string message;
    message.reserve(6 + saslname_size(user) + host_key.size() + host.size() + 1 + port_key.size() +
                    port_text.size() + 1 + auth_key.size() + token.size() + 2);
    message += "n,";
    if (!user.empty()) {
        message += "a=";
        append_saslname(message, user);
    }
    message += ",\x01";
    if (!host.empty()) message.append(host_key).append(host).append("\x01");
    if (port != 0) message.append(port_key).append(port_text).append("\x01");
    message.append(auth_key).append(token).append("\x01\x01");
    return encode_and_wipe(message);
}

} // namespace mailgate::protocols::sasl
