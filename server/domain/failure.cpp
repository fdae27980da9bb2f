// Names of the failure taxonomy.
#include "server/domain/failure.hpp"

namespace mailgate::domain {

std::string_view to_string(failure f) {
    switch (f) {
    case failure::connect: return "connect";
    case failure::tls: return "tls";
    case failure::protocol: return "protocol";
    case failure::auth_local: return "auth-local";
    case failure::auth_upstream: return "auth-upstream";
    case failure::temporary: return "temporary";
    case failure::needs_consent: return "credential"; // the label the metrics have always used
    case failure::internal: return "internal";
    }
    return "internal";
}

} // namespace mailgate::domain
