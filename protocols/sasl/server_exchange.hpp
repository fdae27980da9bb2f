// Server side of SASL PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195), shared by the POP3, IMAP and SMTP server
// codecs. The codec frames challenges with its protocol's prefix ("+ " or "334 ") and feeds the client's response
// lines. CRAM-MD5 ends with the user name and the client's digest in place of a password (see login_proof).
#pragma once

#include "protocols/common/login_proof.hpp"
#include "protocols/common/secret.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace mailgate::protocols::sasl {

enum class mechanism { plain, login, cram_md5 };
std::optional<mechanism> parse_mechanism(std::string_view name); // case-insensitive

class server_exchange {
public:
    enum class result {
        challenge,      // send challenge() to the client and feed its next line
        done,           // user() and password() hold the credential (for CRAM-MD5: the digest, see proof())
        failed,         // malformed response (bad base64, wrong PLAIN layout, no CRAM-MD5 digest)
        cancelled,      // the client sent "*"
        not_authorized, // a well-formed PLAIN login asking to act as someone else: a proxy login we do not offer
    };

    // `initial` is the initial response if the command carried one ("=" means empty, RFC 4954/5034).
    // `cram_challenge`: the challenge CRAM-MD5 sends (it takes no initial response).
    result start(mechanism m, std::optional<std::string_view> initial, std::string_view cram_challenge = {});
    result step(std::string_view line);

    // Base64 challenge text without the protocol prefix (empty for PLAIN's "send your response").
    const std::string& challenge() const { return challenge_; }
    const std::string& user() const { return user_; }
    const std::string& password() const { return password_.str(); }
    // What password() is: the password itself, or the CRAM-MD5 digest of the challenge.
    const login_proof& proof() const { return proof_; }
    // Forgets the exchange; the password is overwritten, not just released (also on destruction).
    void clear();

private:
    result plain_response(std::string_view b64);
    result login_response(std::string_view b64);
    result plain_message(std::string_view message);
    result login_text(std::string_view text);
    result cram_response(std::string_view b64);

    mechanism mechanism_ = mechanism::plain;
    int login_stage_ = 0; // 0: want user, 1: want password
    std::string challenge_;
    std::string user_;
    secret_string password_;
    login_proof proof_;
};

} // namespace mailgate::protocols::sasl
