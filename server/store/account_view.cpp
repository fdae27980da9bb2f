// Account rendering.
#include "server/store/account_view.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <ctime>

namespace mailgate::store {

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
    out += std::string("apop/cram:    ") +
           (a.challenge_logins ? "allowed (the local password is kept encrypted, reversibly)\n" : "no\n");
    for (const auto& [protocol, e] : a.endpoints) {
        out += std::string(domain::to_string(protocol)) + ":         " + e.endpoint.url() + "  [" +
               std::string(store::to_string(e.status));
        if (e.status_at) out += " at " + format_time(e.status_at);
        if (!e.status_reason.empty()) out += ": " + e.status_reason;
        out += "]\n";
    }
    std::string senders;
    for (const auto& s : a.senders) senders += (senders.empty() ? "" : ", ") + s;
    out += "senders:      " + (senders.empty() ? a.remote_user + " (default)" : senders) + "\n";
    const auto& m = a.mailbox;
    out += "pop3 source:  " + std::string(domain::to_string(m.pop3)) +
           (m.pop3 == domain::pop3_source::imap ? " (from an IMAP folder)\n" : " (the provider's POP3)\n");
    out += "pop3 folder:  " + m.pop3_folder + "\n";
    out += std::string("mark seen:    ") + (m.pop3_mark_seen ? "yes\n" : "no\n");
    out += "save sent:    " + std::string(domain::to_string(m.sent));
    if (domain::saves_sent_copy(m, a.provider))
        out += " (a copy goes to the Sent folder)\n";
    else
        out += m.sent == domain::save_sent::never ? " (no copy)\n"
                                                  : " (no copy: the provider files sent mail)\n";
    out += "sent folder:  " + m.sent_folder + "\n";
    out += "credential:   " + std::string(store::to_string(a.credential));
    if (a.credential == store::credential_kind::oauth2) out += " (OAuth client '" + a.oauth_client + "')";
    out += "\n";
    if (const auto& g = a.oauth) {
        out += "oauth state:  " + std::string(store::to_string(g->state)) + "\n";
        if (!g->identity.empty()) out += "consented by: " + g->identity + "\n";
        out += "consented:    " + format_time(g->consented_at) + "\n";
        if (!g->scopes.empty()) out += "scopes:       " + g->scopes + "\n";
        out += "token expiry: " + format_time(g->access_expires_at) + "\n";
        out += "last refresh: " + format_time(g->last_refresh_at) + "  (" + std::to_string(g->refresh_count) +
               " refreshes, " + std::to_string(g->refresh_failures) + " failures)\n";
        if (!g->last_error.error.empty()) {
            out += "last error:   " + g->last_error.error;
            if (!g->last_error.description.empty()) out += ": " + g->last_error.description;
            if (g->last_error.http_status) out += " (HTTP " + std::to_string(g->last_error.http_status) + ")";
            out += " at " + format_time(g->last_error.at) + "\n";
        }
        if (g->state == store::oauth_state::needs_consent)
            out += "next step:    mailgate account oauth " + a.name + " --device   (or --paste)\n";
    }
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
    o["challenge_logins"] = a.challenge_logins;
    boost::json::object endpoints;
    for (const auto& [protocol, e] : a.endpoints) {
        boost::json::object ep;
        ep["url"] = e.endpoint.url();
        ep["status"] = std::string(store::to_string(e.status));
        ep["status_at"] = e.status_at ? boost::json::value(*e.status_at) : nullptr;
        ep["status_reason"] = e.status_reason;
        endpoints[std::string(domain::to_string(protocol))] = std::move(ep);
    }
    o["endpoints"] = std::move(endpoints);
    boost::json::array senders;
    for (const auto& s : a.senders) senders.emplace_back(s);
    o["senders"] = std::move(senders);
    o["pop3_source"] = std::string(domain::to_string(a.mailbox.pop3));
    o["pop3_folder"] = a.mailbox.pop3_folder;
    o["pop3_mark_seen"] = a.mailbox.pop3_mark_seen;
    o["save_sent"] = std::string(domain::to_string(a.mailbox.sent));
    o["sent_folder"] = a.mailbox.sent_folder;
    o["saves_sent_copy"] = domain::saves_sent_copy(a.mailbox, a.provider);
    o["credential"] = std::string(store::to_string(a.credential));
    if (const auto& g = a.oauth) {
        boost::json::object oauth;
        oauth["client"] = a.oauth_client;
        oauth["state"] = std::string(store::to_string(g->state));
        oauth["identity"] = g->identity;
        oauth["scopes"] = g->scopes;
        oauth["consented_at"] = g->consented_at ? boost::json::value(*g->consented_at) : nullptr;
        oauth["access_expires_at"] =
            g->access_expires_at ? boost::json::value(*g->access_expires_at) : nullptr;
        oauth["last_refresh_at"] = g->last_refresh_at ? boost::json::value(*g->last_refresh_at) : nullptr;
        oauth["refresh_count"] = g->refresh_count;
        oauth["refresh_failures"] = g->refresh_failures;
        oauth["has_refresh_token"] = g->has_refresh_token;
        oauth["last_error"] =
            boost::json::object{{"error", g->last_error.error},
                                {"description", g->last_error.description},
                                {"http_status", g->last_error.http_status},
                                {"at", g->last_error.at ? boost::json::value(g->last_error.at) : nullptr}};
        o["oauth"] = std::move(oauth);
    }
    o["created_at"] = a.created_at;
    o["updated_at"] = a.updated_at;
    o["last_login_at"] = a.last_login_at ? boost::json::value(*a.last_login_at) : nullptr;
    return o;
}

} // namespace mailgate::store
