// The admin page's OAuth2 part: client registrations (/api/v1/oauth-clients, presets), consent for an account
// (device flow polled in the background, authorization code + PKCE with the redirect to GET /oauth/callback on this
// listener or pasted into the page), the token state next to each account, and the OAuth lines of /metrics.
// Never returns or logs a token, a client secret, an authorization code or a code verifier.
#pragma once

#include "server/admin/admin_sessions.hpp"
#include "server/admin/api_settings.hpp"
#include "server/admin/consent_jobs.hpp"
#include "server/admin/test_jobs.hpp"
#include "server/oauth/authorization_request.hpp"
#include "server/oauth/consent.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <string>
#include <vector>

namespace mailgate::admin {

class oauth_api {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;
    using response = boost::beast::http::response<boost::beast::http::string_body>;

    oauth_api(api_settings& settings, admin_sessions& sessions, test_jobs& tests)
        : settings_(settings), sessions_(sessions), tests_(tests) {}

    // The admin listener's port: the loopback redirect is http://127.0.0.1:PORT/oauth/callback (RFC 8252 §7.3).
    void set_listener_port(std::uint16_t port) { port_ = port; }
    std::string redirect_uri() const;
    // Host values the callback accepts besides the listener's names: the loopback redirect's own host.
    bool callback_host(const request& req) const;

    // /api/v1/oauth-clients[/NAME] and /api/v1/oauth-presets (parts as split from the API path).
    boost::asio::awaitable<response> clients(request& req, const std::vector<std::string>& parts);
    response presets(const request& req) const;
    // POST /api/v1/accounts/NAME/oauth/{device,authorize}
    boost::asio::awaitable<response> start_consent(request& req, const std::string& session,
                                                   const std::string& account, const std::string& kind);
    // GET / DELETE /api/v1/consents/ID
    boost::asio::awaitable<response> consent(request& req, const std::string& id);
    // POST /api/v1/oauth/paste {"url": "http://127.0.0.1:PORT/oauth/callback?code=...&state=..."}
    boost::asio::awaitable<response> paste(request& req, const std::string& session);
    // GET /oauth/callback?code&state: a top-level navigation from the provider (no CSRF header); needs the state
    // of a pending request and the browser that started it (its session or the request's own cookie).
    boost::asio::awaitable<response> callback(request& req);

    // Adds the token service's in-memory view (refreshing, backoff, seconds left) to an account's "oauth" object.
    void decorate(boost::json::value& account_json, const store::account& a);
    // mailgate_oauth_refresh_total, mailgate_oauth_state, mailgate_oauth_access_token_expiry_seconds.
    boost::asio::awaitable<std::string> metrics();

private:
    struct completion {
        boost::beast::http::status status;
        std::string message;
        std::shared_ptr<consent_job> job;
    };
    enum class binding { same, none, foreign, ended };
    binding callback_binding(const request& req, const consent_job& job);
    // Coroutines awaited at once: their arguments are references to the caller's named objects (GCC 12 destroys
    // temporaries with captures in a co_await expression twice, so no closures or by-value objects there).
    boost::asio::awaitable<completion> complete_code(const oauth::authorization_response& answer,
                                                     const std::shared_ptr<consent_job>& job);
    boost::asio::awaitable<void> finished(const std::shared_ptr<consent_job>& job,
                                          const oauth::consent_result& result);
    void poll_device(boost::asio::any_io_executor executor, std::shared_ptr<consent_job> job,
                     domain::oauth_client client, oauth::device_authorization device);
    boost::asio::awaitable<std::string> wait_for_test(const std::string& test_id);
    response page(const request& req, boost::beast::http::status status, const std::string& title,
                  const std::string& body_html) const;

    api_settings& settings_;
    admin_sessions& sessions_;
    test_jobs& tests_;
    consent_jobs jobs_;
    std::atomic<std::uint16_t> port_{8080};
};

} // namespace mailgate::admin
