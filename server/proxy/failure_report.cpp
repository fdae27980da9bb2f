// The failure taxonomy, mapped once.
#include "server/proxy/failure_report.hpp"

namespace mailgate::proxy {

using domain::failure;

protocols::login_outcome client_reply(failure f) {
    switch (f) {
    case failure::auth_local: return protocols::login_outcome::bad_credentials;
    case failure::auth_upstream:
    case failure::internal: return protocols::login_outcome::provider_perm;
    case failure::connect:
    case failure::tls:
    case failure::protocol:
    case failure::temporary:
    case failure::needs_consent: return protocols::login_outcome::provider_temp;
    }
    return protocols::login_outcome::provider_temp;
}

std::optional<store::upstream_status> account_status(failure f) {
    switch (f) {
    case failure::connect:
    case failure::temporary: return store::upstream_status::unreachable;
    case failure::tls: return store::upstream_status::tls_error;
    case failure::auth_upstream:
    case failure::needs_consent: return store::upstream_status::auth_failed;
    case failure::protocol:
    case failure::internal: return store::upstream_status::protocol_error;
    case failure::auth_local: return std::nullopt;
    }
    return store::upstream_status::protocol_error;
}

std::string_view log_phrase(failure f) {
    switch (f) {
    case failure::connect: return "could not reach the provider";
    case failure::tls: return "TLS with the provider failed";
    case failure::protocol: return "the provider's reply made no sense";
    case failure::auth_local: return "local login failed";
    case failure::auth_upstream: return "the provider refused the stored credential";
    case failure::temporary: return "the provider asked to try later";
    case failure::needs_consent: return "the credential needs the administrator";
    case failure::internal: return "internal error";
    }
    return "internal error";
}

} // namespace mailgate::proxy
