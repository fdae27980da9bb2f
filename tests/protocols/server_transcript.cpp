// Executes server-codec transcripts in the three delivery modes of DESIGN.md "Tests", playing the driver loop
// of a session (write/read/start_tls/authenticate/relay/close).
#include "tests/protocols/server_transcript.hpp"

#include <gtest/gtest.h>

namespace mailgate::test::server_transcript {
namespace {

using protocols::action;
using protocols::action_kind;

std::string describe(const action& a, const server_codec& codec) {
    std::string out = kind_name(a.kind);
    if (a.kind == action_kind::write)
        out += " \"" + escape_bytes(a.bytes) + "\"";
    if (a.kind == action_kind::close)
        out += " (error: " + codec.error().message() + ")";
    return out;
}

std::optional<run_failure> run_once(const server_codec_factory& make, const std::vector<step>& script,
                                    const delivery_mode& m) {
    auto codec = make();
    auto expect_kind = [&](action_kind want, const char* why) -> std::optional<std::string> {
        action a = codec->next();
        if (a.kind == want)
            return std::nullopt;
        return std::string("expected ") + kind_name(want) + why + ", got " + describe(a, *codec);
    };

    for (std::size_t i = 0; i < script.size(); ++i) {
        const step& s = script[i];
        switch (s.what) {
        case step::kind::expect_write: {
            action a = codec->next();
            if (a.kind != action_kind::write || a.bytes != s.bytes) {
                return run_failure{i, "expected write \"" + escape_bytes(s.bytes) + "\", got " +
                                          describe(a, *codec)};
            }
            codec->wrote();
            break;
        }
        case step::kind::feed:
        case step::kind::feed_whole: {
            std::size_t delivered = 0;
            for (auto piece : pieces_of(s.bytes, s.what == step::kind::feed, i, m)) {
                if (auto err = expect_kind(action_kind::read, "")) {
                    return run_failure{i, *err + " before delivering byte offset " +
                                              std::to_string(delivered) + " of \"" + escape_bytes(s.bytes) +
                                              "\""};
                }
                codec->received(piece);
                delivered += piece.size();
            }
            break;
        }
        case step::kind::feed_eof:
            if (auto err = expect_kind(action_kind::read, " (before EOF)"))
                return run_failure{i, *err};
            codec->received({});
            break;
        case step::kind::expect_start_tls:
            if (auto err = expect_kind(action_kind::start_tls, ""))
                return run_failure{i, *err};
            codec->tls_started();
            break;
        case step::kind::expect_authenticate:
            if (auto err = expect_kind(action_kind::authenticate, ""))
                return run_failure{i, *err};
            if (codec->user() != s.user || codec->password() != s.password) {
                return run_failure{i, "expected credential \"" + escape_bytes(s.user) + "\" / \"" +
                                          escape_bytes(s.password) + "\", got \"" +
                                          escape_bytes(codec->user()) + "\" / \"" +
                                          escape_bytes(codec->password()) + "\""};
            }
            codec->login_result(s.outcome);
            if (!codec->password().empty())
                return run_failure{i, "the password must be forgotten once the login outcome is known"};
            break;
        case step::kind::expect_relay: {
            for (int repeat = 0; repeat < 2; ++repeat) {
                if (auto err =
                        expect_kind(action_kind::relay, repeat == 0 ? "" : " again (relay must be sticky)"))
                    return run_failure{i, *err};
            }
            std::string pipelined = codec->take_pipelined();
            if (pipelined != s.bytes) {
                return run_failure{i, "expected pipelined bytes \"" + escape_bytes(s.bytes) + "\", got \"" +
                                          escape_bytes(pipelined) + "\""};
            }
            break;
        }
        case step::kind::expect_close: {
            auto want = protocols::make_error_code(s.error);
            for (int repeat = 0; repeat < 2; ++repeat) {
                if (auto err =
                        expect_kind(action_kind::close, repeat == 0 ? "" : " again (close must be sticky)"))
                    return run_failure{i, *err};
            }
            if (codec->error() != want) {
                return run_failure{i, "expected close with error \"" + want.message() + "\", got \"" +
                                          codec->error().message() + "\""};
            }
            break;
        }
        case step::kind::check:
            if (check_fails([&] { s.check_fn(*codec); }, i, m))
                return run_failure{i, "check failed (see above)"};
            break;
        }
    }
    return std::nullopt;
}

} // namespace

step expect_write(std::string bytes) {
    return {.what = step::kind::expect_write, .bytes = std::move(bytes)};
}
step feed(std::string bytes) {
    return {.what = step::kind::feed, .bytes = std::move(bytes)};
}
step feed_whole(std::string bytes) {
    return {.what = step::kind::feed_whole, .bytes = std::move(bytes)};
}
step feed_eof() {
    return {.what = step::kind::feed_eof};
}
step expect_start_tls() {
    return {.what = step::kind::expect_start_tls};
}
step expect_relay(std::string pipelined) {
    return {.what = step::kind::expect_relay, .bytes = std::move(pipelined)};
}
step expect_close(protocols::session_errc e) {
    return {.what = step::kind::expect_close, .error = e};
}

bool run_transcript(const server_codec_factory& make, const std::vector<step>& script) {
    std::vector<step_outline> outline;
    for (const auto& s : script) {
        // expect_relay's bytes are an expectation, not input: only feed steps are split.
        outline.push_back({s.bytes, s.what == step::kind::feed});
    }
    return run_in_every_mode(outline, [&](const delivery_mode& m) { return run_once(make, script, m); });
}

} // namespace mailgate::test::server_transcript
