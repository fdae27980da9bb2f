// Shared pieces of the smtp::server transcripts: the gateway's fixed replies, provider replies, codec setups
// and script fragments (greeting, EHLO, login, envelope, DATA).
#pragma once

#include "protocols/smtp/server.hpp"
#include "tests/protocols/server_transcript.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mailgate::protocols::smtp::transcripts {

using namespace mailgate::test::server_transcript;
using mailgate::test::server_transcript::step;
using script = std::vector<step>;

inline constexpr const char* plain_alice = "AGFsaWNlAHMzY3JldA=="; // base64("\0alice\0s3cret")

inline const std::string greeting = "220 gw.lan ESMTP mailgate ready\r\n";
inline const std::string authenticated = "235 2.7.0 Authentication successful\r\n";
inline const std::string bad_credentials = "535 5.7.8 Authentication credentials invalid\r\n";
inline const std::string encryption_required =
    "538 5.7.11 Encryption required for requested authentication mechanism\r\n";
inline const std::string auth_required = "530 5.7.0 Authentication required\r\n";
inline const std::string ehlo_first = "503 5.5.1 Send EHLO or HELO first\r\n";
inline const std::string unrecognized = "500 5.5.2 Command unrecognized\r\n";
inline const std::string provider_lost =
    "451 4.4.1 Connection to the mail provider failed; nothing was sent, try again later\r\n";
inline const std::string provider_lost_in_data =
    "451 4.4.1 Connection to the mail provider failed during DATA; message not sent, try again\r\n";
inline const std::string provider_lost_after_end = "451 4.4.1 Connection to the mail provider lost after the "
                                                   "end of the message; it may have been delivered: try "
                                                   "again (a duplicate is possible)\r\n";
inline const std::string smuggling_refused =
    "554 5.6.0 Message refused: bare CR or LF in the data (SMTP smuggling protection)\r\n";
inline const std::string bare_lf_refused =
    "554 5.6.0 Message refused: lines must end with CRLF, not a bare LF; closing\r\n";
inline const std::string too_big = "552 5.3.4 Message size exceeds the fixed maximum message size\r\n";
inline const std::string goodbye = "221 2.0.0 gw.lan closing connection\r\n";

// Provider replies.
inline const std::string mail_ok = "250 2.1.0 Ok\r\n";
inline const std::string rcpt_ok = "250 2.1.5 Ok\r\n";
inline const std::string go_ahead = "354 End data with <CR><LF>.<CR><LF>\r\n";
inline const std::string queued = "250 2.0.0 Ok: queued as 4F2A1C\r\n";

// What the provider's EHLO offered (as smtp::client reports it).
inline const std::vector<std::string> full_provider = {
    "PIPELINING", "SIZE 35882577", "8BITMIME", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"};
inline const std::vector<std::string> bare_provider = {"AUTH PLAIN"};

struct ehlo_offers {
    bool starttls = false;
    bool auth = true;
    std::uint64_t size = 50ull * 1024 * 1024;
};

inline std::string ehlo_reply(ehlo_offers o = {}) {
    std::string r = "250-gw.lan Hello [192.0.2.7]\r\n250-PIPELINING\r\n250-SIZE " + std::to_string(o.size) +
                    "\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n";
    if (o.starttls) r += "250-STARTTLS\r\n";
    if (o.auth) r += "250-AUTH PLAIN LOGIN\r\n250-AUTH=PLAIN LOGIN\r\n";
    return r + "250 HELP\r\n";
}

// The server_options a test varies (host name and client address are fixed).
struct setup {
    bool starttls_offered = false;
    bool plaintext_auth_allowed = false;
    bool relay_allowed = false;
    bool tls_active = false;
    std::uint64_t max_message_size = 50ull * 1024 * 1024;
    unsigned max_recipients = 100;
};

inline server_codec_factory make(setup s) {
    server_options o;
    o.starttls_offered = s.starttls_offered;
    o.plaintext_auth_allowed = s.plaintext_auth_allowed;
    o.relay_allowed = s.relay_allowed;
    o.tls_active = s.tls_active;
    o.host_name = "gw.lan";
    o.client_address = "192.0.2.7";
    o.max_message_size = s.max_message_size;
    o.max_recipients = s.max_recipients;
    return make_server_codec<server>(std::move(o));
}
// Port 465 (implicit TLS).
inline server_codec_factory implicit_tls() { return make({.tls_active = true}); }
// Port 587 from a network where plaintext AUTH is refused.
inline server_codec_factory starttls_port() { return make({.starttls_offered = true}); }

inline script operator+(script a, const script& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

inline script ehlo(ehlo_offers o = {}) { return {feed("EHLO pc.lan\r\n"), expect_write(ehlo_reply(o))}; }

// Greeting, EHLO and AUTH PLAIN as alice on the implicit TLS port; the provider offers `provider`.
inline script logged_in(std::vector<std::string> provider = full_provider) {
    return script{expect_write(greeting)} + ehlo() +
           script{feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                  expect_authenticate("alice", "s3cret", login_outcome::ok, std::move(provider)),
                  expect_write(authenticated)};
}

inline script mail_from(const std::string& address = "a@example.org") {
    std::string line = "MAIL FROM:<" + address + ">\r\n";
    return {feed(line), expect_upstream_command(line, mail_ok), expect_write(mail_ok)};
}
inline script rcpt_to(const std::string& address = "c@example.net") {
    std::string line = "RCPT TO:<" + address + ">\r\n";
    return {feed(line), expect_upstream_command(line, rcpt_ok), expect_write(rcpt_ok)};
}
inline script data_accepted() {
    return {feed("DATA\r\n"), expect_upstream_command("DATA\r\n", go_ahead), expect_write(go_ahead)};
}
// Logged in with an envelope and DATA accepted by the provider: the client may send its message.
inline script in_data() { return logged_in() + mail_from() + rcpt_to() + data_accepted(); }
inline script quit() {
    return {feed("QUIT\r\n"), expect_write(goodbye), expect_close(session_errc::client_quit)};
}

} // namespace mailgate::protocols::smtp::transcripts
