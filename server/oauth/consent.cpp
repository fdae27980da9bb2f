// Consent flows.
#include "server/oauth/consent.hpp"

#include "protocols/common/secret.hpp"
#include "server/common/unix_time.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

namespace mailgate::oauth {

namespace asio = boost::asio;

namespace {

asio::awaitable<consent_result> store_consent(store::store_service& store, std::int64_t account_id,
                                              token_grant&& g) {
    consent_result r;
    if (g.refresh_token.empty()) {
        g.wipe();
        token_failure f;
        f.state = store::oauth_state::config_error;
        f.record = {
            "no_refresh_token",
            "the provider issued no refresh token: the scope needs offline_access (Microsoft) or the client "
            "offline access (Google)",
            200, unix_now()};
        r.failure = f;
        co_return r;
    }
    store::oauth_token_update u;
    u.access_token = std::move(g.access_token);
    u.access_expires_at = unix_now() + g.expires_in;
    u.refresh_token = std::move(g.refresh_token);
    u.identity = g.identity;
    u.scopes = g.scope;
    u.consent = true;
    g.wipe();
    co_await store.run(
        [&](store::account_repository& repo) { repo.oauth().store_tokens(account_id, std::move(u)); });
    r.ok = true;
    r.identity = g.identity;
    r.scopes = g.scope;
    r.expires_in = g.expires_in;
    co_return r;
}

} // namespace

std::string consent_result::message() const {
    if (ok) {
        std::string out = "consent stored";
        if (!identity.empty()) out += " for " + identity;
        if (!scopes.empty()) out += " (scopes: " + scopes + ")";
        return out + "; access token valid " + std::to_string(expires_in) + " s";
    }
    return failure ? failure->summary() : "consent failed";
}

asio::awaitable<std::variant<device_authorization, token_failure>>
begin_device_consent(const domain::oauth_client& client, asio::ssl::context& tls,
                     std::chrono::seconds timeout) {
    if (client.device_url.empty()) {
        token_failure f;
        f.state = store::oauth_state::config_error;
        f.record = {"no_device_flow",
                    "OAuth client '" + client.name +
                        "' has no device_url (the provider may not offer "
                        "the device flow for mail: use the authorization code flow)",
                    0, unix_now()};
        co_return f;
    }
    auto reply =
        co_await https_post(client.device_url, encode_form(device_authorization_form(client)), tls, timeout);
    if (auto* failure = std::get_if<http_failure>(&reply)) co_return transport_failure(*failure);
    co_return parse_device_authorization(std::get<http_response>(reply));
}

asio::awaitable<consent_result> finish_device_consent(store::store_service& store, std::int64_t account_id,
                                                      const domain::oauth_client& client,
                                                      device_authorization device, asio::ssl::context& tls,
                                                      std::chrono::seconds timeout,
                                                      std::function<bool()> cancelled) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(device.expires_in);
    auto interval = std::chrono::seconds(device.interval);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    consent_result r;
    for (;;) {
        timer.expires_after(interval);
        co_await timer.async_wait(asio::use_awaitable);
        if (cancelled && cancelled()) {
            r.failure = token_failure{store::oauth_state::needs_consent,
                                      {"cancelled", "the device code was abandoned", 0, unix_now()}};
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            r.failure =
                token_failure{store::oauth_state::needs_consent,
                              {"expired_token", "the code expired before it was approved", 0, unix_now()}};
            break;
        }
        auto outcome = co_await request_tokens(client.token_url,
                                               device_token_form(client, device.device_code), tls, timeout);
        if (auto* g = std::get_if<token_grant>(&outcome)) {
            r = co_await store_consent(store, account_id, std::move(*g));
            break;
        }
        auto& f = std::get<token_failure>(outcome);
        if (f.record.error == "authorization_pending") continue;
        if (f.record.error == "slow_down") {
            interval += std::chrono::seconds(5); // RFC 8628 §3.5
            continue;
        }
        if (f.transient() && f.record.error == "unreachable")
            continue; // the network may come back before expiry
        r.failure = f;
        break;
    }
    protocols::wipe(device.device_code);
    co_return r;
}

asio::awaitable<consent_result> exchange_code(store::store_service& store, std::int64_t account_id,
                                              const domain::oauth_client& client, std::string code,
                                              const std::string& verifier, const std::string& redirect_uri,
                                              asio::ssl::context& tls, std::chrono::seconds timeout) {
    auto outcome = co_await request_tokens(
        client.token_url, code_form(client, std::move(code), verifier, redirect_uri), tls, timeout);
    protocols::wipe(code);
    if (auto* g = std::get_if<token_grant>(&outcome))
        co_return co_await store_consent(store, account_id, std::move(*g));
    consent_result r;
    r.failure = std::get<token_failure>(outcome);
    co_return r;
}

} // namespace mailgate::oauth
