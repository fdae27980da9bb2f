// The admin API's view of the LAN certificates: GET /api/v1/tls (source, TLS floor, each certificate with names,
// expiry and fingerprint, and what clients install), POST /api/v1/tls/reload, and GET /api/v1/tls/trust/N.pem or
// N.crt (certificate N of the trust list, PEM or DER: what Windows and phones install).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <vector>

namespace mailgate::net {
class certificate_manager;
}

namespace mailgate::admin {

boost::beast::http::response<boost::beast::http::string_body>
tls_request(net::certificate_manager* certificates,
            const boost::beast::http::request<boost::beast::http::string_body>& req,
            const std::vector<std::string>& parts);

} // namespace mailgate::admin
