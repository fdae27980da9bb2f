// The two challenge-response digests old clients compute from their password.
#include "server/store/challenge_digest.hpp"

#include "server/store/crypto.hpp"

namespace mailgate::store {

bool challenge_answer_matches(const protocols::login_proof& proof, std::string_view secret,
                              std::string_view answer) {
    std::string expected;
    switch (proof.kind) {
    case protocols::proof_kind::password: return false;
    case protocols::proof_kind::apop: {
        std::string message = proof.challenge;
        message += secret;
        expected = to_hex(md5(message));
        wipe(message);
        break;
    }
    case protocols::proof_kind::cram_md5: expected = to_hex(hmac_md5(secret, proof.challenge)); break;
    }
    return constant_time_equal(expected, answer);
}

} // namespace mailgate::store
