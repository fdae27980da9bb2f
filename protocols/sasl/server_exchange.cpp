// SASL PLAIN and LOGIN, server side.
#include "protocols/sasl/server_exchange.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/base64.hpp"

namespace mailgate::protocols::sasl {

std::optional<mechanism> parse_mechanism(std::string_view name) {
    auto upper = ascii_upper(name);
    if (upper == "PLAIN") return mechanism::plain;
    if (upper == "LOGIN") return mechanism::login;
    return std::nullopt;
}

void server_exchange::clear() {
    challenge_.clear();
    user_.clear();
    password_.clear();
    login_stage_ = 0;
}

server_exchange::result server_exchange::start(mechanism m, std::optional<std::string_view> initial) {
    clear();
    mechanism_ = m;
    if (m == mechanism::plain) {
        if (!initial) return result::challenge; // empty challenge: "send it now"
        return plain_response(*initial == "=" ? std::string_view{} : *initial);
    }
    if (initial) return login_response(*initial == "=" ? std::string_view{} : *initial);
    challenge_ = base64_encode("Username:");
    return result::challenge;
}

server_exchange::result server_exchange::step(std::string_view line) {
    if (line == "*") {
        clear();
        return result::cancelled;
    }
    return mechanism_ == mechanism::plain ? plain_response(line) : login_response(line);
}

server_exchange::result server_exchange::plain_response(std::string_view b64) {
    auto decoded = base64_decode(b64);
    if (!decoded) return result::failed;
    // authzid \0 authcid \0 passwd; an authzid naming someone else is a proxy login we do not offer.
    auto first = decoded->find('\0');
    auto second = first == std::string::npos ? std::string::npos : decoded->find('\0', first + 1);
    if (second == std::string::npos || decoded->find('\0', second + 1) != std::string::npos) return result::failed;
    std::string authzid = decoded->substr(0, first);
    user_ = decoded->substr(first + 1, second - first - 1);
    password_ = decoded->substr(second + 1);
    if (user_.empty() || (!authzid.empty() && authzid != user_)) {
        clear();
        return result::failed;
    }
    return result::done;
}

server_exchange::result server_exchange::login_response(std::string_view b64) {
    auto decoded = base64_decode(b64);
    if (!decoded || decoded->find('\0') != std::string::npos) {
        clear();
        return result::failed;
    }
    if (login_stage_ == 0) {
        if (decoded->empty()) return result::failed;
        user_ = std::move(*decoded);
        login_stage_ = 1;
        challenge_ = base64_encode("Password:");
        return result::challenge;
    }
    password_ = std::move(*decoded);
    challenge_.clear();
    return result::done;
}

} // namespace mailgate::protocols::sasl
