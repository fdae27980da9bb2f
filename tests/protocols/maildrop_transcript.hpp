// Transcript runner for the POP3 maildrop codec (pop3::maildrop): expected writes, client bytes, messages
// streamed in by the test's provider and the commit, run whole, split at every offset and one byte at a time
// (DESIGN.md "Tests"). A message's bytes are split like a feed's, so each chunking must give the same output.
#pragma once

#include "protocols/pop3/maildrop.hpp"
#include "tests/protocols/transcript.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mailgate::test::maildrop_transcript {

struct step {
    enum class kind {
        expect_write,
        feed,
        feed_whole,
        feed_eof,
        expect_retrieve,
        expect_commit,
        expect_close,
        check
    };

    kind what;
    std::string bytes{};                    // expect_write, feed, feed_whole; retrieve: the provider's
    std::string output{};                   // expect_retrieve: everything the client gets for it
    std::size_t index = 0;                  // expect_retrieve
    std::optional<std::size_t> top_lines{}; // expect_retrieve
    bool fails = false;                     // expect_retrieve: message_failed() after `bytes`
    std::vector<std::size_t> deleted{};     // expect_commit
    bool ok = true;                         // expect_commit: reported through commit_result()
    protocols::session_errc error{};        // expect_close
    std::function<void(protocols::pop3::maildrop&)> check_fn{}; // check
};

// next() must be `write` with exactly these bytes; the runner then calls wrote().
step expect_write(std::string bytes);
// next() must be `read` before each piece (whole, two pieces, or byte by byte).
step feed(std::string bytes);
// Like feed, but always in one read: pipelined commands, whose replies must wait for a retrieve.
step feed_whole(std::string bytes);
// next() must be `read`; the client closes.
step feed_eof();
// next() must be `retrieve{index, top_lines}`. The runner hands `message` in with message_bytes() (whole, split
// at an offset, or byte by byte), writing whatever the codec asks to write after each chunk and requiring
// `retrieve` again after it, then calls message_end() and takes one more write. Everything written must be
// exactly `client_output` (status line through the final dot).
step expect_retrieve(std::size_t index, std::optional<std::size_t> top_lines, std::string message,
                     std::string client_output);
// Like expect_retrieve, but message_failed() after `message_before`; the writes up to the next other action
// must be exactly `client_output` (no final dot).
step expect_retrieve_failing(std::size_t index, std::optional<std::size_t> top_lines,
                             std::string message_before, std::string client_output);
// next() must be `commit` with exactly `deleted`; the runner answers commit_result(ok).
step expect_commit(std::vector<std::size_t> deleted, bool ok);
// next() must be `close` (twice: sticky) with error() == e.
step expect_close(protocols::session_errc e);
// Runs `fn` on the codec at this point; use gtest assertions inside.
step check(std::function<void(protocols::pop3::maildrop&)> fn);

// Runs the script in every delivery mode, each with a fresh maildrop(messages, options).
bool run_transcript(const std::vector<protocols::pop3::maildrop_message>& messages,
                    const std::vector<step>& script, protocols::pop3::maildrop_options options = {});

} // namespace mailgate::test::maildrop_transcript
