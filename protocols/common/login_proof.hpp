// How a client proves it knows its local password: by sending it (USER/PASS, LOGIN, SASL PLAIN and LOGIN), or
// by answering a challenge with a digest of it (POP3 APOP, RFC 1939 §7; SASL CRAM-MD5, RFC 2195). The digests
// need the password in reversible form, which the gateway keeps only for accounts whose admin enabled them.
#pragma once

#include "protocols/common/ascii.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace mailgate::protocols {

enum class proof_kind { password, apop, cram_md5 };

struct login_proof {
    proof_kind kind = proof_kind::password;
    std::string challenge; // the greeting timestamp or SASL challenge the digest covers; empty for a password
};

// Per connection: whether challenge logins exist at all, where they are advertised, and what makes this
// connection's challenges unique.
struct challenge_logins {
    bool enabled = false;            // some account allows them
    bool advertise_over_tls = false; // also offered once TLS is up (by default only on plaintext connections)
    std::string nonce;               // unique per connection, e.g. "<random hex>.<unix time>"
    std::string host;                // the gateway's host name
    // The n-th challenge of the connection (0: the APOP timestamp or first CRAM-MD5 challenge): <nonce[.n]@host>
    std::string challenge(unsigned n) const {
        std::string out = "<" + nonce;
        if (n > 0) out += "." + std::to_string(n);
        return out + "@" + host + ">";
    }
};

// A client's APOP or CRAM-MD5 digest: 32 hex digits, returned in lower case (the form compared); else nullopt.
inline std::optional<std::string> md5_digest_text(std::string_view text) {
    if (text.size() != 32) return std::nullopt;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return std::nullopt;
    return ascii_lower(text);
}

} // namespace mailgate::protocols
