// Certificate facts read with OpenSSL 3.
#include "server/net/certificate_info.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstdio>
#include <ctime>
#include <memory>

namespace mailgate::net {
namespace {

std::string name_text(X509_NAME* name) {
    int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (index >= 0) {
        ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
        unsigned char* utf8 = nullptr;
        int length = ASN1_STRING_to_UTF8(&utf8, data);
        if (length >= 0) {
            std::string text(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
            OPENSSL_free(utf8);
            return text;
        }
    }
    char buffer[512];
    X509_NAME_oneline(name, buffer, sizeof buffer);
    return buffer;
}

std::int64_t unix_time(const ASN1_TIME* t) {
    struct tm parts {};
    if (ASN1_TIME_to_tm(t, &parts) != 1) return 0;
    return static_cast<std::int64_t>(timegm(&parts));
}

std::vector<std::string> alt_names(X509* cert) {
    std::vector<std::string> out;
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        if (name->type == GEN_DNS) {
            const ASN1_IA5STRING* dns = name->d.dNSName;
            out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                             static_cast<std::size_t>(ASN1_STRING_length(dns)));
        } else if (name->type == GEN_IPADD) {
            int length = name->d.iPAddress->length;
            char text[INET6_ADDRSTRLEN] = {};
            if ((length == 4 || length == 16) &&
                ::inet_ntop(length == 4 ? AF_INET : AF_INET6, name->d.iPAddress->data, text, sizeof text))
                out.emplace_back(text);
        }
    }
    GENERAL_NAMES_free(names);
    return out;
}

std::string key_type(X509* cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (!key) return "unknown";
    std::string bits = std::to_string(EVP_PKEY_get_bits(key));
    if (EVP_PKEY_is_a(key, "RSA")) return "RSA " + bits;
    if (EVP_PKEY_is_a(key, "EC")) {
        char group[64] = {};
        std::size_t length = 0;
        if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &length) == 1) {
            std::string curve = group;
            if (curve == "prime256v1") curve = "P-256";
            if (curve == "secp384r1") curve = "P-384";
            return "ECDSA " + curve;
        }
        return "ECDSA " + bits;
    }
    return EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown";
}

std::string fingerprint(X509* cert) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return {};
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned i = 0; i < length; ++i) {
        if (i) out += ':';
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

struct file_closer {
    void operator()(FILE* f) const { std::fclose(f); }
};

} // namespace

certificate_info describe_certificate(X509* cert) {
    certificate_info info;
    info.subject = name_text(X509_get_subject_name(cert));
    info.issuer = name_text(X509_get_issuer_name(cert));
    info.names = alt_names(cert);
    info.not_before = unix_time(X509_get0_notBefore(cert));
    info.not_after = unix_time(X509_get0_notAfter(cert));
    info.key_type = key_type(cert);
    info.sha256 = fingerprint(cert);
    info.self_signed = (X509_get_extension_flags(cert) & EXFLAG_SS) != 0;
    info.ca = X509_check_ca(cert) > 0;
    return info;
}

std::vector<certificate_info> read_certificate_file(const std::filesystem::path& pem) {
    std::vector<certificate_info> out;
    std::unique_ptr<FILE, file_closer> f(std::fopen(pem.c_str(), "r"));
    if (!f) return out;
    while (X509* cert = PEM_read_X509(f.get(), nullptr, nullptr, nullptr)) {
        out.push_back(describe_certificate(cert));
        X509_free(cert);
    }
    return out;
}

exported_certificate export_last_certificate(const std::filesystem::path& pem) {
    exported_certificate out;
    std::unique_ptr<FILE, file_closer> f(std::fopen(pem.c_str(), "r"));
    if (!f) return out;
    X509* last = nullptr;
    while (X509* cert = PEM_read_X509(f.get(), nullptr, nullptr, nullptr)) {
        X509_free(last);
        last = cert;
    }
    if (!last) return out;
    unsigned char* der = nullptr;
    int length = i2d_X509(last, &der);
    if (length > 0) {
        out.der.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
        OPENSSL_free(der);
    }
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio && PEM_write_bio_X509(bio, last) == 1) {
        char* data = nullptr;
        long size = BIO_get_mem_data(bio, &data);
        out.pem.assign(data, static_cast<std::size_t>(size));
    }
    BIO_free(bio);
    X509_free(last);
    return out;
}

} // namespace mailgate::net
