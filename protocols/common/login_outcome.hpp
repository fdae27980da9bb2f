// What a server codec hears about a login its session ran, and what the provider said it can do afterwards.
#pragma once

#include <string>
#include <vector>

namespace mailgate::protocols {

// The outcome of an `authenticate` (or SMTP `select_account`) step, as the client is to hear it.
enum class login_outcome {
    ok,              // local credential good (or, for select_account, an account found), provider logged in
    bad_credentials, // wrong local user/password or disabled account; for select_account: no account may send
    provider_temp,   // provider unreachable, TLS failure, "try later", a credential that needs the admin soon
    provider_perm,   // provider rejected the stored credential
};

// The provider's post-login capabilities: IMAP capability atoms, SMTP EHLO keywords (upper-cased, with args).
using provider_capabilities = std::vector<std::string>;

} // namespace mailgate::protocols
