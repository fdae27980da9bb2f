// Checks an APOP or CRAM-MD5 answer against the account's reversible local secret.
#pragma once

#include "protocols/common/login_proof.hpp"

#include <string_view>

namespace mailgate::store {

// APOP (RFC 1939 §7): hex MD5(timestamp + secret). CRAM-MD5 (RFC 2195): hex HMAC-MD5(secret, challenge).
// `answer` is the client's digest in lower-case hex; compared in constant time. False for a password proof.
bool challenge_answer_matches(const protocols::login_proof& proof, std::string_view secret,
                              std::string_view answer);

} // namespace mailgate::store
