// Account rendering.
#include "server/app/account_view.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <ctime>

namespace mailgate::app {

std::string format_time(std::optional<std::int64_t> unix_seconds) {
    if (!unix_seconds) return "never";
    std::time_t t = static_cast<std::time_t>(*unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

std::string format_account(const store::account& a) {
    std::string out;
    out += "name:         " + a.name + "\n";
    out += "local user:   " + a.local_user + "\n";
    out += "remote user:  " + a.remote_user + "\n";
    out += "provider:     " + a.provider + "\n";
    out += std::string("enabled:      ") + (a.enabled ? "yes" : "no") + "\n";
    for (const auto& [protocol, e] : a.endpoints) {
        out += std::string(net::to_string(protocol)) + ":         " + e.endpoint.url() + "  [" +
               std::string(store::to_string(e.status));
        if (e.status_at) out += " at " + format_time(e.status_at);
        if (!e.status_reason.empty()) out += ": " + e.status_reason;
        out += "]\n";
    }
    std::string senders;
    for (const auto& s : a.senders) senders += (senders.empty() ? "" : ", ") + s;
    out += "senders:      " + (senders.empty() ? a.remote_user + " (default)" : senders) + "\n";
    out += "created:      " + format_time(a.created_at) + "\n";
    out += "updated:      " + format_time(a.updated_at) + "\n";
    out += "last login:   " + format_time(a.last_login_at) + "\n";
    return out;
}

boost::json::value account_json(const store::account& a) {
    boost::json::object o;
    o["name"] = a.name;
    o["local_user"] = a.local_user;
    o["remote_user"] = a.remote_user;
    o["provider"] = a.provider;
    o["enabled"] = a.enabled;
    boost::json::object endpoints;
    for (const auto& [protocol, e] : a.endpoints) {
        boost::json::object ep;
        ep["url"] = e.endpoint.url();
        ep["status"] = std::string(store::to_string(e.status));
        ep["status_at"] = e.status_at ? boost::json::value(*e.status_at) : nullptr;
        ep["status_reason"] = e.status_reason;
        endpoints[std::string(net::to_string(protocol))] = std::move(ep);
    }
    o["endpoints"] = std::move(endpoints);
    boost::json::array senders;
    for (const auto& s : a.senders) senders.emplace_back(s);
    o["senders"] = std::move(senders);
    o["created_at"] = a.created_at;
    o["updated_at"] = a.updated_at;
    o["last_login_at"] = a.last_login_at ? boost::json::value(*a.last_login_at) : nullptr;
    return o;
}

} // namespace mailgate::app
