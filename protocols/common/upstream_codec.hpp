// Base of the provider-facing client codecs: line I/O, the STARTTLS rule, reply limits, error state, and the
// one path every credential-bearing byte takes to the provider (remembered for redaction, wiped when sent).
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/line_buffer.hpp"
#include "protocols/common/login_outcome.hpp"
#include "protocols/common/secret.hpp"
#include "protocols/common/upstream_error.hpp"
#include "protocols/common/upstream_tls.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailgate::protocols {

enum class credential_kind { password, bearer };
enum class bearer_mechanism { xoauth2, oauthbearer };

struct upstream_credentials {
    std::string user;
    std::string secret; // the password, or the OAuth2 access token when kind == bearer
    credential_kind kind = credential_kind::password;
    bearer_mechanism mechanism = bearer_mechanism::xoauth2; // only for bearer
    std::string host{}; // provider host name and port, sent in OAUTHBEARER's kvpairs
    std::uint16_t port = 0;
};

struct upstream_limits {
    std::size_t max_line = 64 * 1024; // providers send long CAPABILITY lines
    // One multi-line reply: every SMTP reply (EHLO's above all), POP3's CAPA list, IMAP's untagged lines
    // before the tagged completion. Past either limit the provider is streaming without end: reply_too_large.
    std::size_t max_reply_lines = 100;
    std::size_t max_reply_bytes = 64 * 1024;
};

// Flow: greeting -> (STARTTLS -> handshake ->) capabilities -> login -> `done`; then, per protocol, further
// exchanges that each end in `done` again (SMTP transactions), or logout() -> `done` once the provider confirms.
// Actions: `write` (then wrote()), `read` (then received(); empty = the provider closed), `start_tls` (then
// tls_started(); bytes the provider sent before the handshake are an injection: the codec fails), `done`, and
// `failed` (sticky) with error()/diagnostics() saying why.
class upstream_codec {
public:
    virtual ~upstream_codec(); // wipes the credential and everything derived from it
    upstream_codec(const upstream_codec&) = delete;
    upstream_codec& operator=(const upstream_codec&) = delete;

    client_action next();
    // The bytes of the last `write` went out; they are wiped (they may have been a credential line).
    void wrote();
    void received(std::string_view bytes);
    void tls_started();
    // After `done` (logged in): say goodbye; next() then leads to `done` again once the provider confirms.
    void logout();

    // After login: what the provider offers the logged-in client (IMAP capabilities, SMTP EHLO keywords).
    virtual provider_capabilities post_login_capabilities() const { return {}; }

    std::error_code error() const { return error_; }
    // The provider's own words for the failure, sanitized and length-capped. Never a credential: every form
    // of it this codec sent, and any run of 8 or more bytes of one, is replaced by "***" first.
    const std::string& diagnostics() const { return diagnostics_; }

protected:
    // `credentials` is moved from and the source wiped (a moved short string keeps its bytes).
    upstream_codec(upstream_tls tls, upstream_credentials&& credentials, upstream_limits limits);

    // One complete line from the provider (CRLF removed).
    virtual void on_line(std::string_view line) = 0;
    // TLS is up: forget every pre-TLS fact (capabilities) and continue (RFC 3207 §4.2, RFC 2595 §3.1).
    virtual void on_tls_started() = 0;
    virtual void on_logout() = 0;

    // Protocol text that carries no credential.
    void send(std::string_view bytes);
    // Everything a codec derives from the credential goes out through these two, never through send():
    // `head` + `secret_part` + `tail`, where `secret_part` is the credential as encoded for the wire (a SASL
    // payload in base64, a quoted string, literal bytes, the bare password). Each secret part is remembered
    // for diagnostics() - with its base64 decoding when it is base64 - and wiped out of the caller's string.
    void send_credential(std::string_view head, std::string&& secret_part, std::string_view tail = "\r\n");
    // The same, held back until the provider's next continuation (send_held()); held pieces go out in order.
    void hold_credential(std::string_view head, std::string&& secret_part, std::string_view tail = "\r\n");
    // On a continuation: sends the next held piece; false when none is held.
    bool send_held();
    // The provider answered without asking for the rest: the held pieces are wiped.
    void drop_held() noexcept;
    // Sends `command` with the SASL initial response inline, unless the line would exceed `max_line` octets
    // (RFC 5034 §4, RFC 4954 §4): then the command alone, and the response held for the continuation.
    void send_with_initial_response(std::string_view command, std::string&& response, std::size_t max_line);

    // ---- The SASL steps of the login, shared by the codecs. A bearer credential logs in only with its own
    // mechanism: never PLAIN, LOGIN or IMAP LOGIN.
    bool bearer() const noexcept { return credentials_.kind == credential_kind::bearer; }
    // "XOAUTH2" or "OAUTHBEARER".
    std::string_view bearer_mechanism_name() const noexcept;
    // The bearer credential's initial response, for send_credential() and its kin. nullopt once the codec has
    // failed: with no_usable_mechanism when the provider does not offer the mechanism (`offered`), with
    // credential_unencodable when the user, token or host holds a byte it cannot carry.
    std::optional<std::string> bearer_initial_response(bool offered);
    // A continuation during the login: sends the next held piece. Failing that, with a bearer credential, it
    // is the provider's error report on the token (RFC 7628 §3.2.2, XOAUTH2 alike): kept for diagnostics and
    // answered, once, so that the provider sends its final reply (§3.2.3). False: nothing to answer it with.
    bool continue_login(std::string_view challenge);
    // The final reply refused the login: auth_rejected, or token_rejected for a bearer credential.
    void reject_login(std::string_view final_line);
    // fail() on the login's final reply: diagnostics show the provider's error report, if any, after it.
    void fail_login(upstream_errc e, std::string_view final_line);

    // Counts one line of the multi-line reply being read; false once it breaks the limits (the codec has
    // failed with reply_too_large). reply_complete() starts the count again for the next reply.
    bool count_reply_line(std::string_view line);
    void reply_complete() { reply_lines_ = reply_bytes_ = 0; }

    void request_tls() { want_tls_ = true; }
    // The limit the next reads wait under (a reply to a command unless a codec says otherwise).
    void read_under(read_deadline d) { deadline_ = d; }
    void finish() { done_ = true; }
    void fail(upstream_errc e, std::string_view provider_text = {});
    line_buffer& input() { return input_; }

    upstream_tls tls_mode_;
    upstream_credentials credentials_;

private:
    void remember(std::string_view secret_part);

    upstream_limits limits_;
    line_buffer input_;
    std::string out_;
    secret_strings held_; // credential pieces waiting for continuations, from held_next_ on
    std::size_t held_next_ = 0;
    secret_strings sent_forms_; // every encoded form of the credential this codec sent, for redaction
    std::string error_report_;  // a bearer login's error report, decoded (it may echo the token: wiped)
    bool error_report_answered_ = false;
    std::size_t reply_lines_ = 0;
    std::size_t reply_bytes_ = 0;
    bool want_tls_ = false;
    bool done_ = false;
    read_deadline deadline_ = read_deadline::command;
    bool eof_ = false;
    std::error_code error_;
    std::string diagnostics_;
};

// `text` with every occurrence of a form replaced by "***", and every run of at least 8 bytes that occurs
// inside a form too (a provider echoing part of what it was sent, cut short or split over lines). Adjacent
// and overlapping runs become one "***".
std::string redact_secrets(std::string_view text, const secret_strings& forms);

// Peer text made safe for logs: printable ASCII only, at most `cap` characters.
std::string sanitize_peer_text(std::string_view text, std::size_t cap = 200);

} // namespace mailgate::protocols
