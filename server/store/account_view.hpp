// Human and JSON renderings of accounts for the CLI and the admin API (never a secret: accounts carry none).
#pragma once

#include "server/store/account.hpp"

#include <boost/json/value.hpp>

#include <string>

namespace mailgate::store {

std::string format_time(std::optional<std::int64_t> unix_seconds);
std::string format_account(const store::account& a);
boost::json::value account_json(const store::account& a);

} // namespace mailgate::store
