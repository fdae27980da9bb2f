// Executes maildrop transcripts in the three delivery modes of DESIGN.md "Tests", playing the session: it writes,
// reads, streams messages in as the provider would, and answers the commit.
#include "tests/protocols/maildrop_transcript.hpp"

#include "tests/protocols/action_view.hpp"

#include <gtest/gtest.h>

namespace mailgate::test::maildrop_transcript {
namespace {

using protocols::maildrop_action;
using protocols::maildrop_step;
using protocols::pop3::maildrop;

std::string describe(const maildrop_action& a, const maildrop& codec) {
    auto v = view_of(a);
    std::string out(v.kind);
    if (v.kind == "write") out += " \"" + escape_bytes(v.bytes) + "\"";
    if (v.kind == "close") out += " (error: " + codec.error().message() + ")";
    if (const auto* m = std::get_if<maildrop_step>(&a)) {
        if (m->what == maildrop_step::kind::retrieve) {
            out += " " + std::to_string(m->index);
            if (m->top_lines) out += " top " + std::to_string(*m->top_lines);
        } else {
            for (auto i : m->deleted) out += " " + std::to_string(i);
        }
    }
    return out;
}

bool is_retrieve(const maildrop_action& a, const step& s) {
    const auto* m = std::get_if<maildrop_step>(&a);
    return m != nullptr && m->what == maildrop_step::kind::retrieve && m->index == s.index &&
           m->top_lines == s.top_lines;
}

std::optional<run_failure> run_once(const std::vector<protocols::pop3::maildrop_message>& messages,
                                    const std::vector<step>& script,
                                    const protocols::pop3::maildrop_options& options,
                                    const delivery_mode& m) {
    maildrop codec(messages, options);
    std::optional<maildrop_action> peeked; // the action after a failed retrieve's writes
    auto next_action = [&]() -> maildrop_action {
        if (peeked) {
            auto a = std::move(*peeked);
            peeked.reset();
            return a;
        }
        return codec.next();
    };
    auto expect_kind = [&](std::string_view want, const char* why) -> std::optional<std::string> {
        auto a = next_action();
        if (view_of(a).kind == want) return std::nullopt;
        return "expected " + std::string(want) + why + ", got " + describe(a, codec);
    };

    for (std::size_t i = 0; i < script.size(); ++i) {
        const step& s = script[i];
        switch (s.what) {
        case step::kind::expect_write: {
            auto a = next_action();
            auto v = view_of(a);
            if (v.kind != "write" || v.bytes != s.bytes)
                return run_failure{i, "expected write \"" + escape_bytes(s.bytes) + "\", got " +
                                          describe(a, codec)};
            codec.wrote();
            break;
        }
        case step::kind::feed:
        case step::kind::feed_whole:
            if (auto err = feed_in_pieces(s.bytes, s.what == step::kind::feed, i, m, expect_kind,
                                          [&](std::string_view piece) { codec.received(piece); }))
                return run_failure{i, *err};
            break;
        case step::kind::feed_eof:
            if (auto err = expect_kind("read", " (before EOF)")) return run_failure{i, *err};
            codec.received({});
            break;
        case step::kind::expect_retrieve: {
            auto a = next_action();
            if (!is_retrieve(a, s)) return run_failure{i, "expected retrieve, got " + describe(a, codec)};
            std::string got;
            // Writes until the next other action, which is left in `a`.
            auto drain = [&] {
                for (;;) {
                    a = codec.next();
                    auto v = view_of(a);
                    if (v.kind != "write") return;
                    got += v.bytes;
                    codec.wrote();
                }
            };
            std::size_t delivered = 0;
            for (auto piece : pieces_of(s.bytes, true, i, m)) {
                if (piece.empty()) continue;
                codec.message_bytes(piece);
                delivered += piece.size();
                drain();
                // Another chunk of the same message, please: never a read while it streams.
                if (!is_retrieve(a, s)) {
                    return run_failure{i, "expected retrieve again after message byte offset " +
                                              std::to_string(delivered) + ", got " + describe(a, codec)};
                }
            }
            if (s.fails) {
                codec.message_failed();
                drain();
                peeked = std::move(a);
            } else {
                codec.message_end();
                a = codec.next();
                auto v = view_of(a);
                if (v.kind != "write")
                    return run_failure{i, "expected the message's end written, got " + describe(a, codec)};
                got += v.bytes;
                codec.wrote();
            }
            if (got != s.output) {
                return run_failure{i, "expected the client to get \"" + escape_bytes(s.output) +
                                          "\", got \"" + escape_bytes(got) + "\""};
            }
            break;
        }
        case step::kind::expect_commit: {
            auto a = next_action();
            const auto* c = std::get_if<maildrop_step>(&a);
            if (c == nullptr || c->what != maildrop_step::kind::commit || c->deleted != s.deleted)
                return run_failure{i, "expected commit, got " + describe(a, codec)};
            codec.commit_result(s.ok);
            break;
        }
        case step::kind::expect_close: {
            if (auto err = expect_sticky(expect_kind, "close")) return run_failure{i, *err};
            if (auto err = wrong_close_error(codec.error(), protocols::make_error_code(s.error)))
                return run_failure{i, *err};
            break;
        }
        case step::kind::check:
            if (check_fails([&] { s.check_fn(codec); }, i, m))
                return run_failure{i, "check failed (see above)"};
            break;
        }
    }
    return std::nullopt;
}

} // namespace

step expect_write(std::string bytes) { return {.what = step::kind::expect_write, .bytes = std::move(bytes)}; }
step feed(std::string bytes) { return {.what = step::kind::feed, .bytes = std::move(bytes)}; }
step feed_whole(std::string bytes) { return {.what = step::kind::feed_whole, .bytes = std::move(bytes)}; }
step feed_eof() { return {.what = step::kind::feed_eof}; }
step expect_retrieve(std::size_t index, std::optional<std::size_t> top_lines, std::string message,
                     std::string client_output) {
    return {.what = step::kind::expect_retrieve,
            .bytes = std::move(message),
            .output = std::move(client_output),
            .index = index,
            .top_lines = top_lines};
}
step expect_retrieve_failing(std::size_t index, std::optional<std::size_t> top_lines,
                             std::string message_before, std::string client_output) {
    auto s = expect_retrieve(index, top_lines, std::move(message_before), std::move(client_output));
    s.fails = true;
    return s;
}
step expect_commit(std::vector<std::size_t> deleted, bool ok) {
    return {.what = step::kind::expect_commit, .deleted = std::move(deleted), .ok = ok};
}
step expect_close(protocols::session_errc e) { return {.what = step::kind::expect_close, .error = e}; }
step check(std::function<void(protocols::pop3::maildrop&)> fn) {
    return {.what = step::kind::check, .check_fn = std::move(fn)};
}

bool run_transcript(const std::vector<protocols::pop3::maildrop_message>& messages,
                    const std::vector<step>& script, protocols::pop3::maildrop_options options) {
    std::vector<step_outline> outline;
    for (const auto& s : script) {
        // A retrieve's message is split like a feed: every chunking of the provider's bytes.
        bool splittable = s.what == step::kind::feed || s.what == step::kind::expect_retrieve;
        outline.push_back({s.bytes, splittable});
    }
    return run_in_every_mode(outline,
                             [&](const delivery_mode& m) { return run_once(messages, script, options, m); });
}

} // namespace mailgate::test::maildrop_transcript
