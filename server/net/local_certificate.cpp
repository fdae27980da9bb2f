// Self-signed certificate generation with OpenSSL 3.
#include "server/net/local_certificate.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace mailgate::net {
namespace {

template <class T, void (*F)(T*)> struct deleter {
    void operator()(T* p) const { F(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;

void write_pem(const std::filesystem::path& path, mode_t mode, const auto& writer) {
    auto tmp = path;
    tmp += ".tmp";
    // Created with its final mode, so the key is never readable by others, not even briefly.
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "w");
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
    bool ok = writer(f) == 1;
    ok = std::fclose(f) == 0 && ok;
    if (!ok || ::chmod(tmp.c_str(), mode) != 0) throw std::runtime_error("cannot write " + tmp.string());
    std::filesystem::rename(tmp, path);
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return {};
    return buf;
}

} // namespace

certificate_files ensure_local_certificate(const std::filesystem::path& data_dir) {
    auto dir = data_dir / "tls";
    certificate_files files{dir / "local-cert.pem", dir / "local-key.pem", false};
    if (std::filesystem::exists(files.cert) && std::filesystem::exists(files.key)) return files;
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), 0700);

    pkey_ptr key(EVP_EC_gen("P-256"));
    x509_ptr cert(X509_new());
    if (!key || !cert) throw std::runtime_error("cannot create the local certificate key");
    X509_set_version(cert.get(), 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 3650);
    X509_set_pubkey(cert.get(), key.get());

    auto host = host_name();
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("mailgate local"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_ASC,
        reinterpret_cast<const unsigned char*>(host.empty() ? "localhost" : host.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);

    std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
    if (!host.empty() && host != "localhost" && host.find_first_of(",:") == std::string::npos)
        san += ",DNS:" + host;
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (auto [nid, value] :
         {std::pair{NID_subject_alt_name, san.c_str()}, std::pair{NID_basic_constraints, "critical,CA:FALSE"},
          std::pair{NID_key_usage, "critical,digitalSignature"},
          std::pair{NID_ext_key_usage, "serverAuth"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
        if (!ext) throw std::runtime_error("cannot build the local certificate extensions");
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
        throw std::runtime_error("cannot sign the local certificate");

    write_pem(files.key, 0600, [&](FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_pem(files.cert, 0644, [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
    files.created = true;
    return files;
}

} // namespace mailgate::net
