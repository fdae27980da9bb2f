// The dashboard document.
#include "server/admin/dashboard_api.hpp"

#include "server/admin/client_setup.hpp"
#include "server/common/unix_time.hpp"
#include "server/net/certificate_manager.hpp"
#include "server/proxy/activity.hpp"

#include <boost/json/array.hpp>

namespace mailgate::admin {
namespace {

boost::json::object counts(const std::map<std::string, std::uint32_t>& by_name) {
    boost::json::object out;
    for (const auto& [name, n] : by_name) out[name] = n;
    return out;
}

} // namespace

boost::json::object dashboard_json(const proxy::activity& live, const client_setup* setup,
                                   net::certificate_manager* certificates) {
    boost::json::object out;
    out["now"] = unix_now();
    boost::json::array listeners;
    if (setup)
        for (const auto& l : setup->listeners)
            listeners.push_back(
                boost::json::object{{"protocol", to_string(l.protocol)},
                                    {"port", l.port},
                                    {"mode", l.implicit_tls ? "implicit TLS" : "plaintext + STARTTLS"}});
    out["listeners"] = std::move(listeners);
    out["sessions_now"] = counts(live.live_by_protocol());

    boost::json::array history;
    std::uint32_t ok = 0, failed = 0, messages = 0;
    std::map<std::string, std::uint32_t> upstream_errors;
    for (const auto& m : live.last_hour()) {
        history.push_back(boost::json::object{{"start", m.start},
                                              {"sessions", counts(m.peak_sessions)},
                                              {"logins_ok", m.logins_ok},
                                              {"logins_failed", m.logins_failed},
                                              {"messages", m.messages}});
        ok += m.logins_ok;
        failed += m.logins_failed;
        messages += m.messages;
        for (const auto& [account, n] : m.upstream_errors) upstream_errors[account] += n;
    }
    out["history"] = std::move(history);
    out["last_hour"] =
        boost::json::object{{"logins_ok", ok}, {"logins_failed", failed}, {"messages", messages}};
    out["upstream_errors"] = counts(upstream_errors);

    boost::json::array certs;
    if (certificates) {
        auto state = certificates->state();
        out["tls"] = boost::json::object{{"min_version", net::to_string(state.floor)},
                                         {"legacy", net::legacy_profile(state.floor)},
                                         {"source", state.source}};
        for (const auto& c : state.certificates)
            certs.push_back(boost::json::object{
                {"key_type", c.key_type}, {"subject", c.subject}, {"not_after", c.not_after}});
    }
    out["certificates"] = std::move(certs);
    return out;
}

} // namespace mailgate::admin
