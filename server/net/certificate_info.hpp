// What an administrator needs to know about a certificate: names, validity, key type and fingerprint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

typedef struct x509_st X509;

namespace mailgate::net {

struct certificate_info {
    std::string subject;            // the common name, else the one-line DN
    std::string issuer;             // likewise
    std::vector<std::string> names; // subjectAltName DNS names and IP addresses, as written
    std::int64_t not_before = 0;    // Unix seconds
    std::int64_t not_after = 0;
    std::string key_type; // "RSA 2048", "ECDSA P-256"
    std::string sha256;   // fingerprint of the DER form, "AB:CD:..."
    bool self_signed = false;
    bool ca = false;
};

certificate_info describe_certificate(X509* cert);

// Every certificate in a PEM file, in file order; empty when the file cannot be read.
std::vector<certificate_info> read_certificate_file(const std::filesystem::path& pem);

// The last certificate of a PEM file (a chain's top) as PEM text and in DER form (what Windows and phones install
// as .crt); both empty when the file holds none.
struct exported_certificate {
    std::string pem;
    std::string der;
};
exported_certificate export_last_certificate(const std::filesystem::path& pem);

} // namespace mailgate::net
