// The one failure taxonomy of a gateway login and a provider session (DESIGN.md "Errors"). Every failure the
// gateway meets on the way to a provider is one of these; server/proxy/failure_report.hpp says, once each, what
// the client hears, what the account's status becomes, the metric label and the log phrase.
#pragma once

#include <string_view>

namespace mailgate::domain {

enum class failure {
    connect,       // name resolution, TCP, or the provider went silent / dropped the connection
    tls,           // handshake or verification (chain, host name), STARTTLS refused or stripped
    protocol,      // the provider said something the gateway cannot use
    auth_local,    // the client's local credential was wrong, or its account is disabled
    auth_upstream, // the provider refused the stored credential
    temporary,     // "try later": the provider said so, or the gateway's password checks are saturated
    needs_consent, // the credential cannot be used until the admin acts (OAuth2 consent or client settings,
                   // a secret that does not decrypt); nothing was sent to the provider
    internal,      // the gateway itself: no endpoint for the protocol, a store or token service failure
};

// The metric label ("connect", "tls", "protocol", "auth-local", "auth-upstream", "temporary", "credential",
// "internal"); also the word in log lines.
std::string_view to_string(failure f);

} // namespace mailgate::domain
