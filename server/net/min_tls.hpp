// The lowest TLS version a listener accepts (tls.min_version): old clients need 1.0, the default is 1.2.
#pragma once

#include <string>

namespace mailgate::net {

enum class min_tls { v1_0, v1_1, v1_2, v1_3 };
std::string to_string(min_tls v); // "1.0" ... "1.3"
// Below 1.2: the legacy profile (AES-CBC-SHA suites, RSA key exchange, security level 0) on the client side.
inline bool legacy_profile(min_tls v) { return v == min_tls::v1_0 || v == min_tls::v1_1; }

} // namespace mailgate::net
