// OAuth2 clients, consent and token state on the admin page.
#include "server/admin/oauth_api.hpp"

#include "server/admin/admin_api.hpp"
#include "server/admin/request_util.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <spdlog/spdlog.h>

#include <map>
#include <sstream>

namespace mailgate::admin {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using status = http::status;
using response = oauth_api::response;

namespace {

// An authorization code request waits this long for its redirect (the provider's own codes live minutes).
constexpr auto code_request_lifetime = std::chrono::minutes(10);

// Pending consents at once (each device-flow one polls the provider until it is approved or expires).
constexpr std::size_t max_pending = 20;

const char* const client_fields[] = {"preset",    "client_id",  "client_secret", "authorize_url",
                                     "token_url", "device_url", "revoke_url",    "scope",
                                     "mechanism", "tenant"};

const store::oauth_state all_states[] = {store::oauth_state::ok, store::oauth_state::refreshing,
                                         store::oauth_state::degraded, store::oauth_state::needs_consent,
                                         store::oauth_state::config_error};

std::int64_t now_unix() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

response ok_json(unsigned version, const json::value& v, status s = status::ok) {
    return admin_api::make(s, version, "application/json", json::serialize(v));
}

response error_json(status s, unsigned version, const std::string& message, json::object extra = {}) {
    extra["error"] = message;
    return admin_api::make(s, version, "application/json", json::serialize(extra));
}

json::object client_json(const domain::oauth_client& c, const std::vector<std::string>& used_by) {
    json::array users;
    for (const auto& u : used_by) users.emplace_back(u);
    json::array flows;
    if (!c.device_url.empty()) flows.emplace_back("device");
    if (!c.authorize_url.empty()) flows.emplace_back("code");
    return json::object{{"name", c.name},
                        {"preset", c.preset},
                        {"client_id", c.client_id},
                        {"client_secret_set", !c.client_secret.empty()}, // the secret itself is write-only
                        {"authorize_url", c.authorize_url},
                        {"token_url", c.token_url},
                        {"device_url", c.device_url},
                        {"revoke_url", c.revoke_url},
                        {"scope", c.scope},
                        {"mechanism", std::string(domain::to_string(c.mechanism))},
                        {"tenant", c.tenant},
                        {"from_config", c.from_config},
                        {"used_by", std::move(users)},
                        {"flows", std::move(flows)}};
}

std::vector<std::string> users_of(const std::vector<store::account>& accounts, const std::string& client) {
    std::vector<std::string> out;
    for (const auto& a : accounts)
        if (a.credential == store::credential_kind::oauth2 && a.oauth_client == client) out.push_back(a.name);
    return out;
}

// A Prometheus label value (text format: backslash, double quote and newline escaped).
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

oauth::token_failure internal_failure(const std::string& what) {
    return oauth::token_failure{store::oauth_state::degraded, {"internal", what, 0, now_unix()}};
}

} // namespace

std::string oauth_api::redirect_uri() const {
    return "http://127.0.0.1:" + std::to_string(port_.load()) + "/oauth/callback";
}

bool oauth_api::callback_host(const request& req) const {
    // IP literals cannot be rebound by DNS; the names are those the loopback redirect URI can arrive with.
    auto host = std::string(req[http::field::host]);
    auto port = ":" + std::to_string(port_.load());
    return host == "127.0.0.1" + port || host == "[::1]" + port || host == "localhost" + port;
}

// ------------------------------------------------------------------------------------------------ clients

response oauth_api::presets(const request& req) const {
    json::array out;
    for (const auto& p : domain::preset_names()) {
        json::array checklist;
        for (const auto& line : domain::registration_checklist(p)) checklist.emplace_back(line);
        json::object defaults;
        if (p != "custom") {
            domain::oauth_client c;
            c.name = "preset";
            c.preset = p;
            c.client_id = "preset";
            if (auto done = domain::complete_client(c))
                defaults = {{"authorize_url", done->authorize_url},
                            {"token_url", done->token_url},
                            {"device_url", done->device_url},
                            {"revoke_url", done->revoke_url},
                            {"scope", done->scope},
                            {"tenant", done->tenant}};
        }
        json::array mechanisms{"xoauth2"};
        if (p != "microsoft") mechanisms.emplace_back("oauthbearer");
        out.push_back(json::object{{"name", p},
                                   {"checklist", std::move(checklist)},
                                   {"defaults", std::move(defaults)},
                                   {"mechanisms", std::move(mechanisms)}});
    }
    return ok_json(req.version(), out);
}

asio::awaitable<response> oauth_api::clients(request& req, const std::vector<std::string>& parts) {
    auto version = req.version();
    auto method = req.method();
    if (parts.size() == 1 && method == http::verb::get) {
        auto out = co_await settings_.store.run([](store::account_repository& repo) {
            auto clients = repo.oauth().clients();
            auto accounts = repo.list();
            json::array list;
            for (auto& c : clients) {
                list.push_back(client_json(c, users_of(accounts, c.name)));
                store::wipe(c.client_secret);
            }
            return list;
        });
        co_return ok_json(version, out);
    }
    if (parts.size() > 2) co_return admin_api::json_error(status::not_found, version, "not found");
    struct outcome {
        status code = status::ok;
        std::string error;
        json::object client;
    };

    if (parts.size() == 2 && method == http::verb::get) {
        auto name = parts[1];
        auto found = co_await settings_.store.run([&](store::account_repository& repo) {
            outcome r;
            auto c = repo.oauth().client(name);
            if (!c) return outcome{status::not_found, "no OAuth client named '" + name + "'", {}};
            r.client = client_json(*c, users_of(repo.list(), name));
            store::wipe(c->client_secret);
            return r;
        });
        if (found.code != status::ok) co_return admin_api::json_error(found.code, version, found.error);
        co_return ok_json(version, found.client);
    }
    if (parts.size() == 2 && method == http::verb::delete_) {
        auto name = parts[1];
        auto removed = co_await settings_.store.run([&](store::account_repository& repo) {
            auto c = repo.oauth().client(name);
            if (!c) return outcome{status::not_found, "no OAuth client named '" + name + "'", {}};
            store::wipe(c->client_secret);
            if (c->from_config)
                return outcome{status::conflict,
                               "OAuth client '" + name + "' comes from the config file ([oauth." + name +
                                   "]): remove it there",
                               {}};
            if (auto r = repo.oauth().remove_client(name); !r)
                return outcome{status::conflict, r.error().message, {}};
            return outcome{};
        });
        if (removed.code != status::ok) co_return admin_api::json_error(removed.code, version, removed.error);
        spdlog::info("admin: OAuth client '{}' removed", name);
        co_return ok_json(version, json::object{{"removed", name}});
    }

    bool creating = parts.size() == 1 && method == http::verb::post;
    bool updating = parts.size() == 2 && method == http::verb::put;
    if (!creating && !updating)
        co_return admin_api::json_error(status::method_not_allowed, version, "method not allowed");
    boost::system::error_code ec;
    auto parsed = json::parse(req.body(), ec);
    if (ec || !parsed.is_object())
        co_return admin_api::json_error(status::bad_request, version, "malformed JSON");
    auto& body = parsed.as_object();
    std::map<std::string, std::string> given;
    std::string error;
    std::optional<std::string> name_field;
    bool clear_secret = false;
    bool valid = read_string(body, "name", name_field, error) &&
                 read_bool(body, "clear_client_secret", clear_secret, error);
    for (const char* key : client_fields) {
        std::optional<std::string> value;
        valid = valid && read_string(body, key, value, error);
        if (value && !value->empty()) given[key] = std::move(*value); // empty: the preset's value (or none)
    }
    wipe_member(body, "client_secret");
    if (!valid) co_return admin_api::json_error(status::bad_request, version, error);
    std::string name = creating ? name_field.value_or("") : parts[1];
    if (name.empty()) co_return admin_api::json_error(status::bad_request, version, "name is required");

    auto saved = co_await settings_.store.run([&](store::account_repository& repo) {
        auto existing = repo.oauth().client(name);
        struct wipe_on_exit {
            std::optional<domain::oauth_client>& c;
            ~wipe_on_exit() {
                if (c) store::wipe(c->client_secret);
            }
        } guard{existing};
        if (creating && existing)
            return outcome{status::conflict, "an OAuth client named '" + name + "' already exists", {}};
        if (updating && !existing)
            return outcome{status::not_found, "no OAuth client named '" + name + "'", {}};
        if (existing && existing->from_config)
            return outcome{status::conflict,
                           "OAuth client '" + name + "' comes from the config file ([oauth." + name +
                               "]): change it there",
                           {}};
        domain::oauth_client c;
        c.name = name;
        for (auto& [key, value] : given)
            if (auto r = domain::set_client_field(c, key, value); !r)
                return outcome{status::bad_request, r.error().message, {}};
        // The secret is write-only: an update without one keeps the stored one unless told to clear it.
        if (c.client_secret.empty() && existing && !clear_secret) c.client_secret = existing->client_secret;
        auto done = domain::complete_client(std::move(c));
        if (!done) return outcome{status::bad_request, done.error().message, {}};
        auto stored = repo.oauth().save_client(*done);
        outcome r;
        if (!stored)
            r = outcome{status::conflict, stored.error().message, {}};
        else
            r.client = client_json(*done, users_of(repo.list(), name));
        store::wipe(done->client_secret);
        return r;
    });
    for (auto& [key, value] : given) store::wipe(value);
    if (saved.code != status::ok) co_return admin_api::json_error(saved.code, version, saved.error);
    spdlog::info("admin: OAuth client '{}' {}", name, creating ? "added" : "changed");
    co_return ok_json(version, saved.client, creating ? status::created : status::ok);
}

// ------------------------------------------------------------------------------------------------ consent

asio::awaitable<response> oauth_api::start_consent(request& req, const std::string& session,
                                                   const std::string& name, const std::string& kind) {
    auto version = req.version();
    if (kind != "device" && kind != "authorize")
        co_return admin_api::json_error(status::not_found, version, "not found");
    if (req.method() != http::verb::post)
        co_return admin_api::json_error(status::method_not_allowed, version, "use POST");
    if (jobs_.pending() >= max_pending)
        co_return admin_api::json_error(status::too_many_requests, version,
                                        "too many consent requests waiting: finish or cancel some first");
    struct lookup {
        status code = status::ok;
        std::string error;
        std::optional<store::account> account;
        std::optional<domain::oauth_client> client;
    };
    auto found = co_await settings_.store.run([&](store::account_repository& repo) {
        lookup l;
        auto a = repo.find(name);
        if (!a) return lookup{status::not_found, a.error().message, {}, {}};
        if (a->credential != store::credential_kind::oauth2)
            return lookup{status::bad_request,
                          "account '" + name +
                              "' logs in with a password; OAuth2 consent is for oauth2 accounts",
                          {},
                          {}};
        l.client = repo.oauth().client(a->oauth_client);
        if (!l.client)
            return lookup{
                status::bad_request, "OAuth client '" + a->oauth_client + "' is not configured", {}, {}};
        l.account = std::move(*a);
        return l;
    });
    if (found.code != status::ok) co_return admin_api::json_error(found.code, version, found.error);
    auto& account = *found.account;
    auto& client = *found.client;
    auto job = std::make_shared<consent_job>();
    job->session = session;
    job->account = account.name;
    job->account_id = account.id;
    auto executor = co_await asio::this_coro::executor;

    if (kind == "device") {
        job->kind = "device";
        auto started =
            co_await oauth::begin_device_consent(client, settings_.upstream_tls, settings_.upstream_timeout);
        if (auto* f = std::get_if<oauth::token_failure>(&started)) {
            store::wipe(client.client_secret);
            auto message = "device authorization failed: " + f->summary();
            spdlog::warn("admin: account '{}': {}", account.name, message);
            bool ours = f->record.error == "no_device_flow";
            co_return error_json(ours ? status::bad_request : status::bad_gateway, version, message,
                                 {{"oauth_error", json::object{{"error", f->record.error},
                                                               {"description", f->record.description},
                                                               {"http_status", f->record.http_status},
                                                               {"at", f->record.at}}}});
        }
        auto& d = std::get<oauth::device_authorization>(started);
        job->user_code = d.user_code;
        job->verification_uri = d.verification_uri;
        job->verification_uri_complete = d.verification_uri_complete;
        job->interval = d.interval;
        job->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(d.expires_in);
        job->expires_at = now_unix() + d.expires_in;
        job->message = "waiting for the approval at " + d.verification_uri;
        jobs_.add(job);
        spdlog::info("admin: account '{}': device-flow consent started", account.name);
        poll_device(executor, job, std::move(client), std::move(d));
        co_return ok_json(version, jobs_.to_json(*job), status::created);
    }

    if (client.authorize_url.empty()) {
        store::wipe(client.client_secret);
        co_return admin_api::json_error(status::bad_request, version,
                                        "OAuth client '" + client.name +
                                            "' has no authorize_url: use the device flow");
    }
    auto request = oauth::start_authorization(client, redirect_uri(), account.remote_user);
    store::wipe(client.client_secret);
    job->kind = "code";
    job->state = request.state;
    job->code_verifier = std::move(request.code_verifier);
    store::wipe(request.code_verifier);
    job->redirect_uri = request.redirect_uri;
    job->binding = oauth::random_token(24);
    job->deadline = std::chrono::steady_clock::now() + code_request_lifetime;
    job->expires_at =
        now_unix() + std::chrono::duration_cast<std::chrono::seconds>(code_request_lifetime).count();
    job->message = "waiting for the sign-in at the provider";
    jobs_.add(job);
    spdlog::info("admin: account '{}': authorization-code consent started", account.name);
    auto out = jobs_.to_json(*job);
    out["authorization_url"] = request.url;
    auto res = ok_json(version, out, status::created);
    // The redirect from the provider is a cross-site navigation, which does not carry the SameSite=Strict session
    // cookie; this Lax cookie, only for the callback path and this request, ties the redirect to this browser.
    res.set(http::field::set_cookie, "mg_oauth_" + job->id + "=" + job->binding +
                                         "; Path=/oauth/callback; HttpOnly; SameSite=Lax; Max-Age=600" +
                                         (settings_.https ? "; Secure" : ""));
    co_return res;
}

void oauth_api::poll_device(asio::any_io_executor executor, std::shared_ptr<consent_job> job,
                            domain::oauth_client client, oauth::device_authorization device) {
    auto run = [this, job, client = std::move(client),
                device = std::move(device)]() mutable -> asio::awaitable<void> {
        std::function<bool()> cancelled = [this, job] { return jobs_.cancelled(*job); };
        oauth::consent_result result;
        try {
            result = co_await oauth::finish_device_consent(settings_.store, job->account_id, client,
                                                           std::move(device), settings_.upstream_tls,
                                                           settings_.upstream_timeout, cancelled);
        } catch (const std::exception& e) {
            result.failure = internal_failure(e.what());
        }
        store::wipe(client.client_secret);
        co_await finished(job, result);
    };
    asio::co_spawn(executor, std::move(run), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("admin: device-flow consent ended with an internal error: {}", ex.what());
        }
    });
}

asio::awaitable<void> oauth_api::finished(const std::shared_ptr<consent_job>& job,
                                          const oauth::consent_result& result) {
    if (!result.ok) {
        if (jobs_.cancelled(*job)) co_return;
        auto message = "consent failed: " + result.message();
        spdlog::warn("admin: account '{}': OAuth2 {} consent failed: {}", job->account, job->kind,
                     result.message());
        std::optional<store::oauth_error_record> record;
        if (result.failure) record = result.failure->record;
        jobs_.finish(*job, consent_status::failed, message, record);
        co_return;
    }
    // This process may hold an access token of the old grant (or a backoff): drop it, the new one is in the store.
    settings_.tokens.forget(job->account_id);
    spdlog::info("admin: account '{}': OAuth2 consent stored ({} flow){}", job->account, job->kind,
                 result.identity.empty() ? "" : ", consented by " + result.identity);
    std::string test_id;
    auto name = job->account;
    auto found =
        co_await settings_.store.run([&](store::account_repository& repo) { return repo.find(name); });
    if (found && !found->endpoints.empty()) {
        auto executor = co_await asio::this_coro::executor;
        proxy::provider_access access{settings_.store, settings_.tokens, settings_.upstream_tls,
                                      settings_.upstream_timeout};
        test_id = tests_.start(executor, access, std::move(*found));
    }
    jobs_.finish(*job, consent_status::ok, result.message(), std::nullopt, result.identity, result.scopes,
                 test_id);
}

asio::awaitable<oauth_api::completion> oauth_api::complete_code(const oauth::authorization_response& answer,
                                                                const std::shared_ptr<consent_job>& job) {
    std::string verifier;
    if (!jobs_.take(*job, verifier))
        co_return completion{
            status::conflict,
            "this sign-in was already completed, cancelled or has expired: start it again on the admin page",
            job};
    if (!answer.error.empty()) {
        store::wipe(verifier);
        auto message = "the provider refused: " + answer.error +
                       (answer.error_description.empty() ? "" : ": " + answer.error_description);
        spdlog::warn("admin: account '{}': OAuth2 code consent: {}", job->account, message);
        jobs_.finish(*job, consent_status::failed, message,
                     store::oauth_error_record{answer.error, answer.error_description, 0, now_unix()});
        co_return completion{status::bad_request, message, job};
    }
    auto name = job->account;
    auto id = job->account_id;
    auto client = co_await settings_.store.run(
        [&](store::account_repository& repo) -> std::optional<domain::oauth_client> {
            auto a = repo.find(name);
            if (!a || a->id != id || a->credential != store::credential_kind::oauth2) return std::nullopt;
            return repo.oauth().client(a->oauth_client);
        });
    if (!client) {
        store::wipe(verifier);
        std::string message = "the account or its OAuth client is gone";
        jobs_.finish(*job, consent_status::failed, message);
        co_return completion{status::conflict, message, job};
    }
    oauth::consent_result result;
    std::string code = answer.code;
    try {
        result = co_await oauth::exchange_code(settings_.store, id, *client, std::move(code), verifier,
                                               job->redirect_uri, settings_.upstream_tls,
                                               settings_.upstream_timeout);
    } catch (const std::exception& e) {
        result.failure = internal_failure(e.what());
    }
    store::wipe(code);
    store::wipe(verifier);
    store::wipe(client->client_secret);
    co_await finished(job, result);
    if (result.ok) co_return completion{status::ok, result.message(), job};
    co_return completion{status::bad_gateway, "consent failed: " + result.message(), job};
}

asio::awaitable<response> oauth_api::consent(request& req, const std::string& id) {
    auto version = req.version();
    auto job = jobs_.find(id);
    if (!job) co_return admin_api::json_error(status::not_found, version, "no such consent request");
    if (req.method() == http::verb::get) co_return ok_json(version, jobs_.to_json(*job));
    if (req.method() == http::verb::delete_) {
        if (jobs_.cancel(*job))
            spdlog::info("admin: account '{}': {} consent cancelled", job->account, job->kind);
        co_return ok_json(version, jobs_.to_json(*job));
    }
    co_return admin_api::json_error(status::method_not_allowed, version, "method not allowed");
}

asio::awaitable<response> oauth_api::paste(request& req, const std::string& session) {
    auto version = req.version();
    if (req.method() != http::verb::post)
        co_return admin_api::json_error(status::method_not_allowed, version, "use POST");
    boost::system::error_code ec;
    auto parsed = json::parse(req.body(), ec);
    if (ec || !parsed.is_object())
        co_return admin_api::json_error(status::bad_request, version, "malformed JSON");
    std::optional<std::string> url;
    std::string error;
    if (!read_string(parsed.as_object(), "url", url, error) || !url || url->empty())
        co_return admin_api::json_error(status::bad_request, version,
                                        error.empty() ? "url is required" : error);
    wipe_member(parsed.as_object(), "url");
    auto answer = oauth::parse_authorization_response(*url);
    store::wipe(*url);
    if (!answer)
        co_return admin_api::json_error(
            status::bad_request, version,
            "that address has neither a code nor an error: paste the whole address from the "
            "browser's address bar");
    auto job = jobs_.find_by_state(answer->state);
    if (!job) {
        store::wipe(answer->code);
        co_return admin_api::json_error(
            status::bad_request, version,
            "that address belongs to no pending sign-in of this gateway (unknown or expired "
            "state; requests last 10 minutes and are used once): start again");
    }
    if (!store::constant_time_equal(job->session, session)) {
        store::wipe(answer->code);
        spdlog::warn("admin: account '{}': a pasted sign-in address of another admin session was refused",
                     job->account);
        co_return admin_api::json_error(status::forbidden, version,
                                        "that sign-in was started by another admin session: refused");
    }
    auto done = co_await complete_code(*answer, job);
    store::wipe(answer->code);
    auto out = jobs_.to_json(*done.job);
    if (done.status == status::ok) co_return ok_json(version, out);
    co_return error_json(done.status, version, done.message, {{"consent", out}});
}

oauth_api::binding oauth_api::callback_binding(const request& req, const consent_job& job) {
    auto session = cookie_value(req, "mg_session");
    bool live = session && sessions_.touch(*session).has_value();
    if (live && store::constant_time_equal(*session, job.session)) return binding::same;
    auto bound = cookie_value(req, "mg_oauth_" + job.id);
    if (bound && store::constant_time_equal(*bound, job.binding))
        return sessions_.touch(job.session) ? binding::same : binding::ended;
    return live ? binding::foreign : binding::none;
}

asio::awaitable<std::string> oauth_api::wait_for_test(const std::string& test_id) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<json::value> s;
    for (;;) {
        s = tests_.status(test_id);
        if (!s || s->as_object().at("done").as_bool() || std::chrono::steady_clock::now() > deadline) break;
        timer.expires_after(std::chrono::milliseconds(250));
        co_await timer.async_wait(asio::use_awaitable);
    }
    if (!s) co_return "";
    const auto& o = s->as_object();
    std::string html = "<h2>Provider login with the new token</h2><ol id=\"test-steps\">";
    for (const auto& step : o.at("steps").as_array()) {
        const auto& st = step.as_object();
        std::string detail(st.at("detail").as_string());
        html += std::string("<li class=\"") + (st.at("ok").as_bool() ? "ok" : "bad") + "\">" +
                html_escape(std::string(st.at("protocol").as_string()) + " " +
                            std::string(st.at("step").as_string()) + (detail.empty() ? "" : ": " + detail)) +
                "</li>";
    }
    html += "</ol><p id=\"test-result\">";
    if (!o.at("done").as_bool())
        html += "still running: the admin page shows the rest";
    else
        html += o.at("ok").as_bool() ? "all checks passed" : "some checks failed";
    co_return html + "</p>";
}

response oauth_api::page(const request& req, status s, const std::string& title,
                         const std::string& body_html) const {
    std::string html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mailgate: " +
                       html_escape(title) +
                       "</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body>"
                       "<header><h1>mailgate</h1></header><main id=\"callback\"><h2 id=\"callback-title\">" +
                       html_escape(title) + "</h2>" + body_html +
                       "<p><a id=\"back\" href=\"/\">Back to the admin page</a></p></main></body></html>\n";
    return admin_api::make(s, req.version(), "text/html; charset=utf-8", std::move(html));
}

asio::awaitable<response> oauth_api::callback(request& req) {
    auto answer = oauth::parse_authorization_response(std::string(req.target()));
    if (!answer)
        co_return page(
            req, status::bad_request, "Nothing to complete",
            "<p id=\"result\" class=\"status-bad\">This address carries neither an authorization code nor an "
            "error from the provider.</p>");
    auto job = jobs_.find_by_state(answer->state);
    if (!job) {
        store::wipe(answer->code);
        co_return page(
            req, status::bad_request, "Unknown sign-in",
            "<p id=\"result\" class=\"status-bad\">This sign-in is unknown to the gateway or has expired: "
            "its "
            "state matches no pending request (requests last 10 minutes and are used once).</p>"
            "<p>If you started it with <code>mailgate account oauth NAME --paste</code>, paste this page's "
            "full address from the address bar there. Otherwise start it again on the admin page.</p>");
    }
    auto how = callback_binding(req, *job);
    if (how != binding::same) {
        store::wipe(answer->code);
        std::string why, hint;
        if (how == binding::none) {
            why = "This browser has no admin session for this sign-in (the admin page may be open on another "
                  "machine "
                  "or under another address).";
            // This request was started on the admin page, so the page (not the CLI, which has its own requests)
            // is where its address goes.
            hint = "Copy this page's full address from the address bar and paste it into the field "
                   "&ldquo;Paste the "
                   "redirected address&rdquo; on the admin page where you started the sign-in (a sign-in "
                   "started with "
                   "<code>mailgate account oauth " +
                   html_escape(job->account) +
                   " --paste</code> takes its address "
                   "in that command instead).";
        } else if (how == binding::foreign) {
            why = "This sign-in was started by another admin session: it is refused here.";
        } else {
            why = "The admin session that started this sign-in has ended (logged out or expired): log in and "
                  "start "
                  "again.";
        }
        spdlog::warn("admin: account '{}': OAuth2 callback refused ({})", job->account,
                     how == binding::none      ? "no admin session"
                     : how == binding::foreign ? "another admin session"
                                               : "session ended");
        std::string body = "<p id=\"result\" class=\"status-bad\">" + why + "</p>";
        if (!hint.empty()) body += "<p id=\"hint\">" + hint + "</p>";
        co_return page(req, status::forbidden, "Sign-in not completed", body);
    }
    auto done = co_await complete_code(*answer, job);
    store::wipe(answer->code);
    bool ok = done.status == status::ok;
    std::string body = std::string("<p id=\"result\" class=\"") + (ok ? "status-ok" : "status-bad") + "\">" +
                       html_escape("Account " + job->account + ": " + done.message) + "</p>";
    std::string test_id;
    {
        auto j = jobs_.to_json(*job);
        if (j["test"].is_string()) test_id = std::string(j["test"].as_string());
    }
    if (!test_id.empty()) body += co_await wait_for_test(test_id);
    auto res = page(req, ok ? status::ok : done.status, ok ? "Consent stored" : "Consent failed", body);
    res.set(http::field::set_cookie,
            "mg_oauth_" + job->id + "=; Path=/oauth/callback; HttpOnly; SameSite=Lax; Max-Age=0");
    co_return res;
}

// ------------------------------------------------------------------------------------------------ state

void oauth_api::decorate(json::value& account_json, const store::account& a) {
    if (!a.oauth || !account_json.is_object()) return;
    auto* o = account_json.as_object().if_contains("oauth");
    if (!o || !o->is_object()) return;
    auto& oj = o->as_object();
    auto view = settings_.tokens.view(a.id);
    auto now = now_unix();
    oj["stored_state"] = oj["state"];
    oj["refreshing"] = view.refreshing;
    if (view.refreshing) oj["state"] = "refreshing";
    bool backing_off = view.backoff_until > now && a.oauth->state == store::oauth_state::degraded;
    oj["backoff_until"] = backing_off ? json::value(view.backoff_until) : json::value(nullptr);
    oj["retry_in"] = backing_off ? json::value(view.backoff_until - now) : json::value(nullptr);
    // Seconds left at the time of this answer: the page counts down from it whatever its own clock says.
    oj["access_expires_in"] =
        a.oauth->access_expires_at ? json::value(*a.oauth->access_expires_at - now) : json::value(nullptr);
}

asio::awaitable<std::string> oauth_api::metrics() {
    const auto& c = settings_.tokens.counters();
    std::ostringstream out;
    out << "# HELP mailgate_oauth_refresh_total OAuth2 token refreshes by result.\n"
           "# TYPE mailgate_oauth_refresh_total counter\n";
    std::pair<const char*, std::uint64_t> results[] = {{"ok", c.ok.load()},
                                                       {"transient", c.transient.load()},
                                                       {"needs_consent", c.needs_consent.load()},
                                                       {"config_error", c.config_error.load()}};
    for (const auto& [result, n] : results)
        out << "mailgate_oauth_refresh_total{result=\"" << result << "\"} " << n << "\n";
    auto accounts = co_await settings_.store.run([](store::account_repository& repo) { return repo.list(); });
    out << "# HELP mailgate_oauth_state State of each oauth2 account's grant (1 for the current state).\n"
           "# TYPE mailgate_oauth_state gauge\n";
    for (const auto& a : accounts) {
        if (!a.oauth) continue;
        auto current =
            settings_.tokens.view(a.id).refreshing ? store::oauth_state::refreshing : a.oauth->state;
        for (auto s : all_states)
            out << "mailgate_oauth_state{account=\"" << label(a.name) << "\",state=\"" << store::to_string(s)
                << "\"} " << (s == current ? 1 : 0) << "\n";
    }
    out << "# HELP mailgate_oauth_access_token_expiry_seconds When each oauth2 account's access token "
           "expires (unix "
           "time).\n# TYPE mailgate_oauth_access_token_expiry_seconds gauge\n";
    for (const auto& a : accounts)
        if (a.oauth && a.oauth->access_expires_at)
            out << "mailgate_oauth_access_token_expiry_seconds{account=\"" << label(a.name) << "\"} "
                << *a.oauth->access_expires_at << "\n";
    co_return out.str();
}

} // namespace mailgate::admin
