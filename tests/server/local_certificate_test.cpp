// The generated local certificates: an ECDSA and an RSA leaf, made once and reused, renewed 30 days before they
// end, when a name is missing or when they were made for another mode; the local CA mode; the manager that
// reloads configured files and keeps the old context when new files are broken.
#include "server/net/certificate_info.hpp"
#include "server/net/certificate_manager.hpp"
#include "server/net/local_certificate.hpp"
#include "server/net/tls_contexts.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

using namespace mailgate;

namespace {

net::certificate_info leaf(const std::filesystem::path& pem) {
    auto chain = net::read_certificate_file(pem);
    EXPECT_FALSE(chain.empty()) << pem;
    return chain.empty() ? net::certificate_info{} : chain.front();
}

bool names(const net::certificate_info& info, const std::string& name) {
    return std::find(info.names.begin(), info.names.end(), name) != info.names.end();
}

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
}

// Whether `cert_file`'s first certificate is signed by the key in `issuer_file`'s first certificate.
bool signed_by(const std::filesystem::path& cert_file, const std::filesystem::path& issuer_file) {
    auto read = [](const std::filesystem::path& p) {
        FILE* f = std::fopen(p.c_str(), "r");
        X509* x = f ? PEM_read_X509(f, nullptr, nullptr, nullptr) : nullptr;
        if (f) std::fclose(f);
        return x;
    };
    X509* cert = read(cert_file);
    X509* issuer = read(issuer_file);
    bool ok = cert && issuer && X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
    X509_free(cert);
    X509_free(issuer);
    return ok;
}

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

} // namespace

TEST(local_certificate, an_ecdsa_and_an_rsa_leaf_are_made_once_then_reused) {
    temp_dir tmp;
    auto first = net::ensure_local_certificates(tmp.path, {{"gateway.lan", "192.168.1.10"}});
    EXPECT_EQ(first.renewed, "local-cert.pem: missing");
    ASSERT_EQ(first.pairs.size(), 2u);
    auto ecdsa = leaf(first.pairs[0].cert), rsa = leaf(first.pairs[1].cert);
    EXPECT_EQ(ecdsa.key_type, "ECDSA P-256");
    EXPECT_EQ(rsa.key_type, "RSA 2048");
    for (const auto& info : {ecdsa, rsa}) {
        EXPECT_EQ(info.subject, "gateway.lan");
        EXPECT_TRUE(info.self_signed);
        EXPECT_FALSE(info.ca);
        for (const char* name : {"gateway.lan", "192.168.1.10", "localhost", "127.0.0.1", "::1"})
            EXPECT_TRUE(names(info, name)) << name;
        EXPECT_LE(info.not_after - info.not_before, std::int64_t(net::local_leaf_days) * 86400 + 3600);
        EXPECT_GE(info.not_after - now(), std::int64_t(net::local_leaf_days - 1) * 86400);
    }
    EXPECT_EQ(mode_of(first.pairs[0].key), 0600u);
    EXPECT_EQ(mode_of(first.pairs[1].key), 0600u);
    EXPECT_EQ(net::read_certificate_file(first.trust_file).size(), 2u); // both self-signed leaves

    auto second = net::ensure_local_certificates(tmp.path, {{"gateway.lan", "192.168.1.10"}});
    EXPECT_EQ(second.renewed, "");
    EXPECT_EQ(leaf(second.pairs[0].cert).sha256, ecdsa.sha256);
    EXPECT_EQ(leaf(second.pairs[1].cert).sha256, rsa.sha256);
    // Both key types serve side by side in one context; two of one type are refused with a clear message.
    EXPECT_NO_THROW(net::make_server_context(second.pairs, net::min_tls::v1_0));
    try {
        net::make_server_context({second.pairs[1], second.pairs[1]}, net::min_tls::v1_2);
        ADD_FAILURE() << "two RSA certificates accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("second RSA certificate"), std::string::npos) << e.what();
    }
}

TEST(local_certificate, renewed_thirty_days_before_the_end_and_for_a_new_name) {
    temp_dir tmp;
    auto first = net::ensure_local_certificates(tmp.path, {{"gateway.lan"}});
    auto old_fingerprint = leaf(first.pairs[0].cert).sha256;
    net::local_certificate_request later{
        {"gateway.lan"}, false, now() + std::int64_t(net::local_leaf_days - 31) * 86400};
    EXPECT_EQ(net::ensure_local_certificates(tmp.path, later).renewed, "");
    later.now += 2 * 86400;
    auto renewed = net::ensure_local_certificates(tmp.path, later);
    EXPECT_EQ(renewed.renewed, "local-cert.pem: ends within 30 days");
    EXPECT_NE(leaf(renewed.pairs[0].cert).sha256, old_fingerprint);
    EXPECT_GT(leaf(renewed.pairs[1].cert).not_after,
              later.now + std::int64_t(net::local_leaf_days - 1) * 86400);

    auto more = net::ensure_local_certificates(tmp.path, {{"gateway.lan", "10.0.0.5"}});
    EXPECT_EQ(more.renewed, "local-cert.pem: does not name 10.0.0.5");
    EXPECT_TRUE(names(leaf(more.pairs[1].cert), "10.0.0.5"));
}

TEST(local_certificate, an_old_ten_year_certificate_is_replaced) {
    temp_dir tmp;
    auto dir = tmp.path / "tls";
    std::filesystem::create_directories(dir);
    // What earlier versions generated: one self-signed ECDSA certificate valid for ten years.
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "
        "/CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1 -keyout '" +
        (dir / "local-key.pem").string() + "' -out '" + (dir / "local-cert.pem").string() + "' 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0);
    auto set = net::ensure_local_certificates(tmp.path, {});
    EXPECT_EQ(set.renewed, "local-cert.pem: valid longer than 825 days (old clients refuse it)");
    EXPECT_LE(leaf(set.pairs[0].cert).not_after - now(), std::int64_t(net::local_leaf_days) * 86400);
}

TEST(local_certificate, local_ca_mode_signs_both_leaves_and_keeps_its_ca) {
    temp_dir tmp;
    auto self = net::ensure_local_certificates(tmp.path, {{"gateway.lan"}});
    auto with_ca = net::ensure_local_certificates(tmp.path, {{"gateway.lan"}, true});
    EXPECT_TRUE(with_ca.ca_created);
    EXPECT_EQ(with_ca.renewed, "local-cert.pem: not signed by the local CA");
    EXPECT_EQ(with_ca.trust_file, with_ca.ca_cert);
    auto ca = leaf(with_ca.ca_cert);
    EXPECT_TRUE(ca.ca);
    EXPECT_EQ(ca.key_type, "RSA 2048");
    EXPECT_EQ(mode_of(tmp.path / "tls" / "local-ca-key.pem"), 0600u);
    for (const auto& pair : with_ca.pairs) {
        EXPECT_TRUE(signed_by(pair.cert, with_ca.ca_cert)) << pair.cert;
        auto chain = net::read_certificate_file(pair.cert);
        ASSERT_EQ(chain.size(),
                  2u); // leaf, then the CA: clients that show "install this certificate" see both
        EXPECT_EQ(chain[1].sha256, ca.sha256);
    }
    auto again = net::ensure_local_certificates(tmp.path, {{"gateway.lan"}, true});
    EXPECT_FALSE(again.ca_created);
    EXPECT_EQ(again.renewed, "");
    // Leaves renewed later are signed by the same CA: clients install the CA once.
    auto renewed = net::ensure_local_certificates(tmp.path, {{"gateway.lan", "mail.lan"}, true});
    EXPECT_FALSE(renewed.ca_created);
    EXPECT_EQ(leaf(renewed.ca_cert).sha256, ca.sha256);
    EXPECT_TRUE(signed_by(renewed.pairs[1].cert, renewed.ca_cert));
    // Back to self-signed: the leaves are remade without the CA.
    auto back = net::ensure_local_certificates(tmp.path, {{"gateway.lan", "mail.lan"}});
    EXPECT_EQ(back.renewed, "local-cert.pem: not self-signed");
}

TEST(local_certificate, names_expand_wildcard_listeners_to_interface_addresses) {
    auto specific = net::local_certificate_names({"192.0.2.7"}, {"mail.lan"});
    EXPECT_NE(std::find(specific.begin(), specific.end(), "192.0.2.7"), specific.end());
    EXPECT_NE(std::find(specific.begin(), specific.end(), "mail.lan"), specific.end());
    auto wildcard = net::local_certificate_names({"0.0.0.0"}, {});
    EXPECT_NE(std::find(wildcard.begin(), wildcard.end(), "127.0.0.1"), wildcard.end());
    EXPECT_EQ(std::find(wildcard.begin(), wildcard.end(), "0.0.0.0"), wildcard.end());
}

TEST(certificate_manager, configured_files_reload_when_changed_and_a_broken_file_keeps_the_old_context) {
    temp_dir tmp, source;
    auto made = net::ensure_local_certificates(source.path, {{"one.lan"}});
    auto cert = tmp.path / "cert.pem", key = tmp.path / "key.pem";
    std::filesystem::copy_file(made.pairs[1].cert, cert);
    std::filesystem::copy_file(made.pairs[1].key, key);
    net::certificate_manager manager({{{cert, key}}, tmp.path, {}, net::min_tls::v1_2});
    auto first = manager.tls().current();
    ASSERT_TRUE(first);
    EXPECT_EQ(manager.state().source, "configured");
    EXPECT_EQ(manager.state().certificates.at(0).subject, "one.lan");
    EXPECT_FALSE(manager.check().changed);

    std::filesystem::remove(key);
    std::ofstream(key) << "not a key\n";
    auto broken = manager.reload();
    EXPECT_FALSE(broken.ok);
    EXPECT_NE(broken.message.find("the previous certificates stay in use"), std::string::npos)
        << broken.message;
    EXPECT_EQ(manager.tls().current(), first);

    auto other = net::ensure_local_certificates(source.path, {{"two.lan"}});
    std::filesystem::copy_file(other.pairs[1].cert, cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(other.pairs[1].key, key, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::last_write_time(cert,
                                     std::filesystem::file_time_type::clock::now() + std::chrono::seconds(5));
    auto checked = manager.check();
    EXPECT_TRUE(checked.ok) << checked.message;
    EXPECT_TRUE(checked.changed);
    EXPECT_NE(manager.tls().current(), first);
    EXPECT_EQ(manager.state().certificates.at(0).subject, "two.lan");
}
