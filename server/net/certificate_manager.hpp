// Where the LAN certificates come from and when they change: configured files (reloaded on SIGHUP, from the admin
// page, or when a file changes) or the generated set (net/local_certificate, renewed before it ends).
#pragma once

#include "server/net/certificate_info.hpp"
#include "server/net/local_certificate.hpp"
#include "server/net/min_tls.hpp"
#include "server/net/server_tls.hpp"

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace mailgate::net {

struct certificate_settings {
    std::vector<key_pair_files> configured; // tls.cert/tls.key pairs; empty: the generated set
    std::filesystem::path data_dir;
    local_certificate_request generated; // names and CA mode for the generated set
    min_tls floor = min_tls::v1_2;
};

struct certificate_state {
    std::string source; // "configured", "self-signed" or "local CA"
    std::vector<key_pair_files> pairs;
    std::vector<certificate_info> certificates; // the leaf of each pair
    std::filesystem::path trust_file;           // generated: what clients install; configured: empty
    std::filesystem::path ca_cert;              // local CA mode only
    min_tls floor = min_tls::v1_2;
    std::int64_t loaded_at = 0;
};

struct reload_result {
    bool ok = false;
    bool changed = false; // a new context is in use
    std::string message;  // for the log and the admin page
};

class certificate_manager {
public:
    // Loads (and for the generated set, creates or renews) the certificates; throws what is wrong at startup.
    explicit certificate_manager(certificate_settings settings);

    const server_tls& tls() const { return tls_; }
    certificate_state state() const;

    // Reads the certificates again and puts a new context in place; on any error the old one stays in use.
    reload_result reload();
    // The periodic check: renews a generated set that needs it, reloads configured files that changed.
    reload_result check();

    // What the startup banner says about the certificates.
    std::string describe() const;

private:
    reload_result load(bool always, const char* why);
    std::vector<std::filesystem::file_time_type> file_times() const;

    certificate_settings settings_;
    mutable std::mutex mutex_;
    certificate_state state_;
    std::string renewed_; // why the generated set was made at the last load
    std::vector<std::filesystem::file_time_type> times_;
    server_tls tls_{nullptr};
};

} // namespace mailgate::net
