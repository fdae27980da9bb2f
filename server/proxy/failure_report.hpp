// What each failure of the taxonomy (server/domain/failure.hpp) means to the client, to the account's status in
// the admin page, and in the log: one function each, so no session, probe or API maps failures on its own.
#pragma once

#include "protocols/common/login_outcome.hpp"
#include "server/domain/failure.hpp"
#include "server/store/account.hpp"

#include <string_view>

namespace mailgate::proxy {

// The reply class a client gets. A credential waiting for the admin is "try later": the client's local
// password was right, so it must not be asked for a new one.
protocols::login_outcome client_reply(domain::failure f);
// The status an endpoint gets in the store; nullopt: the failure says nothing about the endpoint (a wrong
// local password).
std::optional<store::upstream_status> account_status(domain::failure f);
// The metric label.
inline std::string_view metric_label(domain::failure f) { return domain::to_string(f); }
// How a log line says it: "could not connect", "TLS failed", ...
std::string_view log_phrase(domain::failure f);

} // namespace mailgate::proxy
