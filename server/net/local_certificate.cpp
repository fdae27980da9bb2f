// Generation and renewal of the local certificate set with OpenSSL 3.
#include "server/net/local_certificate.hpp"

#include "server/net/certificate_info.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
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

enum class key_kind { ecdsa, rsa };

struct issuer {
    X509* cert = nullptr; // null: self-signed
    EVP_PKEY* key = nullptr;
};

void write_pem(const std::filesystem::path& path, mode_t mode, const auto& writer) {
    auto tmp = path;
    tmp += ".tmp";
    // Created with its final mode, so a key is never readable by others, not even briefly.
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "w");
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
    bool ok = writer(f) == 1;
    ok = std::fclose(f) == 0 && ok;
    if (!ok || ::chmod(tmp.c_str(), mode) != 0) throw std::runtime_error("cannot write " + tmp.string());
    std::filesystem::rename(tmp, path);
}

x509_ptr read_cert(const std::filesystem::path& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return nullptr;
    x509_ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    return cert;
}

pkey_ptr read_key(const std::filesystem::path& path) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return nullptr;
    pkey_ptr key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    return key;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return {};
    return buf;
}

// Canonical text of an IP literal (so "::0001" and "::1" compare equal), or empty for a DNS name.
std::string canonical_ip(const std::string& text) {
    unsigned char bytes[16];
    char out[INET6_ADDRSTRLEN] = {};
    if (::inet_pton(AF_INET, text.c_str(), bytes) == 1) return ::inet_ntop(AF_INET, bytes, out, sizeof out);
    if (::inet_pton(AF_INET6, text.c_str(), bytes) == 1) return ::inet_ntop(AF_INET6, bytes, out, sizeof out);
    return {};
}

bool usable_dns_name(const std::string& name) {
    if (name.empty() || name.size() > 253) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char ch) {
        return std::isalnum(ch) || ch == '-' || ch == '.' || ch == '*';
    });
}

// Lower-cased DNS names and canonical IPs, localhost and loopback always included, duplicates dropped.
std::vector<std::string> normalized_names(const std::vector<std::string>& requested) {
    std::vector<std::string> out;
    auto add = [&](std::string name) {
        if (auto ip = canonical_ip(name); !ip.empty()) {
            name = ip;
        } else {
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            if (!usable_dns_name(name)) return;
        }
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
    };
    for (const auto& name : requested) add(name);
    for (const char* fixed : {"localhost", "127.0.0.1", "::1"}) add(fixed);
    return out;
}

std::string subject_name(const std::vector<std::string>& names) {
    for (const auto& name : names)
        if (canonical_ip(name).empty()) return name;
    return names.front();
}

pkey_ptr make_key(key_kind kind) {
    pkey_ptr key(kind == key_kind::ecdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
    if (!key) throw std::runtime_error("cannot create a key for the local certificate");
    return key;
}

void add_extension(X509* cert, X509* issuer_cert, int nid, const std::string& value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer_cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) throw std::runtime_error("cannot build the local certificate extensions");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// A certificate for `key` named `common_name`, valid `days` from `now` (an hour earlier, for clock skew).
x509_ptr make_certificate(EVP_PKEY* key, const std::string& organization, const std::string& common_name,
                          int days, std::int64_t now, const issuer& by) {
    x509_ptr cert(X509_new());
    if (!cert) throw std::runtime_error("cannot create the local certificate");
    X509_set_version(cert.get(), 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    std::time_t t = static_cast<std::time_t>(now);
    X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -3600, &t);
    X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, &t);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(organization.c_str()), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), by.cert ? X509_get_subject_name(by.cert) : name);
    return cert;
}

void sign(X509* cert, EVP_PKEY* key) {
    if (X509_sign(cert, key, EVP_sha256()) == 0)
        throw std::runtime_error("cannot sign the local certificate");
}

x509_ptr make_leaf(EVP_PKEY* key, key_kind kind, const std::vector<std::string>& names, std::int64_t now,
                   const issuer& by) {
    auto cert = make_certificate(key, "mailgate local", subject_name(names), local_leaf_days, now, by);
    std::string san;
    for (const auto& name : names)
        san += (san.empty() ? "" : ",") + std::string(canonical_ip(name).empty() ? "DNS:" : "IP:") + name;
    X509* issuer_cert = by.cert ? by.cert : cert.get();
    add_extension(cert.get(), issuer_cert, NID_subject_alt_name, san);
    add_extension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    // RSA key exchange (what TLS 1.0 clients without ECDHE use) encrypts to the key: keyEncipherment.
    add_extension(cert.get(), issuer_cert, NID_key_usage,
                  kind == key_kind::rsa ? "critical,digitalSignature,keyEncipherment"
                                        : "critical,digitalSignature");
    add_extension(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
    if (by.cert) add_extension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid:always");
    sign(cert.get(), by.key ? by.key : key);
    return cert;
}

x509_ptr make_ca(EVP_PKEY* key, std::int64_t now) {
    auto host = host_name();
    auto cert = make_certificate(key, "mailgate local CA", "mailgate local CA " + (host.empty() ? "" : host),
                                 local_ca_days, now, {});
    add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    sign(cert.get(), key);
    return cert;
}

// Why the pair at `files` must be remade, or empty when it still serves.
std::string leaf_problem(const key_pair_files& files, key_kind kind, const std::vector<std::string>& names,
                         std::int64_t now, const issuer& by) {
    auto cert = read_cert(files.cert);
    auto key = read_key(files.key);
    if (!cert || !key) return "missing";
    if (X509_check_private_key(cert.get(), key.get()) != 1) return "certificate and key do not match";
    if (EVP_PKEY_is_a(key.get(), kind == key_kind::rsa ? "RSA" : "EC") != 1) return "wrong key type";
    auto info = describe_certificate(cert.get());
    if (info.not_after - now < std::int64_t(local_renew_days) * 86400) return "ends within 30 days";
    if (info.not_after - info.not_before > std::int64_t(local_leaf_days + 1) * 86400)
        return "valid longer than 825 days (old clients refuse it)";
    for (const auto& name : names)
        if (std::find(info.names.begin(), info.names.end(), name) == info.names.end())
            return "does not name " + name;
    EVP_PKEY* signer = by.cert ? X509_get0_pubkey(by.cert) : key.get();
    if (X509_verify(cert.get(), signer) != 1)
        return by.cert ? "not signed by the local CA" : "not self-signed";
    return {};
}

void write_pair(const key_pair_files& files, EVP_PKEY* key, X509* cert, X509* chain) {
    write_pem(files.key, 0600,
              [&](FILE* f) { return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr); });
    write_pem(files.cert, 0644, [&](FILE* f) {
        return PEM_write_X509(f, cert) == 1 && (!chain || PEM_write_X509(f, chain) == 1) ? 1 : 0;
    });
}

} // namespace

local_certificate_set ensure_local_certificates(const std::filesystem::path& data_dir,
                                                const local_certificate_request& request) {
    auto dir = data_dir / "tls";
    std::filesystem::create_directories(dir);
    ::chmod(dir.c_str(), 0700);
    std::int64_t now = request.now ? request.now : static_cast<std::int64_t>(std::time(nullptr));
    auto names = normalized_names(request.names);

    local_certificate_set set;
    set.pairs = {{dir / "local-cert.pem", dir / "local-key.pem"},
                 {dir / "local-rsa-cert.pem", dir / "local-rsa-key.pem"}};
    x509_ptr ca_cert;
    pkey_ptr ca_key;
    if (request.use_ca) {
        set.ca_cert = dir / "local-ca.pem";
        auto ca_key_file = dir / "local-ca-key.pem";
        ca_cert = read_cert(set.ca_cert);
        ca_key = read_key(ca_key_file);
        bool usable =
            ca_cert && ca_key && X509_check_private_key(ca_cert.get(), ca_key.get()) == 1 &&
            describe_certificate(ca_cert.get()).not_after - now >= std::int64_t(local_renew_days) * 86400;
        if (!usable) {
            ca_key = make_key(key_kind::rsa);
            ca_cert = make_ca(ca_key.get(), now);
            write_pem(ca_key_file, 0600, [&](FILE* f) {
                return PEM_write_PrivateKey(f, ca_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
            });
            write_pem(set.ca_cert, 0644, [&](FILE* f) { return PEM_write_X509(f, ca_cert.get()); });
            set.ca_created = true;
        }
    }
    issuer by{ca_cert.get(), ca_key.get()};

    std::string problem;
    const key_kind kinds[] = {key_kind::ecdsa, key_kind::rsa};
    for (std::size_t i = 0; i < 2 && problem.empty(); ++i) {
        problem = leaf_problem(set.pairs[i], kinds[i], names, now, by);
        if (!problem.empty()) problem = set.pairs[i].cert.filename().string() + ": " + problem;
    }
    if (!problem.empty()) {
        for (std::size_t i = 0; i < 2; ++i) {
            auto key = make_key(kinds[i]);
            auto cert = make_leaf(key.get(), kinds[i], names, now, by);
            write_pair(set.pairs[i], key.get(), cert.get(), by.cert);
        }
        set.renewed = problem;
    }

    if (request.use_ca) {
        set.trust_file = set.ca_cert;
    } else if (set.trust_file = dir / "local-trust.pem";
               !set.renewed.empty() || !std::filesystem::exists(set.trust_file)) {
        auto ecdsa = read_cert(set.pairs[0].cert);
        auto rsa = read_cert(set.pairs[1].cert);
        write_pem(set.trust_file, 0644, [&](FILE* f) {
            return ecdsa && rsa && PEM_write_X509(f, ecdsa.get()) == 1 && PEM_write_X509(f, rsa.get()) == 1
                       ? 1
                       : 0;
        });
    }
    return set;
}

std::vector<std::string> local_certificate_names(const std::vector<std::string>& listen_hosts,
                                                 const std::vector<std::string>& extra) {
    std::vector<std::string> names;
    if (auto host = host_name(); !host.empty()) names.push_back(host);
    bool any_v4 = false, any_v6 = false;
    for (const auto& host : listen_hosts) {
        auto ip = canonical_ip(host);
        if (ip == "0.0.0.0")
            any_v4 = true;
        else if (ip == "::")
            any_v6 = true;
        else
            names.push_back(host);
    }
    if (any_v4 || any_v6) {
        ifaddrs* list = nullptr;
        if (::getifaddrs(&list) == 0) {
            for (ifaddrs* it = list; it; it = it->ifa_next) {
                if (!it->ifa_addr) continue;
                char text[INET6_ADDRSTRLEN] = {};
                int family = it->ifa_addr->sa_family;
                if (family == AF_INET) {
                    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr, text,
                                sizeof text);
                } else if (family == AF_INET6 && any_v6) {
                    auto* a6 = &reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr;
                    if (IN6_IS_ADDR_LINKLOCAL(a6)) continue; // needs a zone; no client types it
                    ::inet_ntop(AF_INET6, a6, text, sizeof text);
                } else {
                    continue;
                }
                names.emplace_back(text);
            }
            ::freeifaddrs(list);
        }
    }
    names.insert(names.end(), extra.begin(), extra.end());
    return names;
}

} // namespace mailgate::net
