// The gateway login shared by POP3, IMAP and SMTP: check the local credential (off the I/O thread, cached), then
// open the account's provider session over verified TLS and log in with the stored credential. Records the
// outcome (last login, upstream status) and logs it once, never with a password.
#pragma once

#include "protocols/common/login_outcome.hpp"
#include "protocols/smtp/server.hpp"
#include "server/domain/failure.hpp"
#include "server/net/upstream_connection.hpp"
#include "server/proxy/client_codec.hpp"
#include "server/proxy/early_connection.hpp"
#include "server/proxy/gateway_settings.hpp"
#include "server/proxy/session_context.hpp"

#include <functional>
#include <memory>
#include <string>

namespace mailgate::proxy {

struct login_result {
    std::optional<domain::failure> failed = domain::failure::auth_local; // nullopt: logged in
    std::string reason; // the provider-side failure's detail, never a credential
    bool ok() const { return !failed; }
    std::string account;                                // name, when the local credential was good
    std::optional<store::account> record;               // the account, when the local credential was good
    std::unique_ptr<net::upstream_connection> upstream; // logged in, when ok
    client_codec codec;                                 // its client codec (capabilities, SMTP transactions)
};

// What the client hears of `result`, and the provider's post-login capabilities for its codec (none unless ok).
protocols::login_outcome client_outcome(const login_result& result);
protocols::provider_capabilities provider_capabilities_of(const login_result& result);

// Wipes `password` before returning. `proof`: what `password` is (the password, or an APOP / CRAM-MD5 digest).
boost::asio::awaitable<login_result>
gateway_login(const gateway_settings& settings, const session_context& label, domain::mail_protocol protocol,
              const std::string& user, std::string& password, const protocols::login_proof& proof);

// The local half alone: ok() with `record` set and no provider session (for SMTP with smtp.spool = all).
// Wipes `password` before returning.
// `before_kdf`: see store_service::authenticate; called only for an address with no failed logins in the window.
boost::asio::awaitable<login_result>
local_login(const gateway_settings& settings, const session_context& label, const std::string& user,
            std::string& password, const protocols::login_proof& proof,
            const std::function<void(const store::account&)>* before_kdf = nullptr);
// The log line and admin event of a successful login; `note` is appended to the log line.
void record_login_ok(const gateway_settings& settings, const session_context& label, const std::string& user,
                     const std::string& account, std::string_view note);

// SMTP relay without AUTH: the enabled account that may send as the codec's MAIL FROM address; none answers the
// codec ("not allowed") and logs it.
boost::asio::awaitable<std::optional<store::account>> relay_sender_account(const gateway_settings& settings,
                                                                           const session_context& label,
                                                                           protocols::smtp::server& codec);

// Whom a provider session serves: a client (counted against limits.max_upstream_per_account) or the gateway
// itself (spool deliveries and Sent copies, which have limits of their own and must not take a client's place).
enum class provider_use { client, background };

// The provider half alone, for an account already chosen (SMTP relay without AUTH, reconnects).
// `early`: a connection opened during the local check, used when it reached this account's endpoint.
boost::asio::awaitable<login_result>
open_provider_session(const gateway_settings& settings, const session_context& label,
                      domain::mail_protocol protocol, const store::account& account,
                      early_connection* early = nullptr, provider_use use = provider_use::client);

} // namespace mailgate::proxy
