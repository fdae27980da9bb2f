// Codec selection and failure-to-status mapping.
#include "server/proxy/upstream_login.hpp"

#include <unistd.h>

namespace mailgate::proxy {

client_codec make_login_codec(const domain::upstream_endpoint& endpoint,
                              protocols::upstream_credentials credentials, const std::string& helo_name) {
    auto tls = endpoint.tls;
    switch (endpoint.protocol) {
    case domain::mail_protocol::imap:
        return client_codec(std::make_unique<protocols::imap::client>(tls, std::move(credentials)));
    case domain::mail_protocol::pop3:
        return client_codec(std::make_unique<protocols::pop3::client>(tls, std::move(credentials)));
    case domain::mail_protocol::smtp:
        return client_codec(
            std::make_unique<protocols::smtp::client>(tls, std::move(credentials), helo_name));
    }
    return {};
}

const std::string& local_helo_name() {
    static const std::string name = [] {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return std::string("localhost");
        std::string out(buf);
        // EHLO takes a domain or address literal; anything odd falls back to a safe name.
        for (char c : out)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
                return std::string("localhost");
        return out;
    }();
    return name;
}

} // namespace mailgate::proxy
