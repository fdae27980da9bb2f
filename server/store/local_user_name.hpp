// How a user name typed into a client maps to a local account.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mailgate::store {

// The names to look up, in order: the name as typed; without a Windows "DOMAIN\" prefix (what Outlook and
// Windows Mail send with SPA habits); then the part before the last "@" of that (clients that take the
// e-mail address as the user name). Local user names compare without regard to case; the first that exists wins.
std::vector<std::string> local_user_candidates(std::string_view typed);

} // namespace mailgate::store
