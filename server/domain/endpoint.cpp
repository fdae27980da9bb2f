// Upstream URL parsing with Boost.URL; only TLS schemes are accepted.
#include "server/domain/endpoint.hpp"

#include <boost/url/parse.hpp>

namespace mailgate::domain {
namespace {

struct scheme_info {
    std::string_view scheme;
    mail_protocol protocol;
    protocols::upstream_tls tls;
    std::uint16_t default_port;
};

constexpr scheme_info schemes[] = {
    {"imaps", mail_protocol::imap, protocols::upstream_tls::implicit, 993},
    {"imap+starttls", mail_protocol::imap, protocols::upstream_tls::starttls, 143},
    {"pop3s", mail_protocol::pop3, protocols::upstream_tls::implicit, 995},
    {"pop3+starttls", mail_protocol::pop3, protocols::upstream_tls::starttls, 110},
    {"smtps", mail_protocol::smtp, protocols::upstream_tls::implicit, 465},
    {"smtp+starttls", mail_protocol::smtp, protocols::upstream_tls::starttls, 587},
};

} // namespace

std::string_view to_string(mail_protocol p) {
    switch (p) {
    case mail_protocol::imap: return "imap";
    case mail_protocol::pop3: return "pop3";
    case mail_protocol::smtp: return "smtp";
    }
    return "?";
}

std::string upstream_endpoint::url() const {
    for (const auto& s : schemes) {
        if (s.protocol == protocol && s.tls == tls) {
            bool v6 = host.find(':') != std::string::npos;
            return std::string(s.scheme) + "://" + (v6 ? "[" + host + "]" : host) + ":" +
                   std::to_string(port);
        }
    }
    return {};
}

user_result<upstream_endpoint> parse_upstream_url(std::string_view text) {
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed)
        return user_error{"'" + std::string(text) + "' is not a URL like imaps://imap.example.com:993"};
    const auto& u = *parsed;
    std::string scheme(u.scheme());
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "imap" || scheme == "pop3" || scheme == "pop" || scheme == "smtp") {
        return user_error{
            "'" + scheme +
            "://' has no TLS; mailgate never sends credentials to a provider in plaintext: use " +
            (scheme == "smtp"   ? "smtps:// or smtp+starttls://"
             : scheme == "imap" ? "imaps:// or imap+starttls://"
                                : "pop3s:// or pop3+starttls://")};
    }
    const scheme_info* info = nullptr;
    for (const auto& s : schemes)
        if (s.scheme == scheme) info = &s;
    if (!info)
        return user_error{"unknown scheme '" + scheme +
                          "'; use imaps, imap+starttls, pop3s, pop3+starttls, smtps or smtp+starttls"};
    if (u.has_userinfo())
        return user_error{"credentials do not belong in the URL; they are stored separately"};
    if (!u.encoded_path().empty() && u.encoded_path() != "/")
        return user_error{"the URL must not have a path"};
    if (u.has_query() || u.has_fragment()) return user_error{"the URL must not have a query or fragment"};

    upstream_endpoint out{info->protocol, info->tls, {}, info->default_port};
    switch (u.host_type()) {
    case boost::urls::host_type::name: out.host = u.host(); break;
    case boost::urls::host_type::ipv4: out.host = u.host_address(); break;
    case boost::urls::host_type::ipv6: out.host = u.host_address(); break;
    default: return user_error{"the URL needs a host name or address"};
    }
    if (out.host.empty()) return user_error{"the URL needs a host name or address"};
    for (auto& c : out.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (u.has_port()) {
        // port_number() wraps values above 65535, so judge the digits themselves.
        auto digits = u.port();
        unsigned long value = digits.empty() || digits.size() > 5 ? 0 : std::stoul(std::string(digits));
        if (value == 0 || value > 65535) return user_error{"port must be between 1 and 65535"};
        out.port = static_cast<std::uint16_t>(value);
    }
    return out;
}

} // namespace mailgate::domain
