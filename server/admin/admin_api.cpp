// Admin HTTP request handling.
#include "server/admin/admin_api.hpp"

#include "protocols/common/ascii.hpp"
#include "server/admin/client_setup.hpp"
#include "server/admin/dashboard_api.hpp"
#include "server/admin/gateway_health.hpp"
#include "server/admin/queue_api.hpp"
#include "server/admin/tls_api.hpp"
#include "server/common/log_rate_limit.hpp"
#include "server/common/query_string.hpp"
#include "server/net/timed.hpp"
#include "server/proxy/spool_service.hpp"

#include "server/admin/request_util.hpp"
#include "server/admin/static_assets.hpp"
#include "server/common/heap_in_use.hpp"
#include "server/domain/account_input.hpp"
#include "server/domain/providers.hpp"
#include "server/net/tls_session_cache.hpp"
#include "server/store/account_view.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace mailgate::admin {

namespace http = boost::beast::http;
namespace json = boost::json;
using status = http::status;

namespace {

std::string percent_decode(std::string_view s) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) && hex(s[i + 2])) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t pos = 0;
    while (pos <= path.size()) {
        auto slash = path.find('/', pos);
        if (slash == std::string_view::npos) slash = path.size();
        if (slash > pos) parts.push_back(percent_decode(path.substr(pos, slash - pos)));
        pos = slash + 1;
    }
    return parts;
}

// The mailbox options of a create or update body (pop3_source, pop3_folder, pop3_mark_seen, save_sent,
// sent_folder); absent members stay absent.
bool read_mailbox(const json::object& body, domain::mailbox_input& in, std::string& error) {
    if (!read_string(body, "pop3_source", in.pop3_source, error) ||
        !read_string(body, "pop3_folder", in.pop3_folder, error) ||
        !read_string(body, "save_sent", in.save_sent, error) ||
        !read_string(body, "sent_folder", in.sent_folder, error))
        return false;
    if (auto it = body.find("pop3_mark_seen"); it != body.end() && !it->value().is_null()) {
        bool seen = false;
        if (!read_bool(body, "pop3_mark_seen", seen, error)) return false;
        in.pop3_mark_seen = seen;
    }
    return true;
}

bool has_imap(const std::vector<domain::upstream_endpoint>& endpoints) {
    return std::any_of(endpoints.begin(), endpoints.end(),
                       [](const auto& e) { return e.protocol == domain::mail_protocol::imap; });
}

std::string time_text(std::chrono::system_clock::time_point t) {
    return store::format_time(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

} // namespace

response admin_api::make(status s, unsigned version, std::string content_type, std::string body) {
    response res{s, version};
    res.set(http::field::server, "mailgate");
    res.set(http::field::content_type, content_type);
    res.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response admin_api::json_error(status s, unsigned version, const std::string& message) {
    return make(s, version, "application/json", json::serialize(json::object{{"error", message}}));
}

bool admin_api::host_allowed(const request& req) const {
    auto host = std::string(req[http::field::host]);
    for (const auto& name : settings_.host_names)
        if (host == name) return true;
    return false;
}

bool admin_api::origin_allowed(const request& req) const {
    auto origin = std::string(req[http::field::origin]);
    if (origin.empty()) return false;
    std::string scheme = settings_.https ? "https://" : "http://";
    for (const auto& name : settings_.host_names)
        if (origin == scheme + name) return true;
    return false;
}

std::optional<std::string> admin_api::session_token(const request& req) const {
    return cookie_value(req, "mg_session");
}

boost::asio::awaitable<response> admin_api::readiness(unsigned version) {
    auto* health = settings_.health;
    if (health && health->draining())
        co_return make(status::service_unavailable, version, "text/plain",
                       "draining: " + std::to_string(settings_.live.sessions().size()) +
                           " session(s) left\n");
    if (health && !health->accepting())
        co_return make(status::service_unavailable, version, "text/plain", "starting\n");
    try {
        co_await net::timed(settings_.store.run([](store::account_repository& repo) {
            repo.check_reachable();
            return true;
        }),
                            std::chrono::seconds(3));
    } catch (const std::exception& e) {
        static log_rate_limit unreachable_log;
        if (auto n = unreachable_log.occurred())
            spdlog::warn("healthz: the store does not answer: {} ({} time(s) since the last report)",
                         e.what(), n);
        co_return make(status::service_unavailable, version, "text/plain", "store unreachable\n");
    }
    co_return make(status::ok, version, "text/plain", "ok\n");
}

boost::asio::awaitable<response> admin_api::handle(request req, std::string client) {
    auto version = req.version();
    std::string target(req.target());
    auto path = target.substr(0, target.find('?'));
    bool callback = path == "/oauth/callback";
    // Mail clients ask under whatever name points here (autoconfig.example.org): no Host check, nothing secret.
    if (is_client_config_path(path)) co_return co_await client_config(req, target, path);
    // Balancers check under any name (or none, HTTP/1.0); the answer reveals nothing but readiness.
    if (path == "/healthz" && req.method() == http::verb::get) co_return co_await readiness(version);
    // The OAuth2 redirect arrives at the loopback address of the redirect URI even when the page is served under
    // another name.
    if (!host_allowed(req) && !(callback && oauth_.callback_host(req)))
        co_return json_error(status::misdirected_request, version, "unknown Host");
    if (req.method() == http::verb::get) {
        if (auto asset = find_asset(path))
            co_return make(status::ok, version, std::string(asset->content_type), std::string(asset->body));
        if (path == "/metrics") {
            auto text = settings_.live.prometheus_metrics();
            text += co_await oauth_.metrics();
            if (settings_.spool) text += settings_.spool->prometheus_metrics();
            text += net::upstream_resumption_metrics(settings_.upstream_tls.native_handle());
            text += heap_metrics();
            if (settings_.health)
                text += std::string(
                            "# HELP mailgate_draining 1 once this instance drains (SIGUSR1, the admin page)\n"
                            "# TYPE mailgate_draining gauge\nmailgate_draining ") +
                        (settings_.health->draining() ? "1" : "0") + "\n";
            co_return make(status::ok, version, "text/plain; version=0.0.4", std::move(text));
        }
        if (callback) co_return co_await oauth_.callback(req);
    }
    if (path.starts_with("/api/v1/")) {
        auto res = co_await api(req, client, path.substr(8));
        store::wipe(req.body()); // may have carried a password (login, account passwords)
        co_return res;
    }
    co_return json_error(status::not_found, version, "not found");
}

bool admin_api::is_client_config_path(const std::string& path) {
    return path == "/.well-known/autoconfig/mail/config-v1.1.xml" || path == "/mail/config-v1.1.xml" ||
           protocols::ascii_upper(path) == "/AUTODISCOVER/AUTODISCOVER.XML";
}

boost::asio::awaitable<response> admin_api::client_config(request& req, const std::string& target,
                                                          const std::string& path) {
    auto version = req.version();
    bool outlook = path.find("config-v1.1.xml") == std::string::npos;
    if (!settings_.setup) co_return json_error(status::not_found, version, "not found");
    std::optional<std::string> address;
    if (outlook && req.method() == http::verb::post)
        address = autodiscover_request_address(req.body());
    else if (!outlook && req.method() == http::verb::get)
        address = query_parameter(target, "emailaddress");
    else
        co_return json_error(status::method_not_allowed, version, outlook ? "use POST" : "use GET");
    if (!address || address->size() > 320 || address->find('@') == std::string::npos)
        co_return make(status::bad_request, version, "text/plain", "an e-mail address is required\n");
    auto found = co_await settings_.store.run([&address](store::account_repository& repo) {
        auto local_user = repo.resolve_local_user(*address);
        auto a = local_user ? repo.find_by_local_user(*local_user) : repo.find_by_sender(*address);
        if (a && !a->enabled) a.reset();
        return a;
    });
    if (!found) {
        if (outlook) co_return make(status::ok, version, "application/xml", autodiscover_error_xml());
        co_return make(status::not_found, version, "text/plain", "no account for this address\n");
    }
    co_return make(status::ok, version, outlook ? "application/xml" : "text/xml",
                   outlook ? autodiscover_xml(*settings_.setup, *found, *address)
                           : autoconfig_xml(*settings_.setup, *found, *address));
}

boost::asio::awaitable<response> admin_api::login(request& req, const std::string& client) {
    auto version = req.version();
    if (req.method() != http::verb::post)
        co_return json_error(status::method_not_allowed, version, "use POST");
    if (!origin_allowed(req))
        co_return json_error(status::forbidden, version, "cross-origin request refused");
    boost::system::error_code ec;
    auto body = json::parse(req.body(), ec);
    if (ec || !body.is_object()) co_return json_error(status::bad_request, version, "malformed JSON");
    std::optional<std::string> password;
    std::string error;
    if (!read_string(body.as_object(), "password", password, error) || !password)
        co_return json_error(status::bad_request, version, error.empty() ? "password is required" : error);
    auto pw = std::move(*password);
    auto attempt = login_throttle_.begin(client, "admin");
    if (attempt.refused()) {
        store::wipe(pw);
        if (attempt.first_refusal())
            spdlog::warn("admin: too many failed logins from {}: refusing for a while", client);
        co_return json_error(status::too_many_requests, version, "too many failed logins; wait a minute");
    }
    auto hash = co_await settings_.store.run(
        [](store::account_repository& repo) { return repo.admin_password_hash(); });
    bool ok = false;
    if (hash) ok = co_await settings_.store.verify_password(std::move(pw), *hash, client);
    store::wipe(pw);
    attempt.finish(ok ? proxy::login_throttle::result::success : proxy::login_throttle::result::failure);
    if (!ok) {
        spdlog::info("admin: failed login from {}", client);
        co_return json_error(status::unauthorized, version, "wrong password");
    }
    auto issued = sessions_.create();
    auto res =
        make(status::ok, version, "application/json", json::serialize(json::object{{"csrf", issued.csrf}}));
    res.set(http::field::set_cookie, "mg_session=" + issued.token + "; Path=/; HttpOnly; SameSite=Strict" +
                                         (settings_.https ? "; Secure" : ""));
    spdlog::info("admin: login from {}", client);
    co_return res;
}

boost::asio::awaitable<response> admin_api::api(request& req, const std::string& client,
                                                const std::string& path) {
    auto version = req.version();
    auto parts = split_path(path);
    if (parts.size() == 1 && parts[0] == "login") co_return co_await login(req, client);

    auto token = session_token(req);
    auto csrf = token ? sessions_.touch(*token) : std::nullopt;
    if (!csrf) co_return json_error(status::unauthorized, version, "login required");
    if (req.method() != http::verb::get) {
        if (!store::constant_time_equal(req["X-CSRF-Token"], *csrf))
            co_return json_error(status::forbidden, version, "missing or wrong CSRF token");
        if (!origin_allowed(req))
            co_return json_error(status::forbidden, version, "cross-origin request refused");
    }
    if (parts.empty()) co_return json_error(status::not_found, version, "not found");
    const auto& what = parts[0];
    if (what == "logout" && req.method() == http::verb::post) {
        sessions_.end(*token);
        auto res = make(status::ok, version, "application/json", "{}");
        res.set(http::field::set_cookie, "mg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        co_return res;
    }
    if (what == "me" && req.method() == http::verb::get)
        co_return make(status::ok, version, "application/json",
                       json::serialize(json::object{{"csrf", *csrf}}));
    if (what == "providers" && req.method() == http::verb::get) {
        json::array out;
        for (const auto& p : domain::provider_presets())
            out.push_back(json::object{{"name", p.name},
                                       {"title", p.title},
                                       {"imap", p.imap},
                                       {"pop3", p.pop3},
                                       {"smtp", p.smtp},
                                       {"login", p.login_advice}});
        co_return make(status::ok, version, "application/json", json::serialize(out));
    }
    if (what == "accounts" && parts.size() == 4 && parts[2] == "oauth")
        co_return co_await oauth_.start_consent(req, *token, parts[1], parts[3]);
    if (what == "accounts") co_return co_await accounts(req, parts);
    if (what == "queue") co_return queue_request(settings_.spool, req, parts);
    if (what == "tls") co_return tls_request(settings_.certificates, req, parts);
    if (what == "drain" && parts.size() == 1 && req.method() == http::verb::post && settings_.health) {
        bool started = settings_.health->drain();
        if (started) spdlog::info("admin: drain requested from {}", client);
        json::object out{
            {"draining", true}, {"already", !started}, {"sessions", settings_.live.sessions().size()}};
        co_return make(status::ok, version, "application/json", json::serialize(out));
    }
    if (what == "dashboard" && parts.size() == 1 && req.method() == http::verb::get) {
        auto out = dashboard_json(settings_.live, settings_.setup, settings_.certificates);
        out["draining"] = settings_.health && settings_.health->draining();
        co_return make(status::ok, version, "application/json", json::serialize(out));
    }
    if (what == "oauth-clients") co_return co_await oauth_.clients(req, parts);
    if (what == "oauth-presets" && parts.size() == 1 && req.method() == http::verb::get)
        co_return oauth_.presets(req);
    if (what == "consents" && parts.size() == 2) co_return co_await oauth_.consent(req, parts[1]);
    if (what == "oauth" && parts.size() == 2 && parts[1] == "paste")
        co_return co_await oauth_.paste(req, *token);
    if (what == "tests" && parts.size() == 2 && req.method() == http::verb::get) {
        auto s = tests_.status(parts[1]);
        if (!s) co_return json_error(status::not_found, version, "no such test");
        co_return make(status::ok, version, "application/json", json::serialize(*s));
    }
    if (what == "sessions" && req.method() == http::verb::get) {
        json::array out;
        for (const auto& s : settings_.live.sessions())
            out.push_back(json::object{{"id", s.id},
                                       {"protocol", s.protocol},
                                       {"client", s.peer},
                                       {"account", s.account},
                                       {"since", time_text(s.since)},
                                       {"bytes_up", s.bytes_up},
                                       {"bytes_down", s.bytes_down}});
        co_return make(status::ok, version, "application/json", json::serialize(out));
    }
    if (what == "events" && req.method() == http::verb::get) {
        json::array out;
        for (const auto& e : settings_.live.recent_events())
            out.push_back(json::object{{"at", time_text(e.at)},
                                       {"kind", std::string(proxy::to_string(e.kind))},
                                       {"protocol", e.protocol},
                                       {"client", e.peer},
                                       {"account", e.account},
                                       {"detail", e.detail}});
        co_return make(status::ok, version, "application/json", json::serialize(out));
    }
    co_return json_error(status::not_found, version, "not found");
}

boost::asio::awaitable<response> admin_api::accounts(request& req, const std::vector<std::string>& parts) {
    auto version = req.version();
    auto method = req.method();
    auto ok_json = [&](const json::value& v) {
        return make(status::ok, version, "application/json", json::serialize(v));
    };
    auto parse_body = [&](json::object& out) -> std::optional<response> {
        boost::system::error_code ec;
        auto body = json::parse(req.body(), ec);
        if (ec || !body.is_object()) return json_error(status::bad_request, version, "malformed JSON");
        out = std::move(body.as_object());
        return std::nullopt;
    };
    // The stored account plus what only this process knows about its tokens (refreshing, backoff).
    auto view = [&](const store::account& a) {
        auto v = store::account_json(a);
        oauth_.decorate(v, a);
        return v;
    };

    if (parts.size() == 1 && method == http::verb::get) {
        auto list = co_await settings_.store.run([](store::account_repository& repo) { return repo.list(); });
        json::array out;
        for (const auto& a : list) out.push_back(view(a));
        co_return ok_json(out);
    }
    if (parts.size() == 1 && method == http::verb::post) {
        json::object body;
        if (auto bad = parse_body(body)) co_return std::move(*bad);
        std::optional<std::string> name, local_user, local_password, remote_user, remote_password, provider;
        std::optional<std::string> credential, oauth_client;
        bool challenge_logins = false;
        std::optional<std::string> urls[3];
        std::optional<std::vector<std::string>> senders;
        domain::mailbox_input mailbox;
        std::string error;
        static const char* protocols[] = {"imap", "pop3", "smtp"};
        bool valid =
            read_string(body, "name", name, error) && read_string(body, "local_user", local_user, error) &&
            read_string(body, "local_password", local_password, error) &&
            read_string(body, "remote_user", remote_user, error) &&
            read_string(body, "remote_password", remote_password, error) &&
            read_string(body, "provider", provider, error) && read_string(body, "imap", urls[0], error) &&
            read_string(body, "pop3", urls[1], error) && read_string(body, "smtp", urls[2], error) &&
            read_strings(body, "senders", senders, error) &&
            read_string(body, "credential", credential, error) &&
            read_string(body, "oauth_client", oauth_client, error) && read_mailbox(body, mailbox, error) &&
            read_bool(body, "challenge_logins", challenge_logins, error);
        if (!valid) co_return json_error(status::bad_request, version, error);
        // credential: "password" (an app password, the default) or "oauth2" (tokens from a consent, no password).
        bool oauth2 = credential && *credential == "oauth2";
        if (credential && !oauth2 && *credential != "password")
            co_return json_error(status::bad_request, version, "credential must be password or oauth2");
        if (oauth2 && remote_password && !remote_password->empty())
            co_return json_error(
                status::bad_request, version,
                "an oauth2 account has no provider password (its tokens come from a consent)");
        if (!oauth2 && oauth_client)
            co_return json_error(status::bad_request, version, "oauth_client is only for credential oauth2");
        if (oauth2 && (!oauth_client || oauth_client->empty()))
            co_return json_error(status::bad_request, version,
                                 "oauth_client is required for credential oauth2");
        if (oauth2) remote_password = std::string();
        for (auto [field, value] :
             {std::pair{"name", &name}, std::pair{"local_user", &local_user},
              std::pair{"local_password", &local_password}, std::pair{"remote_user", &remote_user},
              std::pair{"remote_password", &remote_password}})
            if ((!*value || (*value)->empty()) && !(oauth2 && value == &remote_password))
                co_return json_error(status::bad_request, version, std::string(field) + " is required");
        domain::endpoint_input input;
        if (provider) input.provider = *provider;
        for (int i = 0; i < 3; ++i)
            if (urls[i]) input.urls[protocols[i]] = *urls[i];
        auto endpoints = domain::resolve_endpoints(input);
        if (!endpoints) co_return json_error(status::bad_request, version, endpoints.error().message);
        if (senders)
            if (auto ok = domain::validate_senders(*senders); !ok)
                co_return json_error(status::bad_request, version, ok.error().message);
        auto options = domain::default_mailbox_options(input.provider);
        if (auto ok = domain::apply_mailbox_input(options, mailbox); !ok)
            co_return json_error(status::bad_request, version, ok.error().message);
        if (auto ok = domain::validate_mailbox_options(options, has_imap(*endpoints)); !ok)
            co_return json_error(status::bad_request, version, ok.error().message);
        store::new_account a{*name,
                             *local_user,
                             *local_password,
                             *remote_user,
                             *remote_password,
                             input.provider,
                             std::move(*endpoints),
                             senders.value_or(std::vector<std::string>{}),
                             store::credential_kind::password,
                             std::string(),
                             std::move(options)};
        if (oauth2) {
            a.credential = store::credential_kind::oauth2;
            a.oauth_client = *oauth_client;
        }
        a.challenge_logins = challenge_logins;
        store::wipe(*local_password);
        store::wipe(*remote_password);
        if (oauth2) {
            auto known = co_await settings_.store.run([&](store::account_repository& repo) {
                auto c = repo.oauth().client(a.oauth_client);
                if (c) store::wipe(c->client_secret);
                return c.has_value();
            });
            if (!known) {
                store::wipe(a.local_password);
                co_return json_error(status::bad_request, version,
                                     "no OAuth client named '" + a.oauth_client +
                                         "' (add it under OAuth clients first)");
            }
        }
        auto created =
            co_await settings_.store.run([&](store::account_repository& repo) { return repo.create(a); });
        store::wipe(a.local_password);
        store::wipe(a.remote_secret);
        if (!created) co_return json_error(status::conflict, version, created.error().message);
        spdlog::info("admin: account '{}' added", created->name);
        auto res = ok_json(view(*created));
        res.result(status::created);
        co_return res;
    }
    if (parts.size() < 2) co_return json_error(status::method_not_allowed, version, "method not allowed");
    const std::string name = parts[1];
    auto not_found_or = [&](const user_error& e) {
        return json_error(status::not_found, version, e.message);
    };

    if (parts.size() == 2 && method == http::verb::get) {
        auto a =
            co_await settings_.store.run([&](store::account_repository& repo) { return repo.find(name); });
        if (!a) co_return not_found_or(a.error());
        co_return ok_json(view(*a));
    }
    if (parts.size() == 3 && parts[2] == "setup" && method == http::verb::get) {
        auto a =
            co_await settings_.store.run([&](store::account_repository& repo) { return repo.find(name); });
        if (!a) co_return not_found_or(a.error());
        if (!settings_.setup) co_return json_error(status::not_found, version, "no mail listeners");
        co_return ok_json(setup_json(*settings_.setup, *a));
    }
    if (parts.size() == 2 && method == http::verb::delete_) {
        auto r =
            co_await settings_.store.run([&](store::account_repository& repo) -> user_result<std::int64_t> {
                auto found = repo.find(name);
                if (!found) return found.error();
                if (auto removed = repo.remove(name); !removed) return removed.error();
                return found->id;
            });
        if (!r) co_return not_found_or(r.error());
        settings_.tokens.forget(*r);
        auto closed = settings_.live.close_account_sessions(name);
        spdlog::info("admin: account '{}' removed ({} session(s) closed)", name, closed);
        co_return ok_json(json::object{{"removed", name}, {"sessions_closed", closed}});
    }
    if (parts.size() == 2 && method == http::verb::put) {
        json::object body;
        if (auto bad = parse_body(body)) co_return std::move(*bad);
        store::account_repository::changes c;
        std::optional<std::string> provider, urls[3], oauth_client;
        std::optional<bool> challenge_logins;
        domain::mailbox_input mailbox;
        std::string error;
        static const char* protocols[] = {"imap", "pop3", "smtp"};
        bool valid = read_string(body, "oauth_client", oauth_client, error) &&
                     read_string(body, "local_user", c.local_user, error) &&
                     read_string(body, "remote_user", c.remote_user, error) &&
                     read_string(body, "provider", provider, error) &&
                     read_string(body, "imap", urls[0], error) && read_string(body, "pop3", urls[1], error) &&
                     read_string(body, "smtp", urls[2], error) &&
                     read_strings(body, "senders", c.senders, error) && read_mailbox(body, mailbox, error) &&
                     read_bool(body, "challenge_logins", challenge_logins, error);
        if (!valid) co_return json_error(status::bad_request, version, error);
        if (challenge_logins == true)
            co_return json_error(
                status::bad_request, version,
                "allowing APOP / CRAM-MD5 needs the local password: set it with "
                "POST /api/v1/accounts/NAME/password {\"local\": ..., \"challenge_logins\": true}");
        if (provider || urls[0] || urls[1] || urls[2]) {
            domain::endpoint_input input;
            if (provider) input.provider = *provider;
            for (int i = 0; i < 3; ++i)
                if (urls[i]) input.urls[protocols[i]] = *urls[i];
            auto endpoints = domain::resolve_endpoints(input);
            if (!endpoints) co_return json_error(status::bad_request, version, endpoints.error().message);
            c.endpoints = std::move(*endpoints);
            c.provider = input.provider;
        }
        if (c.senders)
            if (auto ok = domain::validate_senders(*c.senders); !ok)
                co_return json_error(status::bad_request, version, ok.error().message);
        if (oauth_client && oauth_client->empty()) oauth_client.reset();
        bool client_changed = false;
        auto updated =
            co_await settings_.store.run([&](store::account_repository& repo) -> user_result<store::account> {
                if (oauth_client) {
                    auto a = repo.find(name);
                    if (!a) return a.error();
                    if (a->credential != store::credential_kind::oauth2)
                        return user_error{"account '" + name +
                                          "' logs in with a password: it has no OAuth client"};
                    client_changed = a->oauth_client != *oauth_client;
                    if (client_changed && !repo.oauth().client(*oauth_client))
                        return user_error{"no OAuth client named '" + *oauth_client + "'"};
                }
                if (!mailbox.empty()) {
                    auto a = repo.find(name);
                    if (!a) return a.error();
                    c.mailbox = a->mailbox;
                    if (auto ok = domain::apply_mailbox_input(*c.mailbox, mailbox); !ok) return ok.error();
                }
                if (challenge_logins == false)
                    if (auto off = repo.disable_challenge_logins(name); !off) return off.error();
                auto result = repo.update(name, c);
                if (!result || !client_changed) return result;
                // Another client for an oauth2 account: its tokens belong to the old one, so it needs consent again.
                if (auto r = repo.oauth().set_grant_client(result->id, *oauth_client); !r) return r.error();
                return repo.find(name);
            });
        if (!updated) co_return json_error(status::bad_request, version, updated.error().message);
        if (client_changed) {
            settings_.tokens.forget(updated->id);
            spdlog::info("admin: account '{}' now uses OAuth client '{}' (consent needed)", name,
                         *oauth_client);
        }
        co_return ok_json(view(*updated));
    }
    if (parts.size() == 3 && method == http::verb::post) {
        const auto& action = parts[2];
        if (action == "enable" || action == "disable") {
            bool enable = action == "enable";
            auto r = co_await settings_.store.run(
                [&](store::account_repository& repo) { return repo.set_enabled(name, enable); });
            if (!r) co_return not_found_or(r.error());
            std::size_t closed = enable ? 0 : settings_.live.close_account_sessions(name);
            spdlog::info("admin: account '{}' {}d ({} session(s) closed)", name, action, closed);
            co_return ok_json(json::object{{"name", name}, {"enabled", enable}, {"sessions_closed", closed}});
        }
        if (action == "password") {
            json::object body;
            if (auto bad = parse_body(body)) co_return std::move(*bad);
            std::optional<std::string> local, remote;
            std::optional<bool> challenge_logins; // with `local`: keep a reversible copy for APOP / CRAM-MD5
            std::string error;
            if (!read_string(body, "local", local, error) || !read_string(body, "remote", remote, error) ||
                !read_bool(body, "challenge_logins", challenge_logins, error))
                co_return json_error(status::bad_request, version, error);
            if (!local == !remote || (local && local->empty()) || (remote && remote->empty()))
                co_return json_error(status::bad_request, version,
                                     "give exactly one of local, remote (not empty)");
            if (remote && challenge_logins)
                co_return json_error(status::bad_request, version,
                                     "challenge_logins goes with the local password");
            bool exists = true;
            auto r = co_await settings_.store.run([&](store::account_repository& repo) -> user_result<void> {
                if (auto found = repo.find(name); !found) {
                    exists = false;
                    return found.error();
                }
                return local ? repo.set_local_password(name, *local, challenge_logins)
                             : repo.set_remote_secret(name, *remote);
            });
            if (local) store::wipe(*local);
            if (remote) store::wipe(*remote);
            // Not found, or refused (an oauth2 account has no provider password).
            if (!r)
                co_return json_error(exists ? status::bad_request : status::not_found, version,
                                     r.error().message);
            co_return ok_json(json::object{{"name", name}, {"changed", local ? "local" : "remote"}});
        }
        if (action == "test") {
            auto found = co_await settings_.store.run(
                [&](store::account_repository& repo) { return repo.find(name); });
            if (!found) co_return json_error(status::not_found, version, "no account named '" + name + "'");
            auto id = tests_.start(
                co_await boost::asio::this_coro::executor,
                {settings_.store, settings_.tokens, settings_.upstream_tls, settings_.upstream_timeout},
                std::move(*found));
            co_return ok_json(json::object{{"id", id}});
        }
    }
    co_return json_error(status::method_not_allowed, version, "method not allowed");
}

} // namespace mailgate::admin
