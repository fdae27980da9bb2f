// SASL PLAIN, LOGIN and CRAM-MD5, server side.
#include "protocols/sasl/server_exchange.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/base64.hpp"

namespace mailgate::protocols::sasl {

std::optional<mechanism> parse_mechanism(std::string_view name) {
    auto upper = ascii_upper(name);
    if (upper == "PLAIN") return mechanism::plain;
    if (upper == "LOGIN") return mechanism::login;
    if (upper == "CRAM-MD5") return mechanism::cram_md5;
    return std::nullopt;
}

void server_exchange::clear() {
    challenge_.clear();
    wipe(user_); // the user name travels next to the password in PLAIN: treated alike
    password_.clear();
    login_stage_ = 0;
    proof_ = {};
}

server_exchange::result server_exchange::start(mechanism m, std::optional<std::string_view> initial,
                                               std::string_view cram_challenge) {
    clear();
    mechanism_ = m;
    if (m == mechanism::cram_md5) {
        if (initial || cram_challenge.empty()) return result::failed; // RFC 2195: the server speaks first
        proof_ = {proof_kind::cram_md5, std::string(cram_challenge)};
        challenge_ = base64_encode(cram_challenge);
        return result::challenge;
    }
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
    switch (mechanism_) {
    case mechanism::plain: return plain_response(line);
    case mechanism::login: return login_response(line);
    case mechanism::cram_md5: return cram_response(line);
    }
    return result::failed;
}

server_exchange::result server_exchange::cram_response(std::string_view b64) {
    // "user SP digest": 32 hex digits of HMAC-MD5(password, challenge); the user name may itself hold spaces.
    auto decoded = base64_decode(b64);
    if (!decoded) {
        clear();
        return result::failed;
    }
    std::string_view text = *decoded;
    auto space = text.rfind(' ');
    auto digest =
        md5_digest_text(space == std::string_view::npos ? std::string_view{} : text.substr(space + 1));
    if (!digest || space == 0 || text.find('\0') != std::string_view::npos) {
        clear();
        return result::failed;
    }
    user_.assign(text.substr(0, space));
    password_.assign(*digest);
    challenge_.clear();
    return result::done;
}

server_exchange::result server_exchange::plain_response(std::string_view b64) {
    auto decoded = base64_decode(b64);
    if (!decoded) return result::failed;
    auto r = plain_message(*decoded);
    wipe(*decoded); // "\0user\0password": the decoded message is a copy of the password
    return r;
}

server_exchange::result server_exchange::plain_message(std::string_view message) {
    // authzid \0 authcid \0 passwd (RFC 4616); an authzid naming someone else is a proxy login we do not offer.
    auto first = message.find('\0');
    auto second = first == std::string_view::npos ? std::string_view::npos : message.find('\0', first + 1);
    if (second == std::string_view::npos || message.find('\0', second + 1) != std::string_view::npos)
        return result::failed;
    auto authzid = message.substr(0, first);
    auto authcid = message.substr(first + 1, second - first - 1);
    if (authcid.empty()) {
        clear();
        return result::failed;
    }
    if (!authzid.empty() && ascii_upper(authzid) != ascii_upper(authcid)) {
        clear();
        return result::not_authorized;
    }
    user_.assign(authcid);
    password_.assign(message.substr(second + 1));
    return result::done;
}

server_exchange::result server_exchange::login_response(std::string_view b64) {
    auto decoded = base64_decode(b64);
    auto r = decoded ? login_text(*decoded) : result::failed;
    if (decoded) wipe(*decoded);
    if (r == result::failed) clear();
    return r;
}

server_exchange::result server_exchange::login_text(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) return result::failed;
    if (login_stage_ == 0) {
        if (text.empty()) return result::failed;
        user_.assign(text);
        login_stage_ = 1;
        challenge_ = base64_encode("Password:");
        return result::challenge;
    }
    password_.assign(text);
    challenge_.clear();
    return result::done;
}

} // namespace mailgate::protocols::sasl
