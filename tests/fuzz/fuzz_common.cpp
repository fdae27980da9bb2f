// Shared pieces of the codec fuzzers: violation reports, escaping, framing checks, reads and answers.
#include "tests/fuzz/fuzz_common.hpp"

#include "protocols/common/base64.hpp"
#include "tests/fuzz/pre_login_driver.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace mailgate::fuzz {

void violation(const char* file, int line, const char* what, std::string_view detail) {
    std::fprintf(stderr, "\n==== codec invariant violated at %s:%d\n==== %s\n", file, line, what);
    if (!detail.empty()) std::fprintf(stderr, "==== %s\n", escape(detail).c_str());
    std::fflush(stderr);
    std::abort();
}

std::string escape(std::string_view bytes, std::size_t cap) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (char c : bytes) {
        if (out.size() >= cap) {
            out += "...";
            break;
        }
        auto u = static_cast<unsigned char>(c);
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\\')
            out += "\\\\";
        else if (u >= 0x20 && u < 0x7f)
            out += c;
        else {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

flat_action flatten(const test::action_view& a) {
    static constexpr std::pair<std::string_view, action_kind> names[] = {
        {"read", action_kind::read},
        {"write", action_kind::write},
        {"start_tls", action_kind::start_tls},
        {"done", action_kind::done},
        {"failed", action_kind::close},
        {"close", action_kind::close},
        {"authenticate", action_kind::authenticate},
        {"relay", action_kind::relay},
        {"select_account", action_kind::select_account},
        {"upstream_command", action_kind::upstream_command},
        {"upstream_data", action_kind::upstream_data},
        {"upstream_verdict", action_kind::upstream_verdict},
        {"upstream_abort", action_kind::upstream_abort},
        {"message_chunk", action_kind::message_chunk},
    };
    for (auto [name, kind] : names)
        if (a.kind == name) return {kind, a.bytes};
    violation(__FILE__, __LINE__, "an action without a name", std::string(a.kind));
}

const char* kind_name(action_kind k) {
    switch (k) {
    case action_kind::read: return "read";
    case action_kind::write: return "write";
    case action_kind::start_tls: return "start_tls";
    case action_kind::done: return "done";
    case action_kind::close: return "close";
    case action_kind::authenticate: return "authenticate";
    case action_kind::relay: return "relay";
    case action_kind::select_account: return "select_account";
    case action_kind::upstream_command: return "upstream_command";
    case action_kind::upstream_data: return "upstream_data";
    case action_kind::upstream_verdict: return "upstream_verdict";
    case action_kind::upstream_abort: return "upstream_abort";
    case action_kind::message_chunk: return "message_chunk";
    }
    return "?";
}

void note(std::string_view what, std::string_view bytes) {
    static const bool on = std::getenv("MAILGATE_FUZZ_TRACE") != nullptr;
    if (!on) return;
    std::fprintf(stderr, "  %.*s %s\n", static_cast<int>(what.size()), what.data(),
                 escape(bytes, 300).c_str());
}

bool strict_line_ends(std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] == '\r' && (i + 1 == bytes.size() || bytes[i + 1] != '\n')) return false;
        if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) return false;
    }
    return true;
}

void check_lines(std::string_view bytes, line_bytes allowed, const char* who) {
    FUZZ_CHECK(!bytes.empty(), who);
    FUZZ_CHECK(bytes.ends_with("\r\n"),
               std::string(who) + ": output does not end with CRLF: " + std::string(bytes));
    FUZZ_CHECK(strict_line_ends(bytes),
               std::string(who) + ": bare CR or LF in output: " + std::string(bytes));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        auto u = static_cast<unsigned char>(bytes[i]);
        if (bytes[i] == '\r' || bytes[i] == '\n') continue;
        bool bad = allowed == line_bytes::printable ? (u < 0x20 || u == 0x7f) : u == 0;
        FUZZ_CHECK(!bad, std::string(who) + ": forbidden byte in a line: " + std::string(bytes));
    }
}

std::size_t read_size(std::uint8_t control) {
    if (control == 0) return SIZE_MAX;
    if (control < 128) return control;
    return static_cast<std::size_t>(control - 127) * 64;
}

std::string live_source::read() {
    if (closed_) return {};
    auto n = read_size(fdp_.ConsumeIntegral<std::uint8_t>());
    std::string bytes = fdp_.ConsumeBytesAsString(std::min(n, fdp_.remaining_bytes()));
    if (bytes.empty()) closed_ = true;
    fed_ += bytes;
    return bytes;
}

std::uint8_t live_source::choose() {
    auto v = fdp_.ConsumeIntegral<std::uint8_t>();
    answers_.push_back(v);
    return v;
}

std::string live_source::take_text(std::size_t max) {
    auto n = fdp_.ConsumeIntegralInRange<std::size_t>(0, max);
    return fdp_.ConsumeBytesAsString(n);
}

std::string replay_source::read() {
    if (sent_ || bytes_.empty()) {
        // A replay asked for more than the live run needed: it diverged; the trace comparison says how.
        return {};
    }
    sent_ = true;
    return bytes_;
}

std::uint8_t replay_source::choose() { return next_answer_ < answers_.size() ? answers_[next_answer_++] : 0; }

void trace::event(std::string_view name, std::string_view detail) {
    text += "\x01[";
    text += name;
    if (!detail.empty()) {
        text += ' ';
        text += detail;
    }
    text += "]\x01";
}

void check_same_trace(const trace& a, const trace& b, const char* what) {
    if (a.text == b.text) return;
    auto at = static_cast<std::size_t>(
        std::mismatch(a.text.begin(), a.text.end(), b.text.begin(), b.text.end()).first - a.text.begin());
    auto from = at > 200 ? at - 200 : 0;
    std::string detail = "first difference at byte " + std::to_string(at) +
                         "\n  in reads: " + escape(std::string_view(a.text).substr(from, 400)) +
                         "\n  whole:    " + escape(std::string_view(b.text).substr(from, 400));
    std::fprintf(stderr, "\n==== %s\n==== %s\n", what, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

bool user_occurs_in(std::string_view user, std::string_view bytes) {
    if (bytes.find(user) != std::string_view::npos) return true;
    auto base64_char = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
               c == '/' || c == '=';
    };
    for (std::size_t i = 0; i < bytes.size();) {
        while (i < bytes.size() && !base64_char(bytes[i])) ++i;
        auto start = i;
        while (i < bytes.size() && base64_char(bytes[i])) ++i;
        if (i == start) continue;
        auto decoded = protocols::base64_decode(bytes.substr(start, i - start));
        if (decoded && decoded->find(user) != std::string::npos) return true;
    }
    return false;
}

} // namespace mailgate::fuzz
