// Transcript runner for the client-facing server codecs: scripts of expected writes, fed bytes, login
// outcomes and the hand-over to the relay, run whole, split at every offset, and one byte at a time
// (DESIGN.md "Tests").
#pragma once

#include "protocols/common/server_codec.hpp"
#include "protocols/smtp/server.hpp"
#include "tests/protocols/action_view.hpp"
#include "tests/protocols/transcript.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace mailgate::test::server_transcript {

// What the runner drives: any server codec through the shared contract, and the SMTP codec's transaction steps.
class server_codec {
public:
    virtual ~server_codec() = default;
    virtual action_view next() = 0;
    virtual protocols::server_codec& contract() = 0;
    virtual protocols::smtp::server* smtp() { return nullptr; }
};

template <class Codec> class server_codec_adapter final : public server_codec {
public:
    template <class... Args>
    explicit server_codec_adapter(Args&&... args) : codec_(std::forward<Args>(args)...) {}

    action_view next() override { return view_of(codec_.next()); }
    protocols::server_codec& contract() override { return codec_; }
    protocols::smtp::server* smtp() override {
        if constexpr (std::is_same_v<Codec, protocols::smtp::server>)
            return &codec_;
        else
            return nullptr;
    }

    Codec& codec() { return codec_; }

private:
    Codec codec_;
};

using server_codec_factory = std::function<std::unique_ptr<server_codec>()>;

// A factory building a fresh `Codec(args...)` for every run.
template <class Codec, class... Args> server_codec_factory make_server_codec(Args... args) {
    return [=] { return std::make_unique<server_codec_adapter<Codec>>(args...); };
}

struct step {
    enum class kind {
        expect_write,
        feed,
        feed_whole,
        feed_eof,
        expect_start_tls,
        expect_authenticate,
        expect_relay,
        expect_close,
        check,
        // SMTP transactions:
        expect_select_account,
        expect_upstream_command,
        expect_upstream_data,
        expect_upstream_abort,
        fail_upstream_data
    };

    kind what;
    std::string bytes{};                     // expect_write, feed, feed_whole; expect_relay: pipelined
    std::string user{};                      // expect_authenticate
    std::string password{};                  // expect_authenticate
    int outcome = 0;                         // expect_authenticate: reported via login_result()
    protocols::login_proof proof{};          // expect_authenticate: what password() is (default: itself)
    std::vector<std::string> capabilities{}; // expect_authenticate: the provider's, for login_result()
                                             // expect_select_account: for account_result()
    std::optional<std::string> reply{};      // expect_upstream_command: wire text; none: it fails
    bool prefix_only = false;                // expect_upstream_data: `bytes` may be cut short
    protocols::session_errc error{};         // expect_close
    std::function<void(server_codec&)> check_fn{}; // check
};

// next() must be `write` with exactly these bytes; the runner then calls wrote().
step expect_write(std::string bytes);
// next() must be `read` before each piece; the bytes may arrive whole, in two pieces, or byte by byte. So one
// feed holds only what the codec reads before its next other action.
step feed(std::string bytes);
// Like feed, but always delivered in one read: for inputs whose meaning depends on arriving together
// (pipelined commands, bytes after STLS: CVE-2011-0411).
step feed_whole(std::string bytes);
// next() must be `read`; the client closes (received() with no bytes).
step feed_eof();
// next() must be `start_tls`; the runner then calls tls_started().
step expect_start_tls();
// next() must be `authenticate` with user() and password() as given; the runner reports `outcome` through
// login_result() (with `provider_capabilities` where the codec takes them) and then requires password() to be
// forgotten.
template <class Outcome>
step expect_authenticate(std::string user, std::string password, Outcome outcome,
                         std::vector<std::string> provider_capabilities = {}) {
    return {.what = step::kind::expect_authenticate,
            .user = std::move(user),
            .password = std::move(password),
            .outcome = static_cast<int>(outcome),
            .capabilities = std::move(provider_capabilities)};
}
// Like expect_authenticate for an APOP or CRAM-MD5 login: password() is the client's digest and proof() must be
// `proof` (the kind and the exact challenge the digest covers).
template <class Outcome>
step expect_challenge_login(std::string user, std::string digest, protocols::login_proof proof,
                            Outcome outcome, std::vector<std::string> provider_capabilities = {}) {
    auto s =
        expect_authenticate(std::move(user), std::move(digest), outcome, std::move(provider_capabilities));
    s.proof = std::move(proof);
    return s;
}
// next() must be `relay` (twice: it is sticky) and take_pipelined() must return exactly `pipelined`.
step expect_relay(std::string pipelined = {});
// next() must be `close` (twice: the codec stays closed) with error() == e.
step expect_close(protocols::session_errc e);

// ---- SMTP transactions ----
// The runner answers `upstream_data` chunks (upstream_written()) and notes `upstream_abort` on its own,
// wherever they come: how DATA is cut into chunks, and when a refusal is noticed, depend on how the input
// arrives. expect_upstream_data / expect_upstream_abort then check what was collected; any other step fails
// while collected data or aborts are unchecked.

// next() must be `select_account` with sender() as given; the runner answers through account_result().
template <class Outcome>
step expect_select_account(std::string sender, Outcome outcome,
                           std::vector<std::string> provider_extensions = {}) {
    return {.what = step::kind::expect_select_account,
            .user = std::move(sender),
            .outcome = static_cast<int>(outcome),
            .capabilities = std::move(provider_extensions)};
}
// next() must be `upstream_command` with exactly `line` (empty: `upstream_verdict`, the reply to the end of
// DATA); the runner answers
// with upstream_reply() of `reply`, given as the provider's wire text ("250-a\r\n250 b\r\n").
step expect_upstream_command(std::string line, std::string reply);
// Like expect_upstream_command, but the provider connection fails: the runner calls upstream_failed().
step expect_upstream_command_fails(std::string line);
// The upstream_data chunks collected since the last such step, concatenated, must be exactly `bytes`.
step expect_upstream_data(std::string bytes);
// Like expect_upstream_data, but the collected data may be any prefix of `bytes` (also none): for a message
// refused midway, where how much went out first depends on the delivery.
step expect_upstream_data_prefix(std::string bytes);
// Exactly one upstream_abort must have come since the last such step.
step expect_upstream_abort();
// The next upstream_data chunk fails (upstream_failed()); what was collected so far is dropped unchecked,
// since where the failure falls depends on the delivery.
step fail_upstream_data();

// Runs `fn` on the codec at this point of the script; use gtest assertions inside.
template <class Codec> step check(std::function<void(Codec&)> fn) {
    return {.what = step::kind::check, .check_fn = [fn = std::move(fn)](server_codec& c) {
                fn(dynamic_cast<server_codec_adapter<Codec>&>(c).codec());
            }};
}

// Runs the script whole, once per (feed step, split offset), then byte by byte, each with a fresh codec from
// `make`. The first diverging run is reported as a gtest failure naming the mode, step and offset. Returns
// true when every run passed.
bool run_transcript(const server_codec_factory& make, const std::vector<step>& script);

} // namespace mailgate::test::server_transcript
