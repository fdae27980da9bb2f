// Shared pieces of the codec fuzzers: invariant checks that abort (so that libFuzzer reports them), reads cut
// from the fuzz input, recorded answers for repeating a run with everything in one read, and framing checks.
#pragma once

#include "protocols/common/action.hpp"
#include "tests/protocols/action_view.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::fuzz {

// Prints what broke (with `detail` escaped and capped) and aborts.
[[noreturn]] void violation(const char* file, int line, const char* what, std::string_view detail = {});

// Abort with the failed condition and an optional detail string when `cond` is false.
#define FUZZ_CHECK(cond, ...)                                                                                \
    do {                                                                                                     \
        if (!(cond)) ::mailgate::fuzz::violation(__FILE__, __LINE__, #cond __VA_OPT__(, ) __VA_ARGS__);      \
    } while (0)

// Protocol bytes in printable form: CR, LF, TAB as \r \n \t, other bytes outside 0x20..0x7e as \xNN.
std::string escape(std::string_view bytes, std::size_t cap = 600);

// Every codec action flat, as the drivers switch on it (a client codec's `failed` counts as close).
enum class action_kind {
    read,
    write,
    start_tls,
    done,
    close,
    authenticate,
    relay,
    select_account,
    upstream_command,
    upstream_data,
    upstream_verdict,
    upstream_abort,
    message_chunk // the IMAP mailbox client's body bytes
};
struct flat_action {
    action_kind kind;
    std::string_view bytes{};
};
flat_action flatten(const test::action_view& a);
template <class... Steps> flat_action flatten(const protocols::action<Steps...>& a) {
    return flatten(test::view_of(a));
}

const char* kind_name(action_kind k);

// With MAILGATE_FUZZ_TRACE set, prints each action a driver sees (to check what a seed does); else nothing.
void note(std::string_view what, std::string_view bytes = {});

// True when every CR is followed by LF and every LF preceded by CR.
bool strict_line_ends(std::string_view bytes);

// What may occur inside a line besides its CRLF.
enum class line_bytes {
    printable,    // no control byte at all (8-bit allowed): what the gateway itself says to a client
    no_cr_lf_nul, // anything but CR, LF and NUL: command lines carrying a credential toward a provider
};
// `bytes` must be one or more whole lines, each ending in CRLF, holding only `allowed` bytes.
void check_lines(std::string_view bytes, line_bytes allowed, const char* who);

// Size of the next read from a control byte: 0 everything left, 1..127 that many bytes, 128..255 64..8192.
std::size_t read_size(std::uint8_t control);

// Where a driven codec gets the peer's bytes and the answers to its questions from.
class source {
public:
    virtual ~source() = default;
    // The peer's next read; empty: the peer closed.
    virtual std::string read() = 0;
    // A fuzz-chosen answer (login outcome, provider reply, ...).
    virtual std::uint8_t choose() = 0;
};

// Reads and answers taken from the fuzz input: read sizes and answers from its end, bytes from its front
// (FuzzedDataProvider). Everything handed out is recorded, so that the run can be replayed.
class live_source final : public source {
public:
    explicit live_source(FuzzedDataProvider& fdp) : fdp_(fdp) {}
    std::string read() override;
    std::uint8_t choose() override;
    // Raw bytes from the input's front (e.g. a provider's reply text); not part of the replayed reads.
    std::string take_text(std::size_t max);

    const std::string& fed() const { return fed_; }
    bool closed() const { return closed_; }
    const std::vector<std::uint8_t>& answers() const { return answers_; }

private:
    FuzzedDataProvider& fdp_;
    std::string fed_;
    bool closed_ = false;
    std::vector<std::uint8_t> answers_;
};

// Replays a live run: every byte it fed in a single read (then the close, if it closed), the same answers in the
// same order (zero once they run out).
class replay_source final : public source {
public:
    explicit replay_source(const live_source& live)
        : bytes_(live.fed()), close_(live.closed()), answers_(live.answers()) {}
    std::string read() override;
    std::uint8_t choose() override;

private:
    std::string bytes_;
    bool sent_ = false;
    bool close_;
    std::vector<std::uint8_t> answers_;
    std::size_t next_answer_ = 0;
};

// Fails when a driver loop runs longer than its input can justify (a codec that no longer makes progress).
class step_budget {
public:
    explicit step_budget(std::size_t input_size) : left_(10000 + 64 * input_size) {}
    void tick() { FUZZ_CHECK(left_-- > 0, "the codec keeps asking for actions without making progress"); }

private:
    std::size_t left_;
};

// What a run of a codec did, as one string: written bytes in order, other actions as tagged markers. Two runs
// of the same input delivered in different reads must produce equal traces (DESIGN.md, "Tests").
struct trace {
    std::string text;
    bool tls =
        false; // the run started TLS: bytes pipelined before it are dropped, so traces legitimately differ

    void write(std::string_view bytes) { text += bytes; }
    void event(std::string_view name, std::string_view detail = {});
};

// Checks that `a` and `b` are equal, printing where they first differ.
void check_same_trace(const trace& a, const trace& b, const char* what);

} // namespace mailgate::fuzz
