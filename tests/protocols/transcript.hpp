// Transcript runner for the upstream client codecs (model: Boost.MySQL test transcripts): a script of
// expected writes and fed bytes, run whole, split at every offset, and one byte at a time with identical
// results.
#pragma once

#include "protocols/common/upstream_codec.hpp"
#include "tests/protocols/action_view.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::test {

struct step {
    enum class kind {
        expect_write,
        feed,
        feed_whole,
        feed_eof,
        expect_start_tls,
        expect_done,
        expect_close,
        logout,
        check
    };

    kind what;
    std::string bytes{};                                        // expect_write, feed, feed_whole
    protocols::upstream_errc error{};                           // expect_close
    std::optional<std::string> diagnostics{};                   // expect_close: exact diagnostics when set
    std::function<void(protocols::upstream_codec&)> check_fn{}; // check
};

// next() must be `write` with exactly these bytes; the runner then calls wrote().
step expect_write(std::string bytes);
// next() must be `read` before each piece; the bytes may arrive whole, in two pieces, or byte by byte. So one
// feed holds only what the codec reads before its next other action (its next write, start_tls, done or
// close).
step feed(std::string bytes);
// Like feed, but always delivered in one read: for inputs whose meaning depends on arriving together
// (bytes injected after a STARTTLS reply, CVE-2011-0411).
step feed_whole(std::string bytes);
// next() must be `read`; the peer closes (received() with no bytes).
step feed_eof();
// next() must be `start_tls`; the runner then calls tls_started().
step expect_start_tls();
step expect_done();
// next() must be `close` (twice: the codec stays closed) with error() == e.
step expect_close(protocols::upstream_errc e, std::optional<std::string> diagnostics = std::nullopt);
// Calls logout() (after `done`).
step logout();
// Runs `fn` on the codec at this point of the script; use gtest assertions inside. Codecs parse inside
// next(), so a check sees the effect of fed bytes only after the expect_* step that follows the feed.
template <class Codec> step check(std::function<void(Codec&)> fn) {
    return {.what = step::kind::check,
            .check_fn = [fn = std::move(fn)](protocols::upstream_codec& c) { fn(static_cast<Codec&>(c)); }};
}

using codec_factory = std::function<std::unique_ptr<protocols::upstream_codec>()>;

// Runs the script whole, then once per (feed step, split offset), then byte by byte, each with a fresh codec
// from `make`. Mismatches are reported as gtest failures naming the mode, step index and offset; runs stop at
// the first failing one. Returns true when every run passed.
bool run_transcript(const codec_factory& make, const std::vector<step>& script);

// Printable form of protocol bytes for failure messages ("\r\n" and non-ASCII escaped).
std::string escape_bytes(std::string_view bytes);

// ---- Shared with the server-codec runner (server_transcript.hpp) ----

// How the feed steps of one run are delivered.
struct delivery_mode {
    enum class kind { whole, split, bytewise };
    kind what = kind::whole;
    std::size_t split_step = 0; // split: the feed step delivered in two reads ...
    std::size_t offset = 0;     // ... and where its bytes are cut

    std::string describe() const;
};

// What the mode runner needs to know of one script step.
struct step_outline {
    std::string_view bytes; // shown in failure messages
    bool splittable;        // a `feed` (not feed_whole): split at every offset and delivered byte by byte
};

struct run_failure {
    std::size_t step_index;
    std::string message;
};

// The reads that feed step `index` (with `bytes`) turns into under `m`.
std::vector<std::string_view> pieces_of(std::string_view bytes, bool splittable, std::size_t index,
                                        const delivery_mode& m);

// Calls `run_once` whole, once per (splittable step, split offset), then byte by byte; reports the first run
// that fails as a gtest failure naming the mode, step and offset. Returns true when every run passed.
bool run_in_every_mode(const std::vector<step_outline>& outline,
                       const std::function<std::optional<run_failure>(const delivery_mode&)>& run_once);

// Runs a `check` step's callback; true when it added gtest failures.
bool check_fails(const std::function<void()>& fn, std::size_t index, const delivery_mode& m);

// ---- Step executors every runner shares. `expect_kind(kind, why)` is the runner's check that the codec's next
// action is `kind`: nullopt, or what came instead (`why` is added to the message).
using expect_kind_fn = std::function<std::optional<std::string>(std::string_view kind, const char* why)>;

// A feed step: `bytes` in the pieces `m` cuts them into, each after a `read`; `receive` hands one to the codec.
std::optional<std::string> feed_in_pieces(const std::string& bytes, bool splittable, std::size_t index,
                                          const delivery_mode& m, const expect_kind_fn& expect_kind,
                                          const std::function<void(std::string_view)>& receive);
// `kind` twice in a row: a closed (or relaying) codec stays so.
std::optional<std::string> expect_sticky(const expect_kind_fn& expect_kind, std::string_view kind);
// A closed codec's error against the script's.
std::optional<std::string> wrong_close_error(std::error_code got, std::error_code want);

} // namespace mailgate::test
