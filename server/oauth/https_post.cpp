// HTTPS POST over Beast.
#include "server/oauth/https_post.hpp"

#include "server/net/peer_verification.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

namespace mailgate::oauth {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t max_response_body = 256 * 1024;

bool unreserved(unsigned char c) { return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }

void append_encoded(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (unsigned char c : text) {
        if (unreserved(c))
            out += static_cast<char>(c);
        else if (c == ' ')
            out += '+';
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
}

} // namespace

std::string encode_form(const form_fields& fields) {
    std::string out;
    for (const auto& [name, value] : fields) {
        if (!out.empty()) out += '&';
        append_encoded(out, name);
        out += '=';
        append_encoded(out, value);
    }
    return out;
}

asio::awaitable<std::variant<http_response, http_failure>>
https_post(const std::string& url, std::string body, asio::ssl::context& tls, std::chrono::seconds timeout) {
    struct wipe_body {
        std::string& b;
        ~wipe_body() { store::wipe(b); }
    } wiper{body};
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || parsed->scheme() != "https" || parsed->host().empty())
        co_return http_failure{"'" + url +
                               "' is not an https:// URL; OAuth2 endpoints are only used over TLS"};
    std::string host = parsed->host_address();
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    std::string port = parsed->has_port() ? std::string(parsed->port()) : "443";
    std::string target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
    if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());
    std::string host_header = std::string(parsed->encoded_host_and_port());

    auto executor = co_await asio::this_coro::executor;
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto remaining = [&] {
        return std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration(0));
    };
    std::string step = "resolving " + host;
    try {
        asio::ip::tcp::resolver resolver(executor);
        auto addresses = co_await resolver.async_resolve(host, port, asio::use_awaitable);
        step = "connecting to " + host_header;
        beast::get_lowest_layer(stream).expires_after(remaining());
        co_await beast::get_lowest_layer(stream).async_connect(addresses, asio::use_awaitable);
        step = "TLS with " + host_header;
        if (!net::expect_peer_name(stream.native_handle(), host))
            co_return http_failure{"cannot set up the host name check for '" + host + "'"};
        beast::get_lowest_layer(stream).expires_after(remaining());
        try {
            co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        } catch (const boost::system::system_error&) {
            if (auto why = net::verification_failure(stream.native_handle(), host))
                co_return http_failure{*why};
            throw;
        }
        step = "HTTP exchange with " + host_header;
        http::request<http::string_body> request{http::verb::post, target, 11};
        request.set(http::field::host, host_header);
        request.set(http::field::user_agent, "mailgate");
        request.set(http::field::accept, "application/json");
        request.set(http::field::content_type, "application/x-www-form-urlencoded");
        request.set(http::field::connection, "close");
        request.body() = body;
        request.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(remaining());
        co_await http::async_write(stream, request, asio::use_awaitable);
        store::wipe(request.body());
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_response_body);
        parser.header_limit(16 * 1024);
        co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
        http_response out{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
        boost::system::error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        co_return out;
    } catch (const boost::system::system_error& e) {
        auto code = e.code();
        if (code == beast::error::timeout) co_return http_failure{step + ": timed out"};
        co_return http_failure{step + ": " + code.message()};
    }
}

} // namespace mailgate::oauth
