// Loading, reloading and renewing the LAN certificates.
#include "server/net/certificate_manager.hpp"

#include "server/net/tls_contexts.hpp"

#include <spdlog/spdlog.h>

#include <ctime>

namespace mailgate::net {

certificate_manager::certificate_manager(certificate_settings settings) : settings_(std::move(settings)) {
    auto result = load(true, "start");
    if (!result.ok) throw std::runtime_error(result.message);
}

certificate_state certificate_manager::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

reload_result certificate_manager::reload() { return load(true, "reload"); }

reload_result certificate_manager::check() { return load(false, "check"); }

std::vector<std::filesystem::file_time_type> certificate_manager::file_times() const {
    std::vector<std::filesystem::file_time_type> out;
    for (const auto& pair : settings_.configured) {
        std::error_code ec;
        out.push_back(std::filesystem::last_write_time(pair.cert, ec));
        out.push_back(std::filesystem::last_write_time(pair.key, ec));
    }
    return out;
}

reload_result certificate_manager::load(bool always, const char* why) {
    std::lock_guard lock(mutex_);
    certificate_state next;
    next.floor = settings_.floor;
    std::string renewed;
    try {
        if (settings_.configured.empty()) {
            auto request = settings_.generated;
            request.now = 0;
            auto set = ensure_local_certificates(settings_.data_dir, request);
            renewed = set.renewed;
            if (set.ca_created)
                spdlog::warn("tls: created a new local CA {}: install it on the clients",
                             set.ca_cert.string());
            if (!always && renewed.empty()) return {true, false, "certificates unchanged"};
            next.source = request.use_ca ? "local CA" : "self-signed";
            next.pairs = set.pairs;
            next.trust_file = set.trust_file;
            next.ca_cert = set.ca_cert;
        } else {
            auto times = file_times();
            if (!always && times == times_) return {true, false, "certificates unchanged"};
            next.source = "configured";
            next.pairs = settings_.configured;
        }
        auto context = make_server_context(next.pairs, settings_.floor);
        for (const auto& pair : next.pairs) {
            auto chain = read_certificate_file(pair.cert);
            if (!chain.empty()) next.certificates.push_back(chain.front());
        }
        next.loaded_at = static_cast<std::int64_t>(std::time(nullptr));
        times_ = file_times();
        tls_.replace(std::move(context));
        state_ = std::move(next);
        renewed_ = renewed;
    } catch (const std::exception& e) {
        std::string message = std::string("certificates not loaded: ") + e.what();
        if (tls_.current()) {
            message += "; the previous certificates stay in use";
            spdlog::error("tls: {} ({})", message, why);
        }
        return {false, false, message};
    }
    std::string message = "certificates loaded";
    if (!renewed.empty()) message = "new local certificates made (" + renewed + ")";
    for (const auto& info : state_.certificates) {
        std::int64_t days = (info.not_after - state_.loaded_at) / 86400;
        if (days < 14)
            spdlog::warn("tls: certificate {} ({}) ends in {} days", info.subject, info.key_type, days);
    }
    if (std::string(why) != "start") spdlog::info("tls: {} ({})", message, why);
    return {true, true, message};
}

std::string certificate_manager::describe() const {
    std::lock_guard lock(mutex_);
    std::string text;
    for (const auto& pair : state_.pairs) text += (text.empty() ? "" : ", ") + pair.cert.string();
    text += " (" + state_.source;
    if (!renewed_.empty()) text += ", created now";
    text += ")";
    return text;
}

} // namespace mailgate::net
