// POP3 client codec toward the provider: greeting, CAPA, STLS, login (AUTH PLAIN or USER/PASS for a password,
// AUTH XOAUTH2 or OAUTHBEARER for an OAuth2 token), QUIT.
//
// Flow (upstream_codec's actions): read the +OK greeting -> CAPA -> with STARTTLS mode STLS, `start_tls`, CAPA
// again (pre-TLS capabilities forgotten) -> a password: AUTH PLAIN if SASL PLAIN is listed, else USER/PASS; a
// bearer token: AUTH XOAUTH2/OAUTHBEARER only if listed -> `done` (logged in; the relay takes over) or `failed`
// (-ERR [AUTH] and other refusals: auth_rejected / token_rejected; [IN-USE], [SYS/TEMP]: temporarily_unavailable).
// logout(): QUIT -> `done`.
#pragma once

#include "protocols/common/upstream_codec.hpp"

#include <set>
#include <string>

namespace mailgate::protocols::pop3 {

class client final : public upstream_codec {
public:
    client(upstream_tls tls, upstream_credentials credentials, upstream_limits limits = {});

    // Capabilities the provider advertised in its last CAPA (upper-case keywords with their arguments).
    const std::set<std::string>& capabilities() const { return capabilities_; }

private:
    enum class state { greeting, capa, capa_lines, stls, auth_sasl, user, pass, logged_in, quit };

    void on_line(std::string_view line) override;
    void on_tls_started() override;
    void on_logout() override;

    void after_capabilities();
    bool sasl_offers(std::string_view mechanism) const; // listed in CAPA's SASL line
    void authenticate(std::string_view mechanism, std::string&& response);
    void on_login_reply(std::string_view line);

    state state_ = state::greeting;
    bool tls_done_ = false;
    std::set<std::string> capabilities_;
};

} // namespace mailgate::protocols::pop3
