// Token endpoint requests and replies.
#include "server/oauth/token_endpoint.hpp"

#include "protocols/common/ascii.hpp"
#include "protocols/common/base64.hpp"
#include "protocols/common/secret.hpp"
#include "protocols/common/upstream_codec.hpp"
#include "server/common/unix_time.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <chrono>

namespace mailgate::oauth {
namespace json = boost::json;
namespace {

// The client authentication of RFC 6749 §2.3.1 in the body (client_secret_post; what Google and Microsoft take).
void add_client(form_fields& f, const domain::oauth_client& c) {
    f.emplace_back("client_id", c.client_id);
    if (!c.client_secret.empty()) f.emplace_back("client_secret", c.client_secret);
}

std::string text_of(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v) return {};
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64()) return std::to_string(v->get_int64());
    return {};
}

std::int64_t number_of(const json::object& o, std::string_view key, std::int64_t fallback) {
    auto* v = o.if_contains(key);
    if (!v) return fallback;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), 1u << 30));
    if (v->is_double()) { // clamped before the cast: an out-of-range double is undefined behaviour as an integer
        double d = v->get_double();
        return d != d ? fallback : static_cast<std::int64_t>(std::clamp(d, -1e12, 1e12));
    }
    if (v->is_string()) { // some servers quote numbers
        try {
            return std::stoll(std::string(v->get_string()));
        } catch (...) {}
    }
    return fallback;
}

// Every block json allocates for a reply is wiped when it is freed: the reply holds tokens.
class wiping_resource final : public json::memory_resource {
    void* do_allocate(std::size_t n, std::size_t align) override {
        return ::operator new(n, std::align_val_t(align));
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        protocols::secure_wipe(p, n);
        ::operator delete(p, std::align_val_t(align));
    }
    bool do_is_equal(const json::memory_resource& other) const noexcept override { return this == &other; }
};

// Parses with a monotonic arena over the wiping resource (a first block sized for typical replies, more as needed).
template <class F>
auto with_json(std::string_view body, F use) -> decltype(use(std::declval<const json::object*>())) {
    wiping_resource wiping;
    json::monotonic_resource mr(body.size() * 4 + 4096, &wiping);
    json::error_code ec;
    json::value v;
    try {
        v = json::parse(body, ec, &mr);
    } catch (...) {
        ec = json::make_error_code(json::error::exception);
    }
    auto out = use(!ec && v.is_object() ? &v.get_object() : nullptr);
    v = nullptr; // released into the arena before it goes
    return out;
}

token_failure failure_from(const json::object* o, int status) {
    token_failure f;
    f.record.http_status = status;
    f.record.at = unix_now();
    if (o) {
        f.record.error = protocols::sanitize_peer_text(text_of(*o, "error"), 100);
        f.record.description = protocols::sanitize_peer_text(text_of(*o, "error_description"), 500);
    }
    if (f.record.error.empty())
        f.record.error =
            status >= 200 && status < 300 ? "invalid_response" : "http_" + std::to_string(status);
    f.state = classify_oauth_error(f.record.error, f.record.description, status);
    return f;
}

// The consenting identity from an id_token's claims; the token came straight from the token endpoint over
// verified TLS, which OpenID Connect Core §3.1.3.7 accepts in place of checking its signature.
std::string identity_from_id_token(std::string_view id_token) {
    auto first = id_token.find('.');
    auto second = first == std::string_view::npos ? first : id_token.find('.', first + 1);
    if (second == std::string_view::npos) return {};
    std::string payload(id_token.substr(first + 1, second - first - 1));
    for (auto& c : payload) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (payload.size() % 4) payload += '=';
    auto decoded = protocols::base64_decode(payload);
    if (!decoded) return {};
    return with_json(*decoded, [](const json::object* o) -> std::string {
        if (!o) return {};
        for (auto key : {"email", "preferred_username", "upn", "sub"})
            if (auto v = text_of(*o, key); !v.empty()) return protocols::sanitize_peer_text(v, 200);
        return {};
    });
}

} // namespace

void token_grant::wipe() {
    protocols::wipe(access_token);
    protocols::wipe(refresh_token);
}

std::string token_failure::summary() const {
    std::string out = record.error;
    if (!record.description.empty()) out += ": " + record.description;
    if (record.http_status) out += " (HTTP " + std::to_string(record.http_status) + ")";
    return out;
}

store::oauth_state classify_oauth_error(std::string_view error, std::string_view description,
                                        int http_status) {
    using store::oauth_state;
    // Microsoft: a public client that sent a secret, or a confidential one that sent none.
    if (description.find("AADSTS700025") != std::string_view::npos ||
        description.find("AADSTS7000218") != std::string_view::npos)
        return oauth_state::config_error;
    for (auto e : {"invalid_grant", "interaction_required", "consent_required", "login_required",
                   "access_denied", "expired_token"})
        if (error == e) return oauth_state::needs_consent;
    for (auto e : {"invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope",
                   "invalid_request"})
        if (error == e) return oauth_state::config_error;
    if (http_status == 429 || http_status >= 500 || error == "temporarily_unavailable" ||
        error == "server_error" || error == "slow_down" || error == "authorization_pending")
        return oauth_state::degraded;
    // A 4xx that is no OAuth error at all (wrong URL: 404, 405) will not heal by itself.
    if (http_status >= 400) return oauth_state::config_error;
    return oauth_state::degraded;
}

form_fields refresh_form(const domain::oauth_client& c, std::string refresh_token) {
    form_fields f{{"grant_type", "refresh_token"}, {"refresh_token", std::move(refresh_token)}};
    add_client(f, c);
    return f;
}

form_fields code_form(const domain::oauth_client& c, std::string code, const std::string& verifier,
                      const std::string& redirect_uri) {
    form_fields f{{"grant_type", "authorization_code"},
                  {"code", std::move(code)},
                  {"code_verifier", verifier},
                  {"redirect_uri", redirect_uri}};
    add_client(f, c);
    return f;
}

form_fields device_authorization_form(const domain::oauth_client& c) {
    form_fields f{{"scope", c.scope}};
    add_client(f, c);
    return f;
}

form_fields device_token_form(const domain::oauth_client& c, const std::string& device_code) {
    form_fields f{{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                  {"device_code", device_code}};
    add_client(f, c);
    return f;
}

token_outcome parse_token_reply(const http_response& reply) {
    return with_json(reply.body, [&](const json::object* o) -> token_outcome {
        if (reply.status != 200 || !o || text_of(*o, "access_token").empty())
            return failure_from(o, reply.status);
        token_grant g;
        g.access_token = text_of(*o, "access_token");
        auto type = text_of(*o, "token_type");
        if (!type.empty() && protocols::ascii_upper(type) != "BEARER") { // case-insensitive (RFC 6749 §5.1)
            g.wipe();
            token_failure f = failure_from(nullptr, reply.status);
            f.record.error = "unsupported_token_type";
            f.record.description = protocols::sanitize_peer_text(type, 50);
            f.state = store::oauth_state::config_error;
            return f;
        }
        g.expires_in = std::clamp<std::int64_t>(number_of(*o, "expires_in", 3600), 1, 365 * 24 * 3600);
        g.refresh_token = text_of(*o, "refresh_token");
        g.scope = protocols::sanitize_peer_text(text_of(*o, "scope"), 1000);
        if (auto id = text_of(*o, "id_token"); !id.empty()) g.identity = identity_from_id_token(id);
        return g;
    });
}

std::variant<device_authorization, token_failure> parse_device_authorization(const http_response& reply) {
    return with_json(reply.body,
                     [&](const json::object* o) -> std::variant<device_authorization, token_failure> {
                         if (reply.status != 200 || !o || text_of(*o, "device_code").empty() ||
                             text_of(*o, "user_code").empty())
                             return failure_from(o, reply.status);
                         device_authorization d;
                         d.device_code = text_of(*o, "device_code");
                         d.user_code = protocols::sanitize_peer_text(text_of(*o, "user_code"), 64);
                         // Microsoft's v2 endpoint follows RFC 8628; its older one said verification_url.
                         d.verification_uri = text_of(*o, "verification_uri");
                         if (d.verification_uri.empty()) d.verification_uri = text_of(*o, "verification_url");
                         d.verification_uri = protocols::sanitize_peer_text(d.verification_uri, 500);
                         d.verification_uri_complete =
                             protocols::sanitize_peer_text(text_of(*o, "verification_uri_complete"), 700);
                         d.expires_in = std::clamp<std::int64_t>(number_of(*o, "expires_in", 900), 10, 3600);
                         d.interval = std::clamp<std::int64_t>(number_of(*o, "interval", 5), 1, 60);
                         return d;
                     });
}

token_failure transport_failure(const http_failure& f) {
    token_failure out;
    out.state = store::oauth_state::degraded;
    out.record.error = "unreachable";
    out.record.description = f.reason;
    out.record.at = unix_now();
    return out;
}

boost::asio::awaitable<token_outcome> request_tokens(const std::string& url, form_fields form,
                                                     boost::asio::ssl::context& tls,
                                                     std::chrono::seconds timeout) {
    auto body = encode_form(form);
    for (auto& [name, value] : form) protocols::wipe(value);
    auto reply = co_await https_post(url, std::move(body), tls, timeout);
    if (auto* failure = std::get_if<http_failure>(&reply)) co_return transport_failure(*failure);
    auto& response = std::get<http_response>(reply);
    auto outcome = parse_token_reply(response);
    protocols::wipe(response.body);
    co_return outcome;
}

} // namespace mailgate::oauth
