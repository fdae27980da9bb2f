// Per-connection challenge material for APOP and CRAM-MD5.
#include "server/proxy/challenge_logins.hpp"

#include "server/common/unix_time.hpp"
#include "server/proxy/upstream_login.hpp"
#include "server/store/crypto.hpp"

namespace mailgate::proxy {

protocols::challenge_logins challenge_logins_for(const gateway_settings& settings) {
    protocols::challenge_logins c;
    c.enabled = settings.store.challenge_logins_enabled();
    if (!c.enabled) return c;
    c.advertise_over_tls = settings.challenge_logins_over_tls;
    // RFC 1939 §7 and RFC 2195 §2 ask for something unique per use: random bits, then the time.
    c.nonce = store::to_hex(store::random_bytes(8)) + "." + std::to_string(unix_now());
    c.host = local_helo_name();
    return c;
}

} // namespace mailgate::proxy
