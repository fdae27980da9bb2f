// SMTP client codec toward the provider: greeting, EHLO, STARTTLS, AUTH (PLAIN or LOGIN for a password, XOAUTH2
// or OAUTHBEARER for an OAuth2 token), QUIT.
//
// Flow (upstream_codec's actions): read the 220 greeting -> EHLO -> with STARTTLS mode STARTTLS, `start_tls`,
// EHLO again (extensions forgotten) -> AUTH (inline response when the line fits 512 octets, else after 334) ->
// 235 `done`; 4xx, 5xx -> `failed`. After login, transact(line) or await_verdict() (the reply to the end of DATA,
// read under the data_verdict deadline) -> `done` with last_reply(). logout(): QUIT -> `done`.
#pragma once

#include "protocols/common/upstream_codec.hpp"
#include "protocols/smtp/reply.hpp"

#include <set>
#include <string>

namespace mailgate::protocols::smtp {

class client final : public upstream_codec {
public:
    client(upstream_tls tls, upstream_credentials credentials, std::string helo_name,
           upstream_limits limits = {});

    // Upper-cased EHLO keywords with arguments, e.g. "SIZE 35882577", "AUTH PLAIN LOGIN".
    const std::set<std::string>& extensions() const { return extensions_; }
    provider_capabilities post_login_capabilities() const override {
        return {extensions_.begin(), extensions_.end()};
    }
    bool has_extension(std::string_view keyword) const;

    // After login (`done`): sends `line` (a command) and waits for the provider's reply; next() leads to `done`
    // when it has arrived, then last_reply() holds it.
    void transact(std::string line);
    // The same for the reply to the end of DATA (the data itself went out on the connection): read under the
    // data_verdict deadline.
    void await_verdict();
    const reply& last_reply() const { return last_reply_; }

private:
    enum class state {
        greeting,
        ehlo,
        starttls,
        auth_sasl,
        auth_login_user,
        auth_login_pass,
        auth_result,
        logged_in,
        transaction,
        quit
    };

    void on_line(std::string_view line) override;
    void on_tls_started() override;
    void on_logout() override;

    void on_reply(const reply& r, std::string_view last_line);
    void after_ehlo();
    void authenticate(std::string_view mechanism, std::string&& response);
    bool auth_offers(std::string_view mechanism) const;

    std::string helo_name_;
    state state_ = state::greeting;
    bool tls_done_ = false;
    reply_assembler assembler_;
    std::set<std::string> extensions_;
    reply last_reply_;
};

} // namespace mailgate::protocols::smtp
