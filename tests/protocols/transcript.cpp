// Executes codec transcripts in the three delivery modes of DESIGN.md "Tests" and reports where they diverge.
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

#include <cstdio>

namespace mailgate::test {
namespace {

std::string describe(const action_view& a, const protocols::upstream_codec& codec) {
    std::string out(a.kind);
    if (a.kind == "write") out += " \"" + escape_bytes(a.bytes) + "\"";
    if (a.kind == "failed") {
        out += " (error: " + codec.error().message() + ", diagnostics: \"" + codec.diagnostics() + "\")";
    }
    return out;
}

int failed_part_count() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    if (info == nullptr) return 0;
    int n = 0;
    for (int i = 0; i < info->result()->total_part_count(); ++i) {
        if (info->result()->GetTestPartResult(i).failed()) ++n;
    }
    return n;
}

std::optional<run_failure> run_once(const codec_factory& make, const std::vector<step>& script,
                                    const delivery_mode& m) {
    auto codec = make();
    auto expect_kind = [&](std::string_view want, const char* why) -> std::optional<std::string> {
        auto a = view_of(codec->next());
        if (a.kind == want) return std::nullopt;
        return "expected " + std::string(want) + why + ", got " + describe(a, *codec);
    };

    for (std::size_t i = 0; i < script.size(); ++i) {
        const step& s = script[i];
        switch (s.what) {
        case step::kind::expect_write: {
            auto a = view_of(codec->next());
            if (a.kind != "write" || a.bytes != s.bytes) {
                return run_failure{i, "expected write \"" + escape_bytes(s.bytes) + "\", got " +
                                          describe(a, *codec)};
            }
            codec->wrote();
            break;
        }
        case step::kind::feed:
        case step::kind::feed_whole:
            if (auto err = feed_in_pieces(s.bytes, s.what == step::kind::feed, i, m, expect_kind,
                                          [&](std::string_view piece) { codec->received(piece); }))
                return run_failure{i, *err};
            break;
        case step::kind::feed_eof:
            if (auto err = expect_kind("read", " (before EOF)")) return run_failure{i, *err};
            codec->received({});
            break;
        case step::kind::expect_start_tls:
            if (auto err = expect_kind("start_tls", "")) return run_failure{i, *err};
            codec->tls_started();
            break;
        case step::kind::expect_done:
            if (auto err = expect_kind("done", "")) return run_failure{i, *err};
            break;
        case step::kind::expect_close: {
            if (auto err = expect_sticky(expect_kind, "failed")) return run_failure{i, *err};
            if (auto err = wrong_close_error(codec->error(), protocols::make_error_code(s.error)))
                return run_failure{i, *err + " (diagnostics: \"" + codec->diagnostics() + "\")"};
            if (s.diagnostics && codec->diagnostics() != *s.diagnostics) {
                return run_failure{i, "expected diagnostics \"" + escape_bytes(*s.diagnostics) +
                                          "\", got \"" + escape_bytes(codec->diagnostics()) + "\""};
            }
            break;
        }
        case step::kind::logout: codec->logout(); break;
        case step::kind::check:
            if (check_fails([&] { s.check_fn(*codec); }, i, m))
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
step expect_start_tls() { return {.what = step::kind::expect_start_tls}; }
step expect_done() { return {.what = step::kind::expect_done}; }
step expect_close(protocols::upstream_errc e, std::optional<std::string> diagnostics) {
    return {.what = step::kind::expect_close, .error = e, .diagnostics = std::move(diagnostics)};
}
step logout() { return {.what = step::kind::logout}; }

bool run_transcript(const codec_factory& make, const std::vector<step>& script) {
    std::vector<step_outline> outline;
    for (const auto& s : script) outline.push_back({s.bytes, s.what == step::kind::feed});
    return run_in_every_mode(outline, [&](const delivery_mode& m) { return run_once(make, script, m); });
}

std::string delivery_mode::describe() const {
    switch (what) {
    case kind::whole: return "whole";
    case kind::split:
        return "split (step " + std::to_string(split_step) + " at offset " + std::to_string(offset) + ")";
    case kind::bytewise: return "byte-by-byte";
    }
    return "?";
}

std::optional<std::string> feed_in_pieces(const std::string& bytes, bool splittable, std::size_t index,
                                          const delivery_mode& m, const expect_kind_fn& expect_kind,
                                          const std::function<void(std::string_view)>& receive) {
    std::size_t delivered = 0;
    for (auto piece : pieces_of(bytes, splittable, index, m)) {
        if (auto err = expect_kind("read", ""))
            return *err + " before delivering byte offset " + std::to_string(delivered) + " of \"" +
                   escape_bytes(bytes) + "\"";
        receive(piece);
        delivered += piece.size();
    }
    return std::nullopt;
}

std::optional<std::string> expect_sticky(const expect_kind_fn& expect_kind, std::string_view kind) {
    std::string again = " again (" + std::string(kind) + " must be sticky)";
    for (int repeat = 0; repeat < 2; ++repeat)
        if (auto err = expect_kind(kind, repeat == 0 ? "" : again.c_str())) return err;
    return std::nullopt;
}

std::optional<std::string> wrong_close_error(std::error_code got, std::error_code want) {
    if (got == want) return std::nullopt;
    return "expected close with error \"" + want.message() + "\", got \"" + got.message() + "\"";
}

std::vector<std::string_view> pieces_of(std::string_view bytes, bool splittable, std::size_t index,
                                        const delivery_mode& m) {
    if (!splittable || bytes.size() < 2) return {bytes};
    switch (m.what) {
    case delivery_mode::kind::whole: return {bytes};
    case delivery_mode::kind::split:
        if (index != m.split_step) return {bytes};
        return {bytes.substr(0, m.offset), bytes.substr(m.offset)};
    case delivery_mode::kind::bytewise: {
        std::vector<std::string_view> out;
        for (std::size_t i = 0; i < bytes.size(); ++i) out.push_back(bytes.substr(i, 1));
        return out;
    }
    }
    return {bytes};
}

bool run_in_every_mode(const std::vector<step_outline>& outline,
                       const std::function<std::optional<run_failure>(const delivery_mode&)>& run_once) {
    std::vector<delivery_mode> modes{{delivery_mode::kind::whole}};
    for (std::size_t i = 0; i < outline.size(); ++i) {
        if (!outline[i].splittable) continue;
        for (std::size_t offset = 1; offset < outline[i].bytes.size(); ++offset)
            modes.push_back({delivery_mode::kind::split, i, offset});
    }
    modes.push_back({delivery_mode::kind::bytewise});

    for (const auto& m : modes) {
        if (auto failure = run_once(m)) {
            std::string_view bytes = outline[failure->step_index].bytes;
            ADD_FAILURE() << "transcript diverged in mode " << m.describe() << " at step "
                          << failure->step_index
                          << (bytes.empty() ? "" : " (\"" + escape_bytes(bytes) + "\")") << ": "
                          << failure->message << "\n(later runs skipped)";
            return false;
        }
    }
    return true;
}

bool check_fails(const std::function<void()>& fn, std::size_t index, const delivery_mode& m) {
    SCOPED_TRACE("transcript check at step " + std::to_string(index) + ", mode " + m.describe());
    int before = failed_part_count();
    fn();
    return failed_part_count() > before;
}

std::string escape_bytes(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) {
        switch (c) {
        case '\r': out += "\\r"; break;
        case '\n': out += "\\n"; break;
        case '\\': out += "\\\\"; break;
        case '"': out += "\\\""; break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                out += static_cast<char>(c);
            } else {
                char hex[5];
                std::snprintf(hex, sizeof hex, "\\x%02x", c);
                out += hex;
            }
        }
    }
    return out;
}

} // namespace mailgate::test
