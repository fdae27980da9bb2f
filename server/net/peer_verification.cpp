// Certificate name checks.
#include "server/net/peer_verification.hpp"

#include <boost/asio/ip/address.hpp>

#include <openssl/x509v3.h>

namespace mailgate::net {

bool expect_peer_name(SSL* ssl, const std::string& host) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
}

std::optional<std::string> verification_failure(SSL* ssl, const std::string& host) {
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
        return "certificate verification failed: the certificate does not match host '" + host + "'";
    if (verify != X509_V_OK)
        return std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
    return std::nullopt;
}

} // namespace mailgate::net
