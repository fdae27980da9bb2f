// Server side of SASL PLAIN (RFC 4616) and LOGIN, shared by the POP3, IMAP and SMTP server codecs. The codec
// frames challenges with its protocol's prefix ("+ " or "334 ") and feeds the client's response lines.
#pragma once

#include "protocols/common/secret.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace mailgate::protocols::sasl {

enum class mechanism { plain, login };
std::optional<mechanism> parse_mechanism(std::string_view name); // case-insensitive

class server_exchange {
public:
    enum class result {
        challenge,      // send challenge() to the client and feed its next line
        done,           // user() and password() hold the credential
        failed,         // malformed response (bad base64, wrong PLAIN layout)
        cancelled,      // the client sent "*"
        not_authorized, // a well-formed PLAIN login asking to act as someone else: a proxy login we do not offer
    };

    // `initial` is the initial response if the command carried one ("=" means empty, RFC 4954/5034).
    result start(mechanism m, std::optional<std::string_view> initial);
    result step(std::string_view line);

    // Base64 challenge text without the protocol prefix (empty for PLAIN's "send your response").
    const std::string& challenge() const { return challenge_; }
    const std::string& user() const { return user_; }
    const std::string& password() const { return password_.str(); }
    // Forgets the exchange; the password is overwritten, not just released (also on destruction).
    void clear();

private:
    result plain_response(std::string_view b64);
    result login_response(std::string_view b64);
    result plain_message(std::string_view message);
    result login_text(std::string_view text);

    mechanism mechanism_ = mechanism::plain;
    int login_stage_ = 0; // 0: want user, 1: want password
    std::string challenge_;
    std::string user_;
    secret_string password_;
};

} // namespace mailgate::protocols::sasl
