// The gateway's configuration: embedded defaults, an INI file, and --section.key flags (flags win).
#pragma once

#include "server/domain/oauth_client.hpp"
#include "server/net/cidr.hpp"
#include "server/net/host_port.hpp"
#include "server/net/min_tls.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailgate::app {

struct config {
    std::filesystem::path data_dir = "./mailgate-data";
    // Empty: SQLite in the data dir; postgresql://...: a database several instances share (store/open_database).
    std::string store;
    // Keyed by listener name (app/listener_table.hpp). Absent = disabled; port 0 = any free port.
    std::map<std::string, net::host_port> listen;
    // Mail listeners whose connections start with a balancer's PROXY header (listen.NAME.proxy_protocol), and
    // the balancers allowed to send one (proxy.trusted; required when any listener has it).
    std::set<std::string> proxy_protocol;
    net::cidr_list proxy_trusted;
    // tls.cert/tls.key: one pair per key type (RSA and ECDSA may be given together); empty: generated ones in the
    // data dir (net/local_certificate), self-signed or, with tls.local_ca, signed by a local CA.
    std::vector<std::filesystem::path> tls_certs;
    std::vector<std::filesystem::path> tls_keys;
    bool tls_local_ca = false;
    std::vector<std::string> tls_names; // extra names for the generated certificates
    net::min_tls tls_min_version = net::min_tls::v1_2;
    std::filesystem::path upstream_ca_file;
    std::chrono::seconds upstream_timeout{30};
    bool upstream_tls_resumption =
        true; // TLS tickets / session ids per provider host (net/tls_session_cache)
    net::cidr_list access_allow;
    net::cidr_list access_plaintext_auth;
    net::cidr_list access_relay_without_auth;
    std::chrono::seconds failed_login_delay{2};
    // Connection caps and the pre-login deadline (net::connection_caps).
    std::size_t max_sessions = 10000;
    std::size_t max_sessions_per_address = 100;
    std::size_t max_prelogin_sessions = 1000;
    std::chrono::seconds login_deadline{60};
    // Client sessions per account at the provider, over all instances; 0: no cap.
    unsigned max_upstream_per_account = 0;
    // Failed-login throttling (proxy::throttle_policy) and the KDF queue (store::kdf_limits).
    unsigned auth_free_failures = 3;
    unsigned auth_max_failures = 10;
    std::chrono::seconds auth_failure_window{900};
    std::chrono::seconds auth_max_delay{15};
    unsigned auth_kdf_threads = 2;
    std::size_t auth_kdf_queue = 64;
    bool auth_challenge_logins_over_tls = false; // APOP / CRAM-MD5 advertised over TLS too
    std::chrono::seconds pop3_login_timeout{60};
    std::chrono::seconds pop3_idle_timeout{600};
    std::chrono::seconds imap_login_timeout{60};
    std::chrono::seconds imap_idle_timeout{1860};
    std::chrono::seconds smtp_command_timeout{300}; // RFC 5321 §4.5.3.2.7
    std::chrono::seconds smtp_data_timeout{180};    // §4.5.3.2.6 (data block)
    std::uint64_t smtp_max_message_size = 50ull * 1024 * 1024;
    bool smtp_bare_lf_normalize = false; // smtp.bare_lf: "reject" (default) or "normalize"
    // The SMTP spool (proxy/spool_service.hpp): "off", "devices" or "all", and its limits.
    std::string smtp_spool = "devices";
    std::uint64_t smtp_spool_max_bytes = std::uint64_t(1) << 30;
    std::vector<std::chrono::seconds> smtp_spool_retry; // empty: the built-in schedule
    std::chrono::seconds smtp_spool_lifetime{3 * 86400};
    unsigned smtp_spool_deliveries = 8;
    unsigned smtp_spool_deliveries_per_account = 2;
    // A shared store's: how long the other instances wait for a silent one before taking its queue.
    std::chrono::seconds smtp_spool_lease{60};
    bool admin_tls = false;
    std::vector<std::string> admin_names; // extra Host names for the admin page (besides its listen address)
    // [oauth.NAME] sections: OAuth2 client registrations (completed with their preset).
    std::vector<domain::oauth_client> oauth_clients;
    std::string log_level = "info";
    std::filesystem::path log_file;
};

// A configuration problem that stops startup; the message names the key.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Every configuration key as program options; `cli` spells data_dir as --data-dir and adds --config.
boost::program_options::options_description config_options(bool cli);

// Builds the configuration from parsed command-line values plus the --config file they name (if any).
// Throws config_error naming the offending key.
config load_config(const boost::program_options::variables_map& command_line);

} // namespace mailgate::app
