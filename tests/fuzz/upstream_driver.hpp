// Drives a provider-facing client codec (POP3, IMAP, SMTP) the way server/net/upstream_connection.cpp does, with
// the provider's bytes and the stored credential (password or OAuth2 token) taken from the fuzz input, checking
// the promises all three share: the STARTTLS rules (CVE-2011-0411, RFC 3207 §4.2), no credential before TLS, safe
// command lines, no password login with a token, a sticky close with sanitized diagnostics that never show the
// secret.
#pragma once

#include "protocols/common/upstream_codec.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <array>
#include <string>
#include <string_view>

namespace mailgate::fuzz {

// Stored credentials as accounts hold them, and some a protocol cannot carry (CR/LF, NUL, spaces, 8-bit); the
// same users and secrets serve as OAuth2 users and tokens (pick_credentials).
inline const std::array<protocols::upstream_credentials, 8> stored_credentials = {{
    {"alice@example.org", "s3cret"},
    {"bob", "correct horse battery staple"},
    {"user name", "pw"},
    {"j\xc3\xbcrgen@example.org", "p\xc3\xa4ss"},
    {"quote\"back\\slash", "sec\"ret\\"},
    {"carol", "line\r\nbreak"},
    {"dave", std::string("nul\0byte", 8)},
    {"", "no-user"},
}};

struct upstream_state {
    bool tls = false;
    bool logged_in = false;
};

// An OAuth2 access token of real size: its payload never fits a POP3 or SMTP AUTH line, so it waits for the
// continuation.
inline const std::string long_token = [] {
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~";
    std::string token;
    for (std::size_t i = 0; token.size() < 2048; ++i)
        token += alphabet[(i * 7 + i / alphabet.size()) % alphabet.size()];
    return token;
}();

// Picks the credential from one choice byte: 0x80 arbitrary bytes from the input's front, else entry (& 7) of
// the table. 0x40 makes it an OAuth2 token (the entry's secret, or with 0x08 a 2 KB one) instead of a password,
// 0x20 selects OAUTHBEARER over XOAUTH2, 0x10 adds the provider's host and port (OAUTHBEARER's kvpairs).
inline protocols::upstream_credentials pick_credentials(live_source& src) {
    auto choice = src.choose();
    protocols::upstream_credentials c;
    if (choice & 0x80) {
        c.user = src.take_text(200);
        c.secret = src.take_text(200);
    } else {
        const auto& stored = stored_credentials[choice % stored_credentials.size()];
        c.user = stored.user;
        c.secret = (choice & 0x48) == 0x48 ? long_token : stored.secret;
    }
    if (choice & 0x40) {
        c.kind = protocols::credential_kind::bearer;
        c.mechanism =
            (choice & 0x20) ? protocols::bearer_mechanism::oauthbearer : protocols::bearer_mechanism::xoauth2;
        if (choice & 0x10) {
            c.host = "mail.example.org";
            c.port = 993;
        }
    }
    return c;
}

// A bearer credential logs in with its own mechanism only: no fallback to PLAIN, LOGIN, IMAP LOGIN or
// USER/PASS, and not the other bearer mechanism. `bytes`: a write before login (IMAP's tag is skipped).
inline void check_bearer_login(std::string_view bytes, const protocols::upstream_credentials& c) {
    if (c.kind != protocols::credential_kind::bearer) return;
    auto line = bytes.substr(0, bytes.find("\r\n"));
    auto space = line.find(' ');
    if (line.starts_with('a') && space != std::string_view::npos && space > 1 &&
        line.substr(1, space - 1).find_first_not_of("0123456789") == std::string_view::npos)
        line.remove_prefix(space + 1);
    std::string_view want =
        c.mechanism == protocols::bearer_mechanism::oauthbearer ? "OAUTHBEARER" : "XOAUTH2";
    for (std::string_view verb : {"AUTH ", "AUTHENTICATE "}) {
        if (!line.starts_with(verb)) continue;
        auto mechanism = line.substr(verb.size());
        mechanism = mechanism.substr(0, mechanism.find(' '));
        FUZZ_CHECK(mechanism == want, "a bearer credential sent with " + std::string(mechanism));
    }
    for (std::string_view verb : {"USER ", "PASS ", "LOGIN "})
        FUZZ_CHECK(!line.starts_with(verb),
                   "a password login with a bearer credential: " + std::string(line));
}

// A diagnostics string is printable, capped, and (where it can be told apart from provider text) never holds
// the secret: a provider may echo what it was sent (upstream_codec::fail()).
inline void check_diagnostics(const std::string& d, const std::string& secret) {
    FUZZ_CHECK(d.size() <= 203, "diagnostics not capped: " + d);
    for (unsigned char c : d) FUZZ_CHECK(c >= 0x20 && c < 0x7f, "unsanitized diagnostics: " + d);
    // Secrets with '*', '?' or '.' could be formed by the redaction, the sanitizing or the cap themselves.
    bool distinct = secret.size() >= 4 && secret.find_first_of("*?.") == std::string::npos;
    for (unsigned char c : secret) distinct = distinct && c >= 0x20 && c < 0x7f;
    if (!distinct) return;
    FUZZ_CHECK(d.find(secret) == std::string::npos, "the secret in diagnostics: " + d);
    // Nor any 8-byte run of it: redaction hides those in the whole text before it is sanitized (and before a
    // codec's own words, such as a bearer login's "; error report: ", are joined to it: they are redacted too).
    for (std::size_t i = 0; i + 8 <= secret.size(); ++i)
        FUZZ_CHECK(d.find(secret.substr(i, 8)) == std::string::npos,
                   "8 bytes of the secret in diagnostics: " + d);
}

// `Hooks` supplies:
//   void on_write(std::string_view bytes, const upstream_state&);  // framing; before TLS only the allowed
//   bool is_login(std::string_view bytes, const upstream_state&); // the write carries the credential
//   void after_tls(Client&);                                       // pre-TLS facts are gone
//   bool after_done(Client&, live_source&, upstream_state&);        // next step after `done`; false: stop
template <class Client, class Hooks>
void drive_upstream(Client& codec, live_source& src, Hooks& hooks, protocols::upstream_tls mode,
                    const protocols::upstream_credentials& credentials, std::size_t input_size) {
    step_budget budget(input_size);
    upstream_state state{.tls = mode == protocols::upstream_tls::implicit};
    bool eof = false, credential_sent = false;
    std::size_t written = 0;
    for (;;) {
        budget.tick();
        auto a = flatten(codec.next());
        note(kind_name(a.kind), a.bytes);
        switch (a.kind) {
        case action_kind::write:
            FUZZ_CHECK(!a.bytes.empty(), "an empty write");
            hooks.on_write(a.bytes, state);
            if (!state.logged_in) check_bearer_login(a.bytes, credentials);
            if (hooks.is_login(a.bytes, state)) {
                FUZZ_CHECK(state.tls, "the credential sent without TLS: " + std::string(a.bytes));
                credential_sent = true;
            }
            written += a.bytes.size();
            FUZZ_CHECK(written <= 4096 + 16 * src.fed().size() +
                                      8 * (credentials.user.size() + credentials.secret.size()),
                       "output out of proportion to the input");
            codec.wrote();
            break;
        case action_kind::read: {
            FUZZ_CHECK(!eof, "asked to read after the provider closed the connection");
            auto bytes = src.read();
            note("  fed", bytes);
            eof = bytes.empty();
            codec.received(bytes);
            break;
        }
        case action_kind::start_tls:
            FUZZ_CHECK(mode == protocols::upstream_tls::starttls && !state.tls,
                       "start_tls twice or on implicit TLS");
            // CVE-2011-0411: nothing may be buffered when TLS starts, so everything fed ended in complete lines.
            FUZZ_CHECK(src.fed().ends_with('\n'), "start_tls with bytes still buffered");
            state.tls = true;
            codec.tls_started();
            hooks.after_tls(codec);
            break;
        case action_kind::done:
            FUZZ_CHECK(state.tls, "logged in without TLS");
            if (!state.logged_in) {
                FUZZ_CHECK(credential_sent, "logged in without sending the credential");
                FUZZ_CHECK(!codec.error());
                state.logged_in = true;
            }
            if (!hooks.after_done(codec, src, state)) return;
            break;
        case action_kind::close: {
            auto why = codec.error();
            FUZZ_CHECK(why && why.category() == protocols::upstream_category(),
                       "close without an upstream error");
            check_diagnostics(codec.diagnostics(), credentials.secret);
            FUZZ_CHECK(flatten(codec.next()).kind == action_kind::close, "close is not sticky");
            return;
        }
        default: violation(__FILE__, __LINE__, "an action a client codec never asks for", kind_name(a.kind));
        }
    }
}

// One fuzz input against a provider-side client codec: the TLS mode, credential and line limit chosen from the
// input, then driven to its end. `make(mode, credentials, limits)` builds the codec.
template <class Hooks, class Make>
int fuzz_upstream_client(const std::uint8_t* data, std::size_t size, Make make) {
    FuzzedDataProvider fdp(data, size);
    live_source src(fdp);
    auto mode = (src.choose() & 1) ? protocols::upstream_tls::starttls : protocols::upstream_tls::implicit;
    auto credentials = pick_credentials(src);
    protocols::upstream_limits limits;
    if (src.choose() & 1) limits.max_line = 64; // short limit: over-long replies with little input
    auto codec = make(mode, credentials, limits);
    Hooks hooks;
    drive_upstream(codec, src, hooks, mode, credentials, size);
    return 0;
}

} // namespace mailgate::fuzz
