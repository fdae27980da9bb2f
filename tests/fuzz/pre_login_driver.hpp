// Drives a pre-login server codec (POP3, IMAP) the way server/proxy/session_driver.hpp does, checking on every
// action the promises shared by both codecs: framing, TLS and login rules, credentials wiped, sticky close/relay.
#pragma once

#include "protocols/common/login_proof.hpp"
#include "protocols/common/session_error.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <string>
#include <string_view>

namespace mailgate::fuzz {

struct pre_login_setup {
    bool tls_active = false;      // implicit TLS port
    bool tls_offered = false;     // STLS / STARTTLS offered on a plaintext connection
    bool plaintext_login = false; // the client's network may log in without TLS
};

// What the driver knows at a hook.
struct pre_login_state {
    bool tls = false;
    bool logged_in = false; // the last login_result() was `ok`: one reply, then the relay
    std::size_t logins = 0;
};

// Whether `user` occurs in `bytes` as sent (USER, LOGIN) or inside a base64 word (SASL PLAIN and LOGIN).
bool user_occurs_in(std::string_view user, std::string_view bytes);

// `Hooks` supplies:
//   std::string_view greeting_prefix;
//   void on_write(std::string_view bytes, const pre_login_state&);
//   bool report(Codec&, std::uint8_t choice);   // login_result() from the choice; true when it was `ok`
template <class Codec, class Hooks>
trace drive_pre_login(Codec& codec, source& src, Hooks& hooks, const pre_login_setup& setup,
                      std::size_t input_size) {
    trace t;
    step_budget budget(input_size);
    pre_login_state state{.tls = setup.tls_active};
    std::string fed;
    std::string fed_since_tls; // RFC 2595 §4: nothing the client said before TLS counts after it
    bool eof = false;
    std::size_t writes_after_login = 0;
    bool first = true;
    std::size_t written = 0;
    for (;;) {
        budget.tick();
        auto a = flatten(codec.next());
        note(kind_name(a.kind), a.bytes);
        if (first) {
            FUZZ_CHECK(a.kind == action_kind::write && a.bytes.starts_with(hooks.greeting_prefix),
                       "the first action must be the greeting");
            first = false;
        }
        switch (a.kind) {
        case action_kind::write: {
            if (state.logged_in)
                FUZZ_CHECK(writes_after_login++ == 0,
                           "more than the login reply before handing over to the relay");
            hooks.on_write(a.bytes, state);
            written += a.bytes.size();
            // Every reply answers a line of at least two bytes; the longest (POP3 CAPA, IMAP ID) stay under 64x.
            FUZZ_CHECK(written <= 1024 + 64 * fed.size() + 1024 * state.logins,
                       "output out of proportion to the input");
            t.write(a.bytes);
            codec.wrote();
            break;
        }
        case action_kind::read: {
            FUZZ_CHECK(!eof, "asked to read after the client closed the connection");
            auto bytes = src.read();
            note("  fed", bytes);
            eof = bytes.empty();
            fed += bytes;
            fed_since_tls += bytes;
            codec.received(bytes);
            break;
        }
        case action_kind::start_tls:
            FUZZ_CHECK(setup.tls_offered && !state.tls, "start_tls without an offer, or with TLS already up");
            FUZZ_CHECK(!state.logged_in);
            state.tls = true;
            t.tls = true;
            t.event("start_tls");
            fed_since_tls.clear();
            codec.tls_started();
            break;
        case action_kind::authenticate: {
            // The gateway checks a credential only on a connection allowed to carry one (RFC 2595 §2.1).
            FUZZ_CHECK(state.tls || setup.plaintext_login,
                       "authenticate on a plaintext connection that may not log in");
            FUZZ_CHECK(!codec.user().empty(), "authenticate without a user name");
            FUZZ_CHECK(codec.user().find('\0') == std::string::npos, "NUL in the user name");
            FUZZ_CHECK(codec.password().find('\0') == std::string::npos, "NUL in the password");
            // Quoted strings may escape " and \; other user names appear as sent or inside base64.
            if (codec.user().find_first_of("\"\\") == std::string::npos)
                FUZZ_CHECK(user_occurs_in(codec.user(), fed_since_tls),
                           "a login with a user name the client did not send since TLS started: " +
                               codec.user());
            // APOP / CRAM-MD5: the "password" is the digest, normalized, and names the challenge it answers.
            if (codec.proof().kind != mailgate::protocols::proof_kind::password) {
                FUZZ_CHECK(mailgate::protocols::md5_digest_text(codec.password()).value_or("") ==
                               codec.password(),
                           "a challenge login whose answer is not a lower-case MD5 digest");
                FUZZ_CHECK(!codec.proof().challenge.empty(), "a challenge login without its challenge");
            }
            t.event("authenticate", codec.user() + '\0' + codec.password());
            ++state.logins;
            auto choice = src.choose();
            state.logged_in = hooks.report(codec, choice);
            FUZZ_CHECK(codec.password().empty(), "the password is kept after login_result()");
            break;
        }
        case action_kind::relay: {
            FUZZ_CHECK(state.logged_in, "relay without a successful login");
            auto pipelined = codec.take_pipelined();
            FUZZ_CHECK(std::string_view(fed).ends_with(pipelined),
                       "pipelined bytes that the client never sent");
            FUZZ_CHECK(flatten(codec.next()).kind == action_kind::relay, "relay is not sticky");
            t.event("relay", pipelined);
            return t;
        }
        case action_kind::close: {
            auto why = codec.error();
            FUZZ_CHECK(why && why.category() == protocols::session_category(),
                       "close without a session error");
            FUZZ_CHECK(flatten(codec.next()).kind == action_kind::close, "close is not sticky");
            t.event("close", why.message());
            return t;
        }
        default:
            violation(__FILE__, __LINE__, "an action a pre-login codec never asks for", kind_name(a.kind));
        }
    }
}

// Runs `run(source&)` on the live input, then once more with every byte it fed in a single read; unless TLS
// was started (bytes pipelined before it are dropped by design), both runs must do exactly the same.
template <class Run> void run_live_and_whole(FuzzedDataProvider& fdp, Run run) {
    live_source live(fdp);
    trace in_reads = run(live);
    if (in_reads.tls) return;
    replay_source whole(live);
    trace at_once = run(whole);
    check_same_trace(in_reads, at_once, "the same client bytes in other reads led to other actions");
}

} // namespace mailgate::fuzz
