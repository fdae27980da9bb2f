// The admin page's HTTP surface: static page, /api/v1 JSON API, /healthz, /metrics, and the OAuth2 redirect
// (/oauth/callback). One request in, one response out; login, CSRF, Origin and Host checks happen here before any
// handler runs.
#pragma once

#include "server/admin/admin_sessions.hpp"
#include "server/admin/api_settings.hpp"
#include "server/admin/oauth_api.hpp"
#include "server/admin/test_jobs.hpp"
#include "server/proxy/activity.hpp"
#include "server/proxy/login_throttle.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <vector>

namespace mailgate::admin {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;

class admin_api {
public:
    explicit admin_api(api_settings settings) : settings_(std::move(settings)) {}

    boost::asio::awaitable<response> handle(request req, std::string client);
    // The port the admin listener got: the OAuth2 loopback redirect goes there.
    void set_listener_port(std::uint16_t port) { oauth_.set_listener_port(port); }

    // A bare response with the security headers every answer carries.
    static response make(boost::beast::http::status status, unsigned version, std::string content_type,
                         std::string body);
    static response json_error(boost::beast::http::status status, unsigned version,
                               const std::string& message);

private:
    boost::asio::awaitable<response> api(request& req, const std::string& client, const std::string& path);
    boost::asio::awaitable<response> login(request& req, const std::string& client);
    // GET /healthz for balancers: 200 "ok" when ready, 503 with the reason otherwise.
    boost::asio::awaitable<response> readiness(unsigned version);
    static bool is_client_config_path(const std::string& path);
    // Thunderbird autoconfig and Outlook autodiscover for one address (README "Client setup").
    boost::asio::awaitable<response> client_config(request& req, const std::string& target,
                                                   const std::string& path);
    boost::asio::awaitable<response> accounts(request& req, const std::vector<std::string>& parts);
    bool host_allowed(const request& req) const;
    bool origin_allowed(const request& req) const;
    std::optional<std::string> session_token(const request& req) const;

    api_settings settings_;
    admin_sessions sessions_;
    // 5 failed logins per client address a minute, then 429 until they age out; attempts being checked count.
    proxy::login_throttle login_throttle_{
        {.free_failures = 5, .max_failures = 5, .window = std::chrono::seconds(60)}};
    test_jobs tests_;
    oauth_api oauth_{settings_, sessions_, tests_};
};

} // namespace mailgate::admin
