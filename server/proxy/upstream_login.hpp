// Choosing the client codec for an endpoint.
#pragma once

#include "protocols/common/upstream_codec.hpp"
#include "server/net/upstream_connection.hpp"
#include "server/proxy/client_codec.hpp"
#include "server/store/account.hpp"

#include <memory>
#include <string>

namespace mailgate::proxy {

client_codec make_login_codec(const domain::upstream_endpoint& endpoint,
                              protocols::upstream_credentials credentials, const std::string& helo_name);

// This machine's name for SMTP EHLO toward providers.
const std::string& local_helo_name();

} // namespace mailgate::proxy
