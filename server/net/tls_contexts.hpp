// TLS contexts: one for providers (verified, TLS >= 1.2) and one for local clients (configurable floor).
// They are never shared: old-client settings (security level 0) must not weaken the upstream side.
#pragma once

#include "server/net/local_certificate.hpp"
#include "server/net/min_tls.hpp"

#include <boost/asio/ssl/context.hpp>

#include <filesystem>
#include <memory>
#include <vector>

namespace mailgate::net {

// Chain verification against the system store plus `extra_ca_file` (may be empty). Hostname checks are per
// connection (see upstream_connection); so is session resumption, when `resume` (net/tls_session_cache).
std::shared_ptr<boost::asio::ssl::context> make_upstream_context(const std::filesystem::path& extra_ca_file,
                                                                 bool resume = true);

// For listeners: one certificate per key type (RSA and ECDSA side by side). Below TLS 1.2 the context runs the
// legacy profile at OpenSSL security level 0 so that AES-CBC-SHA suites, RSA key exchange and SHA-1 work.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const std::vector<key_pair_files>& pairs,
                                                               min_tls floor);

} // namespace mailgate::net
