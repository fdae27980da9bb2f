// The APOP / CRAM-MD5 part of a new client connection's login policy.
#pragma once

#include "protocols/common/login_proof.hpp"
#include "server/proxy/gateway_settings.hpp"

namespace mailgate::proxy {

// Off unless some account allows them; otherwise with a nonce no other connection gets.
protocols::challenge_logins challenge_logins_for(const gateway_settings& settings);

} // namespace mailgate::proxy
