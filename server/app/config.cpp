// Configuration keys, defaults and validation.
#include "server/app/config.hpp"

#include "server/app/listener_table.hpp"
#include "server/store/open_database.hpp"

#include <boost/program_options/parsers.hpp>

#include <charconv>
#include <fstream>

namespace po = boost::program_options;

namespace mailgate::app {
namespace {

// Loopback and the private ranges: what a LAN gateway serves unless told otherwise.
constexpr const char* default_client_networks =
    "127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 fc00::/7 fe80::/10";

std::string value_or(const po::variables_map& vm, const std::string& key, const std::string& fallback) {
    return vm.count(key) ? vm[key].as<std::string>() : fallback;
}

net::cidr_list parse_networks(const std::string& key, const std::string& text) {
    std::string bad;
    auto list = net::cidr_list::parse(text, &bad);
    if (!list) throw config_error(key + ": '" + bad + "' is not an address or CIDR prefix");
    return *list;
}

net::min_tls parse_tls_version(const std::string& text) {
    if (text == "1.0") return net::min_tls::v1_0;
    if (text == "1.1") return net::min_tls::v1_1;
    if (text == "1.2") return net::min_tls::v1_2;
    if (text == "1.3") return net::min_tls::v1_3;
    throw config_error("tls.min_version: '" + text + "' is not one of 1.0, 1.1, 1.2, 1.3");
}

// The non-empty items of a list separated by any of `separators`, trimmed of spaces.
std::vector<std::string> split_list(const std::string& text, const char* separators) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto end = text.find_first_of(separators, pos);
        if (end == std::string::npos) end = text.size();
        auto item = text.substr(pos, end - pos);
        auto first = item.find_first_not_of(' ');
        if (first != std::string::npos)
            out.push_back(item.substr(first, item.find_last_not_of(' ') - first + 1));
        pos = end + 1;
    }
    return out;
}

bool parse_flag(const po::variables_map& vm, const std::string& key, bool fallback) {
    auto text = value_or(vm, key, fallback ? "true" : "false");
    if (text != "true" && text != "false") throw config_error(key + ": '" + text + "' is not true or false");
    return text == "true";
}

std::chrono::seconds parse_seconds(const std::string& key, const std::string& text, unsigned min = 1,
                                   unsigned max = 86400) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
        throw config_error(key + ": '" + text + "' is not a number of seconds between " +
                           std::to_string(min) + " and " + std::to_string(max));
    return std::chrono::seconds(value);
}

std::uint64_t parse_count(const std::string& key, const std::string& text, std::uint64_t min,
                          std::uint64_t max) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min || value > max)
        throw config_error(key + ": '" + text + "' is not a whole number between " + std::to_string(min) +
                           " and " + std::to_string(max));
    return value;
}

// The [oauth.NAME] sections (names are the operator's, so they cannot be declared as options); any other unknown
// key is an error, as before.
std::vector<domain::oauth_client> take_oauth_sections(po::parsed_options& parsed) {
    std::map<std::string, domain::oauth_client> clients;
    for (auto& option : parsed.options) {
        if (!option.unregistered) continue;
        const auto& key = option.string_key;
        auto dot = key.find('.', 6);
        if (!key.starts_with("oauth.") || dot == std::string::npos || dot == 6)
            throw config_error("unknown configuration key '" + key + "'");
        auto name = key.substr(6, dot - 6);
        auto& client = clients[name];
        client.name = name;
        client.from_config = true;
        auto value = option.value.empty() ? std::string() : option.value.front();
        if (auto r = domain::set_client_field(client, key.substr(dot + 1), std::move(value)); !r)
            throw config_error(key + ": " + r.error().message);
    }
    std::vector<domain::oauth_client> out;
    for (auto& [name, client] : clients) out.push_back(std::move(client));
    return out;
}

} // namespace

po::options_description config_options(bool cli) {
    po::options_description desc("Configuration (INI keys; on the command line as --section.key)");
    if (cli) {
        desc.add_options()("config", po::value<std::string>()->value_name("FILE"), "INI configuration file");
        desc.add_options()("data-dir", po::value<std::string>()->value_name("DIR"),
                           "data directory (default ./mailgate-data)");
    } else {
        desc.add_options()("data_dir", po::value<std::string>(), "data directory");
    }
    desc.add_options()("store", po::value<std::string>()->value_name("URI"),
                       "where accounts are kept: empty (default) for SQLite in the data dir, or "
                       "postgresql://user@host/db (shared by several instances; password via PGPASSFILE or "
                       "PGPASSWORD, TLS via ?sslmode=verify-full)");
    for (const auto& l : listener_table()) {
        auto key = "listen." + std::string(l.name);
        auto help = "listener, empty disables, port 0 picks a free one (default " +
                    std::string(l.default_address) + ")";
        desc.add_options()(key.c_str(), po::value<std::string>()->value_name("HOST:PORT"), help.c_str());
        if (l.service == listener_service::admin) continue;
        desc.add_options()((key + ".proxy_protocol").c_str(), po::value<std::string>()->value_name("BOOL"),
                           "connections start with a PROXY protocol v1/v2 header from a balancer in "
                           "proxy.trusted, which names the client (default false)");
    }
    desc.add_options()("proxy.trusted", po::value<std::string>()->value_name("CIDRS"),
                       "balancers that may send PROXY headers to listeners with proxy_protocol (no default)");
    desc.add_options()("tls.cert", po::value<std::string>()->value_name("FILES"),
                       "certificate chains for clients (PEM), one per key type, comma separated; default: "
                       "generated RSA and ECDSA ones in the data dir")(
        "tls.key", po::value<std::string>()->value_name("FILES"),
        "private keys of tls.cert, in the same order")(
        "tls.local_ca", po::value<std::string>()->value_name("BOOL"),
        "sign the generated certificates with a local CA made on first start (default false)")(
        "tls.names", po::value<std::string>()->value_name("NAMES"),
        "extra DNS names or addresses for the generated certificates (default: host name and listen "
        "addresses)")("tls.min_version", po::value<std::string>()->value_name("V"),
                      "lowest TLS version offered to clients: 1.0, 1.1, 1.2 (default), 1.3")(
        "upstream.ca_file", po::value<std::string>()->value_name("FILE"),
        "extra trust anchors for providers, added to the system store")(
        "upstream.timeout", po::value<std::string>()->value_name("SECONDS"),
        "connect/TLS/login timeout toward providers (default 30)")(
        "upstream.tls_resumption", po::value<std::string>()->value_name("BOOL"),
        "resume TLS sessions with providers to skip full handshakes (default true)")(
        "access.allow", po::value<std::string>()->value_name("CIDRS"),
        "client networks served at all (default loopback and private ranges)")(
        "access.plaintext_auth", po::value<std::string>()->value_name("CIDRS"),
        "client networks that may log in without TLS (default: access.allow)")(
        "access.relay_without_auth", po::value<std::string>()->value_name("CIDRS"),
        "client networks that may send mail without AUTH (default none)")(
        "access.failed_login_delay", po::value<std::string>()->value_name("SECONDS"),
        "pause before answering a failed login, 0-60 (default 2)")(
        "limits.max_sessions", po::value<std::string>()->value_name("N"),
        "client connections at once, all listeners (default 10000; lowered to what the open-file limit "
        "allows)")("limits.max_sessions_per_address", po::value<std::string>()->value_name("N"),
                   "client connections at once from one address (default 100)")(
        "limits.max_prelogin_sessions", po::value<std::string>()->value_name("N"),
        "client connections at once that have not logged in yet (default 1000)")(
        "limits.login_deadline", po::value<std::string>()->value_name("SECONDS"),
        "time from connect to a successful login (SMTP: to the first AUTH or MAIL) before the connection is "
        "closed (default 60)")(
        "limits.max_upstream_per_account", po::value<std::string>()->value_name("N"),
        "provider sessions at once per account for clients, counted over all instances on "
        "the store; more logins get a temporary failure (default 0: no cap)")(
        "auth.free_failures", po::value<std::string>()->value_name("N"),
        "failed logins per client address (and per user) in the window before each "
        "further attempt is delayed (default 3)")(
        "auth.max_failures", po::value<std::string>()->value_name("N"),
        "failed logins per client address in the window after which logins from it are refused unchecked "
        "(default 10)")("auth.failure_window", po::value<std::string>()->value_name("SECONDS"),
                        "how long a failed login counts (default 900)")(
        "auth.max_delay", po::value<std::string>()->value_name("SECONDS"),
        "longest delay before a throttled login is checked (default 15)")(
        "auth.kdf_threads", po::value<std::string>()->value_name("N"),
        "threads checking local passwords (scrypt, 128 MiB each; default 2)")(
        "auth.kdf_queue", po::value<std::string>()->value_name("N"),
        "password checks that may wait at once; more get a temporary failure (default 64)")(
        "auth.challenge_logins_over_tls", po::value<std::string>()->value_name("BOOL"),
        "advertise APOP / CRAM-MD5 on TLS connections too, not only on plaintext ones (default false)")(
        "pop3.login_timeout", po::value<std::string>()->value_name("SECONDS"),
        "POP3: time allowed for each client command before login (default 60)")(
        "pop3.idle_timeout", po::value<std::string>()->value_name("SECONDS"),
        "POP3: close a logged-in session after this long without traffic (default 600)")(
        "imap.login_timeout", po::value<std::string>()->value_name("SECONDS"),
        "IMAP: time allowed for each client command before login (default 60)")(
        "imap.idle_timeout", po::value<std::string>()->value_name("SECONDS"),
        "IMAP: close a logged-in session after this long without traffic; at least 30 min by RFC 9051 "
        "(default 1860)")("smtp.command_timeout", po::value<std::string>()->value_name("SECONDS"),
                          "SMTP: time allowed for each client command (default 300, RFC 5321 4.5.3.2)")(
        "smtp.data_timeout", po::value<std::string>()->value_name("SECONDS"),
        "SMTP: time allowed between DATA blocks (default 180)")(
        "smtp.max_message_size", po::value<std::string>()->value_name("BYTES"),
        "SMTP: largest message accepted, advertised as SIZE (default 52428800)")(
        "smtp.bare_lf", po::value<std::string>()->value_name("MODE"),
        "SMTP: lines ending in a bare LF: reject (default; answered at once) or normalize (old devices)")(
        "smtp.spool", po::value<std::string>()->value_name("MODE"),
        "SMTP: queue mail on disk and answer 250 once it is fsynced: off, devices (sessions without AUTH "
        "from access.relay_without_auth; default) or all")(
        "smtp.spool_max_bytes", po::value<std::string>()->value_name("BYTES"),
        "SMTP: spool size limit; past it new messages get 452 4.3.1 (default 1073741824)")(
        "smtp.spool_retry", po::value<std::string>()->value_name("SECONDS,..."),
        "SMTP: waits between delivery attempts, the last repeating (default 60,300,900,1800,3600)")(
        "smtp.spool_lifetime", po::value<std::string>()->value_name("SECONDS"),
        "SMTP: how long a queued message is retried before it is returned (default 259200, 3 days)")(
        "smtp.spool_deliveries", po::value<std::string>()->value_name("N"),
        "SMTP: spool deliveries at once in total (default 8)")(
        "smtp.spool_deliveries_per_account", po::value<std::string>()->value_name("N"),
        "SMTP: spool deliveries at once per account (default 2)")(
        "smtp.spool_lease", po::value<std::string>()->value_name("SECONDS"),
        "SMTP, several instances on one PostgreSQL store: how long an instance may be silent before another "
        "delivers its queued messages (default 60)")(
        "admin.tls", po::value<std::string>()->value_name("BOOL"),
        "serve the admin page over HTTPS with the local certificate (default false)")(
        "admin.names", po::value<std::string>()->value_name("NAMES"),
        "host names the admin page answers to besides its address and localhost (DNS rebinding defence)")(
        "log.level", po::value<std::string>()->value_name("LEVEL"),
        "trace, debug, info (default), warn, error")("log.file", po::value<std::string>()->value_name("FILE"),
                                                     "log file (default: standard error)");
    return desc;
}

config load_config(const po::variables_map& command_line) {
    po::variables_map vm = command_line;
    std::vector<domain::oauth_client> oauth_sections;
    if (command_line.count("config")) {
        auto path = command_line["config"].as<std::string>();
        std::ifstream in(path);
        if (!in) throw config_error("config: cannot read '" + path + "'");
        try {
            // Values already set on the command line are kept: flags win over the file.
            auto file_options = config_options(false); // parsed_options points into it
            auto parsed = po::parse_config_file(in, file_options, true);
            oauth_sections = take_oauth_sections(parsed);
            po::store(parsed, vm);
        } catch (const po::error& e) {
            throw config_error(std::string(path) + ": " + e.what());
        }
    }

    config c;
    c.data_dir = value_or(vm, "data-dir", value_or(vm, "data_dir", c.data_dir.string()));
    if (c.data_dir.empty()) throw config_error("data_dir: must not be empty");
    c.store = value_or(vm, "store", "");
    if (!c.store.empty() && !store::is_postgresql_location(c.store))
        throw config_error("store: '" + store::describe_location(c.data_dir, c.store) +
                           "' is not a postgresql:// URI (leave it empty for SQLite in the data dir)");
    for (const auto& l : listener_table()) {
        auto key = "listen." + std::string(l.name);
        auto text = value_or(vm, key, std::string(l.default_address));
        // Checked even for a disabled listener: a typo stays an error when the listener is enabled later.
        bool proxied = l.service != listener_service::admin && parse_flag(vm, key + ".proxy_protocol", false);
        if (text.empty()) continue;
        auto parsed = net::parse_host_port(text, net::port_zero::ephemeral);
        if (!parsed) throw config_error(key + ": '" + text + "' is not HOST:PORT (IPv6 as [::1]:PORT)");
        c.listen[std::string(l.name)] = *parsed;
        if (proxied) c.proxy_protocol.insert(std::string(l.name));
    }
    c.proxy_trusted = parse_networks("proxy.trusted", value_or(vm, "proxy.trusted", ""));
    if (!c.proxy_protocol.empty() && c.proxy_trusted.empty())
        throw config_error("proxy.trusted: required when listen." + *c.proxy_protocol.begin() +
                           ".proxy_protocol = true (the balancers' addresses)");
    for (const auto& file : split_list(value_or(vm, "tls.cert", ""), ",")) c.tls_certs.emplace_back(file);
    for (const auto& file : split_list(value_or(vm, "tls.key", ""), ",")) c.tls_keys.emplace_back(file);
    if (c.tls_certs.size() != c.tls_keys.size())
        throw config_error(c.tls_certs.empty()  ? "tls.cert: required when tls.key is set"
                           : c.tls_keys.empty() ? "tls.key: required when tls.cert is set"
                                                : "tls.key: give one key for each file in tls.cert");
    c.tls_local_ca = parse_flag(vm, "tls.local_ca", false);
    c.tls_names = split_list(value_or(vm, "tls.names", ""), ", ");
    c.tls_min_version = parse_tls_version(value_or(vm, "tls.min_version", "1.2"));
    c.upstream_ca_file = value_or(vm, "upstream.ca_file", "");
    if (!c.upstream_ca_file.empty() && !std::ifstream(c.upstream_ca_file))
        throw config_error("upstream.ca_file: cannot read '" + c.upstream_ca_file.string() + "'");
    c.upstream_timeout = parse_seconds("upstream.timeout", value_or(vm, "upstream.timeout", "30"));
    c.upstream_tls_resumption = parse_flag(vm, "upstream.tls_resumption", true);
    auto allow = value_or(vm, "access.allow", default_client_networks);
    c.access_allow = parse_networks("access.allow", allow);
    c.access_plaintext_auth =
        parse_networks("access.plaintext_auth", value_or(vm, "access.plaintext_auth", allow));
    c.access_relay_without_auth =
        parse_networks("access.relay_without_auth", value_or(vm, "access.relay_without_auth", ""));
    c.failed_login_delay =
        parse_seconds("access.failed_login_delay", value_or(vm, "access.failed_login_delay", "2"), 0, 60);
    c.max_sessions =
        parse_count("limits.max_sessions", value_or(vm, "limits.max_sessions", "10000"), 1, 1000000);
    c.max_sessions_per_address =
        parse_count("limits.max_sessions_per_address", value_or(vm, "limits.max_sessions_per_address", "100"),
                    1, 1000000);
    c.max_prelogin_sessions = parse_count("limits.max_prelogin_sessions",
                                          value_or(vm, "limits.max_prelogin_sessions", "1000"), 1, 1000000);
    c.login_deadline =
        parse_seconds("limits.login_deadline", value_or(vm, "limits.login_deadline", "60"), 5, 3600);
    c.max_upstream_per_account = static_cast<unsigned>(parse_count(
        "limits.max_upstream_per_account", value_or(vm, "limits.max_upstream_per_account", "0"), 0, 10000));
    c.auth_free_failures = static_cast<unsigned>(
        parse_count("auth.free_failures", value_or(vm, "auth.free_failures", "3"), 0, 1000));
    c.auth_max_failures = static_cast<unsigned>(
        parse_count("auth.max_failures", value_or(vm, "auth.max_failures", "10"), 1, 100000));
    c.auth_failure_window =
        parse_seconds("auth.failure_window", value_or(vm, "auth.failure_window", "900"), 1);
    c.auth_max_delay = parse_seconds("auth.max_delay", value_or(vm, "auth.max_delay", "15"), 0, 300);
    c.auth_kdf_threads =
        static_cast<unsigned>(parse_count("auth.kdf_threads", value_or(vm, "auth.kdf_threads", "2"), 1, 64));
    c.auth_kdf_queue = parse_count("auth.kdf_queue", value_or(vm, "auth.kdf_queue", "64"), 1, 100000);
    c.auth_challenge_logins_over_tls = parse_flag(vm, "auth.challenge_logins_over_tls", false);
    c.pop3_login_timeout = parse_seconds("pop3.login_timeout", value_or(vm, "pop3.login_timeout", "60"));
    c.pop3_idle_timeout = parse_seconds("pop3.idle_timeout", value_or(vm, "pop3.idle_timeout", "600"));
    c.imap_login_timeout = parse_seconds("imap.login_timeout", value_or(vm, "imap.login_timeout", "60"));
    c.imap_idle_timeout = parse_seconds("imap.idle_timeout", value_or(vm, "imap.idle_timeout", "1860"));
    c.smtp_command_timeout =
        parse_seconds("smtp.command_timeout", value_or(vm, "smtp.command_timeout", "300"));
    c.smtp_data_timeout = parse_seconds("smtp.data_timeout", value_or(vm, "smtp.data_timeout", "180"));
    c.smtp_max_message_size =
        parse_count("smtp.max_message_size", value_or(vm, "smtp.max_message_size", "52428800"), 1024,
                    std::uint64_t(1) << 40);
    auto bare_lf = value_or(vm, "smtp.bare_lf", "reject");
    if (bare_lf != "reject" && bare_lf != "normalize")
        throw config_error("smtp.bare_lf: '" + bare_lf + "' is not one of reject, normalize");
    c.smtp_bare_lf_normalize = bare_lf == "normalize";
    c.smtp_spool = value_or(vm, "smtp.spool", "devices");
    if (c.smtp_spool != "off" && c.smtp_spool != "devices" && c.smtp_spool != "all")
        throw config_error("smtp.spool: '" + c.smtp_spool + "' is not one of off, devices, all");
    c.smtp_spool_max_bytes =
        parse_count("smtp.spool_max_bytes", value_or(vm, "smtp.spool_max_bytes", "1073741824"), 1024,
                    std::uint64_t(1) << 50);
    {
        auto text = value_or(vm, "smtp.spool_retry", "60,300,900,1800,3600");
        std::size_t pos = 0;
        while (pos <= text.size()) {
            auto end = text.find(',', pos);
            if (end == std::string::npos) end = text.size();
            c.smtp_spool_retry.push_back(parse_seconds("smtp.spool_retry", text.substr(pos, end - pos), 1));
            pos = end + 1;
        }
    }
    c.smtp_spool_lifetime =
        parse_seconds("smtp.spool_lifetime", value_or(vm, "smtp.spool_lifetime", "259200"), 10, 30 * 86400);
    c.smtp_spool_deliveries = static_cast<unsigned>(
        parse_count("smtp.spool_deliveries", value_or(vm, "smtp.spool_deliveries", "8"), 1, 1000));
    c.smtp_spool_deliveries_per_account = static_cast<unsigned>(parse_count(
        "smtp.spool_deliveries_per_account", value_or(vm, "smtp.spool_deliveries_per_account", "2"), 1, 100));
    c.smtp_spool_lease = parse_seconds("smtp.spool_lease", value_or(vm, "smtp.spool_lease", "60"), 3, 3600);
    c.admin_tls = parse_flag(vm, "admin.tls", false);
    c.admin_names = split_list(value_or(vm, "admin.names", ""), ", ");
    c.log_level = value_or(vm, "log.level", "info");
    static const std::vector<std::string> levels{"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
    if (std::find(levels.begin(), levels.end(), c.log_level) == levels.end())
        throw config_error("log.level: '" + c.log_level +
                           "' is not one of trace, debug, info, warn, error, critical, off");
    c.log_file = value_or(vm, "log.file", "");
    for (auto& client : oauth_sections) {
        auto name = client.name;
        auto completed = domain::complete_client(std::move(client));
        if (!completed) throw config_error("oauth." + name + ": " + completed.error().message);
        c.oauth_clients.push_back(std::move(*completed));
    }
    return c;
}

} // namespace mailgate::app
