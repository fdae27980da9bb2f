// Configuration defaults, INI + flag precedence, and errors that name the key.
#include "server/app/config.hpp"

#include <boost/program_options/parsers.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace po = boost::program_options;
using namespace mailgate::app;

namespace {

config load(std::vector<std::string> args) {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(config_options(true)).run(), vm);
    return load_config(vm);
}

std::string error_of(std::vector<std::string> args) {
    try {
        load(std::move(args));
    } catch (const config_error& e) {
        return e.what();
    } catch (const po::error& e) {
        return e.what();
    }
    return "no error";
}

struct temp_file {
    std::filesystem::path path;
    explicit temp_file(const std::string& text)
        : path(std::filesystem::temp_directory_path() /
               ("mailgate-config-" + std::to_string(::getpid()) + ".conf")) {
        std::ofstream(path) << text;
    }
    ~temp_file() { std::filesystem::remove(path); }
};

} // namespace

TEST(config, embedded_defaults) {
    auto c = load({});
    EXPECT_EQ(c.data_dir, "./mailgate-data");
    EXPECT_EQ(c.listen.at("pop3").to_string(), "127.0.0.1:1110");
    EXPECT_EQ(c.listen.at("pop3s").to_string(), "127.0.0.1:1995");
    EXPECT_EQ(c.listen.at("imap").to_string(), "127.0.0.1:1143");
    EXPECT_EQ(c.listen.at("imaps").to_string(), "127.0.0.1:1993");
    EXPECT_EQ(c.listen.at("smtp").to_string(), "127.0.0.1:1587");
    EXPECT_EQ(c.listen.at("smtps").to_string(), "127.0.0.1:1465");
    EXPECT_EQ(c.listen.at("admin").to_string(), "127.0.0.1:8080");
    EXPECT_EQ(c.tls_min_version, mailgate::net::min_tls::v1_2);
    EXPECT_TRUE(c.access_allow.contains("192.168.1.10"));
    EXPECT_TRUE(c.access_allow.contains("127.0.0.1"));
    EXPECT_FALSE(c.access_allow.contains("8.8.8.8"));
    EXPECT_TRUE(c.access_plaintext_auth.contains("10.1.2.3")); // defaults to access.allow
    EXPECT_TRUE(c.access_relay_without_auth.empty());
    EXPECT_EQ(c.log_level, "info");
}

TEST(config, flags_set_every_key) {
    auto c = load({"--data-dir", "/var/lib/mailgate", "--listen.imap", "[::1]:1143", "--listen.pop3", "",
                   "--tls.min_version", "1.0", "--access.allow", "10.0.0.0/8", "--access.relay_without_auth",
                   "10.0.0.5", "--log.level", "debug", "--upstream.timeout", "5"});
    EXPECT_EQ(c.data_dir, "/var/lib/mailgate");
    EXPECT_EQ(c.listen.at("imap").host, "::1");
    EXPECT_FALSE(c.listen.contains("pop3")); // empty disables
    EXPECT_EQ(c.tls_min_version, mailgate::net::min_tls::v1_0);
    EXPECT_FALSE(c.access_allow.contains("127.0.0.1"));
    EXPECT_TRUE(c.access_plaintext_auth.contains("10.9.9.9"));
    EXPECT_TRUE(c.access_relay_without_auth.contains("10.0.0.5"));
    EXPECT_EQ(c.log_level, "debug");
    EXPECT_EQ(c.upstream_timeout.count(), 5);
}

TEST(config, ini_file_with_flags_winning) {
    temp_file f("data_dir = /srv/mail\n[listen]\nsmtp = 0.0.0.0:587\nadmin =\n[tls]\nmin_version = 1.3\n"
                "[access]\nplaintext_auth = 192.168.0.0/16\n");
    auto c = load({"--config", f.path.string(), "--tls.min_version", "1.1"});
    EXPECT_EQ(c.data_dir, "/srv/mail");
    EXPECT_EQ(c.listen.at("smtp").to_string(), "0.0.0.0:587");
    EXPECT_FALSE(c.listen.contains("admin"));
    EXPECT_EQ(c.tls_min_version, mailgate::net::min_tls::v1_1);
    EXPECT_FALSE(c.access_plaintext_auth.contains("10.0.0.1"));
}

TEST(config, several_certificate_pairs_and_the_generated_set_options) {
    auto c = load(
        {"--tls.cert", "/etc/mg/rsa.pem, /etc/mg/ec.pem", "--tls.key", "/etc/mg/rsa.key,/etc/mg/ec.key"});
    ASSERT_EQ(c.tls_certs.size(), 2u);
    EXPECT_EQ(c.tls_certs[1], "/etc/mg/ec.pem");
    EXPECT_EQ(c.tls_keys[0], "/etc/mg/rsa.key");
    EXPECT_FALSE(c.tls_local_ca);
    EXPECT_TRUE(c.tls_names.empty());
    EXPECT_NE(error_of({"--tls.cert", "/a.pem,/b.pem", "--tls.key", "/a.key"}).find("one key for each file"),
              std::string::npos);
    auto generated = load({"--tls.local_ca", "true", "--tls.names", "mail.lan, 192.168.1.10"});
    EXPECT_TRUE(generated.tls_local_ca);
    EXPECT_EQ(generated.tls_names, (std::vector<std::string>{"mail.lan", "192.168.1.10"}));
    EXPECT_NE(error_of({"--tls.local_ca", "yes"}).find("tls.local_ca"), std::string::npos);
}

TEST(config, errors_name_the_key) {
    EXPECT_NE(error_of({"--listen.smtps", "localhost"}).find("listen.smtps"), std::string::npos);
    EXPECT_NE(error_of({"--tls.min_version", "1.4"}).find("tls.min_version"), std::string::npos);
    EXPECT_NE(error_of({"--access.plaintext_auth", "10.0.0.0/99"}).find("access.plaintext_auth"),
              std::string::npos);
    EXPECT_NE(error_of({"--log.level", "chatty"}).find("log.level"), std::string::npos);
    EXPECT_NE(error_of({"--tls.cert", "/x.pem"}).find("tls.key"), std::string::npos);
    EXPECT_NE(error_of({"--upstream.timeout", "0"}).find("upstream.timeout"), std::string::npos);
    EXPECT_NE(error_of({"--upstream.ca_file", "/nonexistent"}).find("upstream.ca_file"), std::string::npos);
    EXPECT_NE(error_of({"--config", "/nonexistent.conf"}).find("config"), std::string::npos);
    temp_file f("[listen]\nsmtp = 0.0.0.0:587\ntypo = 1\n");
    EXPECT_NE(error_of({"--config", f.path.string()}).find("listen.typo"), std::string::npos);
}

TEST(config, the_shipped_example_file_is_valid) {
    auto c = load({"--config", std::string(MAILGATE_SOURCE_DIR) + "/deploy/mailgate.conf.example"});
    EXPECT_EQ(c.data_dir, "/var/lib/mailgate");
    EXPECT_EQ(c.listen.at("pop3").to_string(), "0.0.0.0:110");
    EXPECT_EQ(c.listen.at("admin").to_string(), "127.0.0.1:8080");
    EXPECT_EQ(c.imap_idle_timeout.count(), 1860);
    EXPECT_EQ(c.failed_login_delay.count(), 2);
}

TEST(config, listen_port_zero_asks_for_any_free_port) {
    auto c = load({"--listen.pop3", "127.0.0.1:0", "--listen.admin", "[::1]:0"});
    EXPECT_EQ(c.listen.at("pop3").port, 0);
    EXPECT_EQ(c.listen.at("admin").to_string(), "[::1]:0");
    EXPECT_EQ(c.listen.at("imap").port, 1143); // the others keep their defaults
}

TEST(config, smtp_bare_lf_is_strict_unless_asked) {
    EXPECT_FALSE(load({}).smtp_bare_lf_normalize);
    EXPECT_FALSE(load({"--smtp.bare_lf", "reject"}).smtp_bare_lf_normalize);
    EXPECT_TRUE(load({"--smtp.bare_lf", "normalize"}).smtp_bare_lf_normalize);
    EXPECT_NE(error_of({"--smtp.bare_lf", "accept"}).find("smtp.bare_lf"), std::string::npos);
}

TEST(config, smtp_spool_keys) {
    auto d = load({});
    EXPECT_EQ(d.smtp_spool, "devices");
    EXPECT_EQ(d.smtp_spool_max_bytes, std::uint64_t(1) << 30);
    EXPECT_EQ(d.smtp_spool_retry.size(), 5u);
    EXPECT_EQ(d.smtp_spool_retry.front().count(), 60);
    EXPECT_EQ(d.smtp_spool_retry.back().count(), 3600);
    EXPECT_EQ(d.smtp_spool_lifetime.count(), 3 * 86400);
    auto c = load({"--smtp.spool", "all", "--smtp.spool_max_bytes", "1048576", "--smtp.spool_retry", "5,30",
                   "--smtp.spool_lifetime", "3600", "--smtp.spool_deliveries", "3",
                   "--smtp.spool_deliveries_per_account", "1"});
    EXPECT_EQ(c.smtp_spool, "all");
    EXPECT_EQ(c.smtp_spool_max_bytes, 1048576u);
    ASSERT_EQ(c.smtp_spool_retry.size(), 2u);
    EXPECT_EQ(c.smtp_spool_retry[1].count(), 30);
    EXPECT_EQ(c.smtp_spool_lifetime.count(), 3600);
    EXPECT_EQ(c.smtp_spool_deliveries, 3u);
    EXPECT_EQ(c.smtp_spool_deliveries_per_account, 1u);
    EXPECT_NE(error_of({"--smtp.spool", "sometimes"}).find("smtp.spool"), std::string::npos);
    EXPECT_NE(error_of({"--smtp.spool_retry", "5,,30"}).find("smtp.spool_retry"), std::string::npos);
    EXPECT_NE(error_of({"--smtp.spool_lifetime", "5"}).find("smtp.spool_lifetime"), std::string::npos);
}

TEST(config, proxy_protocol_per_mail_listener_needs_trusted_balancers) {
    auto plain = load({});
    EXPECT_TRUE(plain.proxy_protocol.empty());
    EXPECT_TRUE(plain.proxy_trusted.empty());
    temp_file f("[listen]\npop3 = 0.0.0.0:110\npop3.proxy_protocol = true\nimaps.proxy_protocol = true\n"
                "[proxy]\ntrusted = 10.0.0.10, 10.0.0.11\n");
    auto c = load({"--config", f.path.string(), "--listen.smtp.proxy_protocol", "true"});
    EXPECT_EQ(c.proxy_protocol, (std::set<std::string>{"imaps", "pop3", "smtp"}));
    EXPECT_TRUE(c.proxy_trusted.contains("10.0.0.11"));
    EXPECT_FALSE(c.proxy_trusted.contains("10.0.0.12"));
    EXPECT_NE(error_of({"--listen.pop3.proxy_protocol", "true"}).find("proxy.trusted: required"),
              std::string::npos);
    EXPECT_NE(error_of({"--listen.pop3.proxy_protocol", "yes", "--proxy.trusted", "10.0.0.1"})
                  .find("listen.pop3.proxy_protocol"),
              std::string::npos);
    EXPECT_NE(error_of({"--proxy.trusted", "10.0.0.0/33"}).find("proxy.trusted"), std::string::npos);
    EXPECT_NE(error_of({"--listen.smtps", "", "--listen.smtps.proxy_protocol", "maybe"})
                  .find("listen.smtps.proxy_protocol"),
              std::string::npos);
    // A disabled listener's flag needs no balancer.
    EXPECT_TRUE(load({"--listen.smtps", "", "--listen.smtps.proxy_protocol", "true"}).proxy_protocol.empty());
    // The admin page is HTTP: it has no such key.
    EXPECT_NE(error_of({"--listen.admin.proxy_protocol", "true"}).find("listen.admin.proxy_protocol"),
              std::string::npos);
}
