// Executes server-codec transcripts in the three delivery modes of DESIGN.md "Tests", playing the driver loop
// of a session (write/read/start_tls/authenticate/relay/close, and SMTP's account and upstream steps).
#include "tests/protocols/server_transcript.hpp"

#include <gtest/gtest.h>

namespace mailgate::test::server_transcript {
namespace {

using action = action_view;

std::string describe(const action& a, server_codec& codec) {
    std::string out(a.kind);
    if (a.kind == "write" || a.kind == "upstream_command") out += " \"" + escape_bytes(a.bytes) + "\"";
    if (a.kind == "close") out += " (error: " + codec.contract().error().message() + ")";
    return out;
}

// A provider reply given as wire text, assembled as smtp::client would.
std::optional<protocols::smtp::reply> parse_reply(std::string_view wire) {
    protocols::smtp::reply_assembler assembler;
    while (!wire.empty()) {
        auto end = wire.find("\r\n");
        if (end == std::string_view::npos) return std::nullopt;
        auto r = assembler.feed(wire.substr(0, end));
        wire.remove_prefix(end + 2);
        if (r == protocols::smtp::reply_assembler::result::malformed) return std::nullopt;
        if (r == protocols::smtp::reply_assembler::result::complete)
            return wire.empty() ? std::optional(assembler.take()) : std::nullopt;
    }
    return std::nullopt;
}

// The driver's side of SMTP DATA: answers upstream_data chunks and notes aborts as they come, so that the
// script can check their sum whatever the delivery mode.
struct upstream_tracker {
    std::string data;             // chunks written since the last expect_upstream_data
    unsigned aborts = 0;          // since the last expect_upstream_abort
    bool fail_next_data = false;  // fail_upstream_data
    std::optional<action> peeked; // pulled by expect_upstream_data/abort for the next step

    std::optional<std::string> unchecked() const {
        if (!data.empty())
            return "upstream data \"" + escape_bytes(data) + "\" was not checked by expect_upstream_data";
        if (aborts > 0) return "an upstream_abort was not checked by expect_upstream_abort";
        return std::nullopt;
    }
};

std::optional<run_failure> run_once(const server_codec_factory& make, const std::vector<step>& script,
                                    const delivery_mode& m) {
    auto codec = make();
    upstream_tracker up;
    auto next_action = [&]() -> action {
        if (up.peeked) {
            action a = *up.peeked;
            up.peeked.reset();
            return a;
        }
        for (;;) {
            action a = codec->next();
            if (a.kind == "upstream_abort") {
                ++up.aborts;
            } else if (a.kind == "upstream_data" && up.fail_next_data) {
                up.fail_next_data = false;
                up.data.clear();
                codec->smtp()->upstream_failed();
            } else if (a.kind == "upstream_data") {
                up.data.append(a.bytes);
                codec->smtp()->upstream_written();
            } else {
                return a;
            }
        }
    };
    // Steps other than feeds, checks and the upstream checks first require everything collected to be
    // checked.
    auto next_settled = [&](action& a) -> std::optional<std::string> {
        a = next_action();
        if (auto err = up.unchecked()) return *err + "; then came " + describe(a, *codec);
        return std::nullopt;
    };
    auto expect_kind = [&](std::string_view want, const char* why) -> std::optional<std::string> {
        action a{};
        if (auto err = next_settled(a)) return err;
        if (a.kind == want) return std::nullopt;
        return "expected " + std::string(want) + why + ", got " + describe(a, *codec);
    };
    auto& c = codec->contract();

    for (std::size_t i = 0; i < script.size(); ++i) {
        const step& s = script[i];
        switch (s.what) {
        case step::kind::expect_write: {
            action a{};
            if (auto err = next_settled(a)) return run_failure{i, *err};
            if (a.kind != "write" || a.bytes != s.bytes) {
                return run_failure{i, "expected write \"" + escape_bytes(s.bytes) + "\", got " +
                                          describe(a, *codec)};
            }
            c.wrote();
            break;
        }
        case step::kind::feed:
        case step::kind::feed_whole: {
            // DATA in flight may be cut into chunks between the pieces: collected, not settled.
            auto read_next = [&](std::string_view, const char*) -> std::optional<std::string> {
                action a = next_action();
                if (a.kind == "read") return std::nullopt;
                return "expected read, got " + describe(a, *codec);
            };
            if (auto err = feed_in_pieces(s.bytes, s.what == step::kind::feed, i, m, read_next,
                                          [&](std::string_view piece) { c.received(piece); }))
                return run_failure{i, *err};
            break;
        }
        case step::kind::feed_eof:
            if (auto err = expect_kind("read", " (before EOF)")) return run_failure{i, *err};
            c.received({});
            break;
        case step::kind::expect_start_tls:
            if (auto err = expect_kind("start_tls", "")) return run_failure{i, *err};
            c.tls_started();
            break;
        case step::kind::expect_authenticate:
            if (auto err = expect_kind("authenticate", "")) return run_failure{i, *err};
            if (c.user() != s.user || c.password() != s.password) {
                return run_failure{i, "expected credential \"" + escape_bytes(s.user) + "\" / \"" +
                                          escape_bytes(s.password) + "\", got \"" + escape_bytes(c.user()) +
                                          "\" / \"" + escape_bytes(c.password()) + "\""};
            }
            if (c.proof().kind != s.proof.kind || c.proof().challenge != s.proof.challenge) {
                return run_failure{i, "expected the login proof of challenge \"" +
                                          escape_bytes(s.proof.challenge) + "\", got \"" +
                                          escape_bytes(c.proof().challenge) + "\" (or another kind)"};
            }
            c.login_result(static_cast<protocols::login_outcome>(s.outcome), s.capabilities);
            if (!c.password().empty())
                return run_failure{i, "the password must be forgotten once the login outcome is known"};
            break;
        case step::kind::expect_relay: {
            if (auto err = expect_sticky(expect_kind, "relay")) return run_failure{i, *err};
            std::string pipelined = c.take_pipelined();
            if (pipelined != s.bytes) {
                return run_failure{i, "expected pipelined bytes \"" + escape_bytes(s.bytes) + "\", got \"" +
                                          escape_bytes(pipelined) + "\""};
            }
            break;
        }
        case step::kind::expect_close: {
            if (auto err = expect_sticky(expect_kind, "close")) return run_failure{i, *err};
            if (auto err = wrong_close_error(c.error(), protocols::make_error_code(s.error)))
                return run_failure{i, *err};
            break;
        }
        case step::kind::check:
            if (check_fails([&] { s.check_fn(*codec); }, i, m))
                return run_failure{i, "check failed (see above)"};
            break;
        case step::kind::expect_select_account:
            if (auto err = expect_kind("select_account", "")) return run_failure{i, *err};
            if (codec->smtp()->sender() != s.user) {
                return run_failure{i, "expected sender \"" + escape_bytes(s.user) + "\", got \"" +
                                          escape_bytes(codec->smtp()->sender()) + "\""};
            }
            if (c.proof().kind != s.proof.kind || c.proof().challenge != s.proof.challenge) {
                return run_failure{i, "expected the login proof of challenge \"" +
                                          escape_bytes(s.proof.challenge) + "\", got \"" +
                                          escape_bytes(c.proof().challenge) + "\" (or another kind)"};
            }
            c.login_result(static_cast<protocols::login_outcome>(s.outcome), s.capabilities);
            break;
        case step::kind::expect_upstream_command: {
            action a{};
            if (auto err = next_settled(a)) return run_failure{i, *err};
            // The reply to the end of DATA is read without a command of its own.
            bool matches = s.bytes.empty() ? a.kind == "upstream_verdict"
                                           : a.kind == "upstream_command" && a.bytes == s.bytes;
            if (!matches) {
                return run_failure{i, "expected upstream_command \"" + escape_bytes(s.bytes) + "\", got " +
                                          describe(a, *codec)};
            }
            if (!s.reply) {
                codec->smtp()->upstream_failed();
                break;
            }
            auto r = parse_reply(*s.reply);
            if (!r)
                return run_failure{i, "the script's reply \"" + escape_bytes(*s.reply) + "\" is malformed"};
            codec->smtp()->upstream_reply(*r);
            break;
        }
        case step::kind::expect_upstream_data:
            up.peeked = next_action();
            if (s.prefix_only ? !s.bytes.starts_with(up.data) : up.data != s.bytes) {
                return run_failure{
                    i, std::string("expected upstream data ") + (s.prefix_only ? "a prefix of " : "") + "\"" +
                           escape_bytes(s.bytes) + "\", got \"" + escape_bytes(up.data) + "\""};
            }
            up.data.clear();
            break;
        case step::kind::expect_upstream_abort:
            up.peeked = next_action();
            if (up.aborts != 1) {
                return run_failure{i, "expected one upstream_abort, got " + std::to_string(up.aborts)};
            }
            up.aborts = 0;
            break;
        case step::kind::fail_upstream_data: up.fail_next_data = true; break;
        }
    }
    return std::nullopt;
}

} // namespace

step expect_write(std::string bytes) { return {.what = step::kind::expect_write, .bytes = std::move(bytes)}; }
step feed(std::string bytes) { return {.what = step::kind::feed, .bytes = std::move(bytes)}; }
step feed_whole(std::string bytes) { return {.what = step::kind::feed_whole, .bytes = std::move(bytes)}; }
step feed_eof() { return {.what = step::kind::feed_eof}; }
step expect_start_tls() { return {.what = step::kind::expect_start_tls}; }
step expect_relay(std::string pipelined) {
    return {.what = step::kind::expect_relay, .bytes = std::move(pipelined)};
}
step expect_close(protocols::session_errc e) { return {.what = step::kind::expect_close, .error = e}; }
step expect_upstream_command(std::string line, std::string reply) {
    return {.what = step::kind::expect_upstream_command, .bytes = std::move(line), .reply = std::move(reply)};
}
step expect_upstream_command_fails(std::string line) {
    return {.what = step::kind::expect_upstream_command, .bytes = std::move(line)};
}
step expect_upstream_data(std::string bytes) {
    return {.what = step::kind::expect_upstream_data, .bytes = std::move(bytes)};
}
step expect_upstream_data_prefix(std::string bytes) {
    return {.what = step::kind::expect_upstream_data, .bytes = std::move(bytes), .prefix_only = true};
}
step expect_upstream_abort() { return {.what = step::kind::expect_upstream_abort}; }
step fail_upstream_data() { return {.what = step::kind::fail_upstream_data}; }

bool run_transcript(const server_codec_factory& make, const std::vector<step>& script) {
    std::vector<step_outline> outline;
    for (const auto& s : script) {
        // expect_relay's bytes are an expectation, not input: only feed steps are split.
        outline.push_back({s.bytes, s.what == step::kind::feed});
    }
    return run_in_every_mode(outline, [&](const delivery_mode& m) { return run_once(make, script, m); });
}

} // namespace mailgate::test::server_transcript
