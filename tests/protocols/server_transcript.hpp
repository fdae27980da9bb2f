// Transcript runner for the client-facing server codecs: scripts of expected writes, fed bytes, login
// outcomes and the hand-over to the relay, run whole, split at every offset, and one byte at a time
// (DESIGN.md "Tests").
#pragma once

#include "protocols/common/action.hpp"
#include "protocols/common/session_error.hpp"
#include "protocols/smtp/reply.hpp"
#include "tests/protocols/transcript.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailgate::test::server_transcript {

// What the runner drives. Server codecs share a driver interface but no base class; server_codec_adapter
// wraps one.
class server_codec {
public:
    virtual ~server_codec() = default;
    virtual protocols::action next() = 0;
    virtual void wrote() = 0;
    virtual void received(std::string_view bytes) = 0;
    virtual void tls_started() = 0;
    virtual const std::string& user() const = 0;
    virtual const std::string& password() const = 0;
    // The codec's login_outcome enum as an int; `capabilities` reach codecs whose login_result takes the
    // provider's post-login capabilities (IMAP) or EHLO extensions (SMTP) and are ignored by the others.
    virtual void login_result(int outcome, const std::vector<std::string>& capabilities) = 0;
    virtual std::string take_pipelined() = 0;
    virtual std::error_code error() const = 0;
    // The SMTP server codec's transaction answers (it re-originates MAIL/RCPT/DATA instead of relaying);
    // `outcome` is its account_outcome enum as an int. Other codecs never ask for them.
    virtual const std::string& sender() const = 0;
    virtual void account_result(int outcome, const std::vector<std::string>& extensions) = 0;
    virtual void upstream_reply(const protocols::smtp::reply& r) = 0;
    virtual void upstream_written() = 0;
    virtual void upstream_failed() = 0;
};

namespace detail {
// The codec's login_outcome type: the first parameter of login_result (any later ones must have defaults).
template <class F> struct login_outcome_of;
template <class C, class O, class... Rest> struct login_outcome_of<void (C::*)(O, Rest...)> {
    using type = O;
};
} // namespace detail

template <class Codec> class server_codec_adapter final : public server_codec {
public:
    using outcome_type = typename detail::login_outcome_of<decltype(&Codec::login_result)>::type;

    template <class... Args>
    explicit server_codec_adapter(Args&&... args) : codec_(std::forward<Args>(args)...) {}

    protocols::action next() override { return codec_.next(); }
    void wrote() override { codec_.wrote(); }
    void received(std::string_view bytes) override { codec_.received(bytes); }
    void tls_started() override { codec_.tls_started(); }
    const std::string& user() const override { return codec_.user(); }
    const std::string& password() const override { return codec_.password(); }
    void login_result(int outcome, const std::vector<std::string>& capabilities) override {
        if constexpr (requires { codec_.login_result(outcome_type{}, capabilities); })
            codec_.login_result(static_cast<outcome_type>(outcome), capabilities);
        else if constexpr (requires { codec_.login_result(outcome_type{}, std::set<std::string>{}); })
            codec_.login_result(static_cast<outcome_type>(outcome),
                                {capabilities.begin(), capabilities.end()});
        else
            codec_.login_result(static_cast<outcome_type>(outcome));
    }
    std::string take_pipelined() override {
        if constexpr (requires { codec_.take_pipelined(); })
            return codec_.take_pipelined();
        else
            return {};
    }
    std::error_code error() const override { return codec_.error(); }
    const std::string& sender() const override {
        static const std::string none;
        if constexpr (requires { codec_.sender(); })
            return codec_.sender();
        else
            return none;
    }
    void account_result(int outcome, const std::vector<std::string>& extensions) override {
        if constexpr (requires { &Codec::account_result; }) {
            // The account_outcome type: the first parameter, as for login_result.
            using account_outcome = typename detail::login_outcome_of<decltype(&Codec::account_result)>::type;
            codec_.account_result(static_cast<account_outcome>(outcome),
                                  {extensions.begin(), extensions.end()});
        }
    }
    void upstream_reply(const protocols::smtp::reply& r) override {
        if constexpr (requires { codec_.upstream_reply(r); })
            codec_.upstream_reply(r);
    }
    void upstream_written() override {
        if constexpr (requires { codec_.upstream_written(); })
            codec_.upstream_written();
    }
    void upstream_failed() override {
        if constexpr (requires { codec_.upstream_failed(); })
            codec_.upstream_failed();
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
    std::string bytes{};                           // expect_write, feed, feed_whole; expect_relay: pipelined
    std::string user{};                            // expect_authenticate
    std::string password{};                        // expect_authenticate
    int outcome = 0;                               // expect_authenticate: reported via login_result()
    std::vector<std::string> capabilities{};       // expect_authenticate: the provider's, for login_result()
                                                   // expect_select_account: for account_result()
    std::optional<std::string> reply{};            // expect_upstream_command: wire text; none: it fails
    bool prefix_only = false;                      // expect_upstream_data: `bytes` may be cut short
    protocols::session_errc error{};               // expect_close
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
// next() must be `upstream_command` with exactly `line` (empty: only read the reply); the runner answers
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
