// The certificates the gateway makes for itself when tls.cert is not configured: an ECDSA P-256 and an RSA-2048
// leaf on the same listeners (OpenSSL picks what the client can use; TLS 1.0 clients with RSA key exchange need
// the RSA one), either self-signed or signed by a local CA the gateway also makes (install one CA on each client).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mailgate::net {

struct key_pair_files {
    std::filesystem::path cert; // chain, leaf first
    std::filesystem::path key;
};

// Leaves live at most 825 days (the longest that Apple clients accept) and are remade 30 days before they end.
inline constexpr int local_leaf_days = 825;
inline constexpr int local_renew_days = 30;
inline constexpr int local_ca_days = 3650;

struct local_certificate_request {
    std::vector<std::string>
        names; // DNS names and IP literals; localhost, 127.0.0.1 and ::1 are always added
    bool use_ca = false;
    std::int64_t now = 0; // Unix seconds; 0 = the clock
};

struct local_certificate_set {
    std::vector<key_pair_files> pairs; // ECDSA first, then RSA
    std::filesystem::path ca_cert;     // the local CA (use_ca), else empty
    std::filesystem::path trust_file;  // what clients install: the CA, or both self-signed leaves
    std::string renewed; // why the leaves were made now; empty when the existing ones still serve
    bool ca_created = false;
};

// Under data_dir/tls: local-cert.pem/local-key.pem (ECDSA), local-rsa-cert.pem/local-rsa-key.pem, and with
// use_ca local-ca.pem/local-ca-key.pem. Keys are 0600. Leaves are remade when missing, not matching their key,
// ending within local_renew_days, valid longer than local_leaf_days, missing a requested name, or signed
// otherwise than requested; the CA only when missing or ending within local_renew_days.
local_certificate_set ensure_local_certificates(const std::filesystem::path& data_dir,
                                                const local_certificate_request& request);

// The names a generated certificate should carry: this host's name, the listen hosts (wildcards expand to every
// interface address), and `extra`.
std::vector<std::string> local_certificate_names(const std::vector<std::string>& listen_hosts,
                                                 const std::vector<std::string>& extra);

} // namespace mailgate::net
