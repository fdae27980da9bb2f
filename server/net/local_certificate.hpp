// The self-signed local certificate created on first start when tls.cert is not configured.
#pragma once

#include <filesystem>

namespace mailgate::net {

struct certificate_files {
    std::filesystem::path cert;
    std::filesystem::path key;
    bool created = false;
};

// Returns data_dir/tls/local-cert.pem and local-key.pem, creating them (EC P-256, key 0600) when absent.
// The certificate names localhost, 127.0.0.1, ::1 and this machine's host name.
certificate_files ensure_local_certificate(const std::filesystem::path& data_dir);

} // namespace mailgate::net
