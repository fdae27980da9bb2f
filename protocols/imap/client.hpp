// IMAP client codec toward the provider: greeting, CAPABILITY, STARTTLS, login (AUTHENTICATE PLAIN or LOGIN for a
// password, AUTHENTICATE XOAUTH2 or OAUTHBEARER for an OAuth2 token), post-login capabilities, LOGOUT.
//
// Flow (upstream_codec's actions): read the * OK greeting (its [CAPABILITY] code, else CAPABILITY) -> with
// STARTTLS mode STARTTLS, `start_tls`, CAPABILITY again (pre-TLS capabilities forgotten) -> AUTHENTICATE (SASL-IR
// when offered) or LOGIN with quoted/literal strings -> the tagged OK's [CAPABILITY] code or one more CAPABILITY
// -> `done`, with capability_atoms() for the client; NO -> `failed` (auth_rejected, token_rejected, or
// temporarily_unavailable for [UNAVAILABLE]), BAD -> `failed` (malformed_reply). logout(): LOGOUT -> `done`.
#pragma once

#include "protocols/common/upstream_codec.hpp"

#include <set>
#include <string>
#include <vector>

namespace mailgate::protocols::imap {

class client final : public upstream_codec {
public:
    client(upstream_tls tls, upstream_credentials credentials, upstream_limits limits = {});

    // Upper-cased capability atoms: before login, the last pre-login set; after `done`, the post-login set.
    const std::set<std::string>& capabilities() const { return capabilities_; }
    // The same atoms as the provider spelled and ordered them (what a client is shown after login).
    const std::vector<std::string>& capability_atoms() const { return capability_atoms_; }
    provider_capabilities post_login_capabilities() const override { return capability_atoms_; }

private:
    enum class state {
        greeting,
        capability,
        starttls,
        authenticate,
        login,
        post_login_capability,
        logged_in,
        logout
    };

    void on_line(std::string_view line) override;
    void on_tls_started() override;
    void on_logout() override;

    void new_tag();
    void command(std::string_view text);
    void after_capabilities();
    void start_login();
    void authenticate(std::string_view mechanism, std::string&& response);
    void send_login();
    void on_login_done(std::string_view status, std::string_view line);
    bool take_capability_code(std::string_view text);
    void forget_capabilities();
    void read_capabilities(std::string_view atoms);

    state state_ = state::greeting;
    bool tls_done_ = false;
    unsigned next_tag_ = 1;
    std::string tag_;
    std::set<std::string> capabilities_;
    std::vector<std::string> capability_atoms_;
};

} // namespace mailgate::protocols::imap
