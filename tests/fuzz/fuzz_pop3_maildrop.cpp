// Fuzzes the POP3 maildrop codec (pop3::maildrop) as a session runs it: client bytes in fuzz-sized reads, messages
// from the input streamed in fuzz-chosen chunks, provider failures mid-message and commit outcomes. What RETR and TOP
// send is checked against a plain reference (normalise the whole message, then dot-stuff), and each run is repeated
// with every client byte in one read and every message in one chunk, which must send the same.
#include "protocols/pop3/maildrop.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <optional>

namespace {

using namespace mailgate::fuzz;
namespace protocols = mailgate::protocols;
namespace pop3 = protocols::pop3;
using protocols::maildrop_step;
using protocols::session_errc;

const std::string provider_failed = "-ERR [SYS/TEMP] The mail provider failed, try again later\r\n";

struct setup {
    std::vector<std::string> texts; // what the provider sends for each message
    std::vector<pop3::maildrop_message> messages;
    std::vector<std::uint64_t> normalised_sizes;
    bool bad_uidl = false;
    pop3::maildrop_options options;
    std::uint8_t chunking = 0; // 0: each message in one chunk; n: chunks of 1..n bytes
};

// The message as RETR (or TOP n) must send it: status line through the final dot, built from the whole message.
std::string reference(const std::string& text, std::optional<std::size_t> top, std::uint64_t declared_size,
                      std::uint64_t* normalised_size = nullptr) {
    std::vector<std::string> lines;
    std::string line;
    bool open = false; // a last line without a line end
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' || text[i] == '\n') {
            if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            lines.push_back(std::move(line));
            line.clear();
        } else {
            line += text[i];
        }
    }
    if (!line.empty()) {
        lines.push_back(line);
        open = true;
    }
    if (normalised_size != nullptr) {
        *normalised_size = 0;
        for (const auto& l : lines) *normalised_size += l.size() + 2;
        if (open) *normalised_size -= 2;
    }
    std::size_t count = lines.size();
    if (top) {
        std::size_t header = 0;
        while (header < lines.size() && !lines[header].empty()) ++header;
        if (header < lines.size()) ++header; // the empty line ending the header block
        count = std::min(lines.size(), header + std::min(*top, lines.size()));
    }
    std::string out =
        top ? "+OK top of message follows\r\n" : "+OK " + std::to_string(declared_size) + " octets\r\n";
    for (std::size_t i = 0; i < count; ++i) out += (lines[i].starts_with('.') ? "." : "") + lines[i] + "\r\n";
    return out + ".\r\n";
}

bool has_quit(std::string_view fed) {
    for (std::size_t i = 0; i + 4 <= fed.size(); ++i) {
        auto up = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; };
        if (up(fed[i]) == 'Q' && up(fed[i + 1]) == 'U' && up(fed[i + 2]) == 'I' && up(fed[i + 3]) == 'T')
            return true;
    }
    return false;
}

// The message being retrieved, as the driver streams it.
struct retrieval {
    std::size_t index = 0;
    std::optional<std::size_t> top;
    std::size_t limit = 0; // bytes delivered before the end, or before the failure
    bool fails = false;
    std::size_t delivered = 0;
    bool finished = false; // message_end() or message_failed() called
    std::string sent;      // what the client got for it so far
};

trace drive(const setup& s, source& src, bool whole, std::size_t input_size) {
    trace t;
    pop3::maildrop codec(s.messages, s.options);
    std::string fed;
    bool eof = false;
    bool first = true;
    bool wrote_any = false;
    std::optional<retrieval> r;
    bool tail_due = false;              // message_end() was called: the next action writes the rest
    std::optional<bool> commit_outcome; // after commit_result(): the reply due, then the close
    bool provider_broke = false;
    std::uint32_t rng = 0x9e3779b9u ^ s.chunking;
    step_budget budget(input_size);
    for (;;) {
        auto a = codec.next();
        auto v = mailgate::test::view_of(a);
        note(v.kind, v.bytes);
        bool streaming_step = r && !r->finished;
        if (!streaming_step) budget.tick();
        if (first) {
            FUZZ_CHECK(s.bad_uidl == (v.kind == "close"), "an invalid UIDL must close at once, and only it");
            first = false;
        }
        if (auto* w = std::get_if<protocols::write_output>(&a)) {
            FUZZ_CHECK(strict_line_ends(w->bytes),
                       "bare CR or LF sent to the client: " + std::string(w->bytes));
            wrote_any = true;
            if (r) {
                r->sent += w->bytes;
                if (tail_due) {
                    // message_end(): this write completes the message.
                    tail_due = false;
                    const auto& text = s.texts[r->index];
                    auto want = reference(text, r->top, s.messages[r->index].size);
                    FUZZ_CHECK(r->sent == want, "RETR/TOP sent other bytes than the reference: " + r->sent);
                    if (!r->top)
                        FUZZ_CHECK(codec.size_mismatch() ==
                                       (s.messages[r->index].size != s.normalised_sizes[r->index]),
                                   "size_mismatch() does not tell whether the size was right");
                    r.reset();
                }
            } else {
                check_lines(w->bytes, line_bytes::printable, "pop3 maildrop");
                FUZZ_CHECK(w->bytes.starts_with("+OK") || w->bytes.starts_with("-ERR"),
                           "not a POP3 status line: " + std::string(w->bytes));
                if (w->bytes.find("\r\n") + 2 < w->bytes.size())
                    FUZZ_CHECK(w->bytes.starts_with("+OK") && w->bytes.ends_with("\r\n.\r\n"),
                               "more than one line but not a multi-line list: " + std::string(w->bytes));
                if (commit_outcome)
                    FUZZ_CHECK(w->bytes.starts_with(*commit_outcome ? "+OK" : "-ERR [SYS/TEMP]"),
                               "the reply to QUIT does not match the commit: " + std::string(w->bytes));
            }
            t.write(w->bytes);
            codec.wrote();
            FUZZ_CHECK(codec.buffered() <= fed.size() + 1,
                       "the codec holds more than the client's bytes and a CR");
            continue;
        }
        FUZZ_CHECK(!tail_due,
                   "message_end() did not write the end of the message, but: " + std::string(v.kind));
        if (std::holds_alternative<protocols::read_input>(a)) {
            FUZZ_CHECK(!r, "read while a message streams");
            FUZZ_CHECK(!eof, "read after the client closed");
            auto bytes = src.read();
            eof = bytes.empty();
            fed += bytes;
            codec.received(bytes);
            continue;
        }
        if (auto* step = std::get_if<maildrop_step>(&a)) {
            if (step->what == maildrop_step::kind::commit) {
                FUZZ_CHECK(!r && !commit_outcome, "commit while streaming or twice");
                FUZZ_CHECK(has_quit(fed), "commit without a QUIT from the client");
                FUZZ_CHECK(!step->deleted.empty(), "an empty commit");
                for (std::size_t i = 0; i < step->deleted.size(); ++i) {
                    FUZZ_CHECK(step->deleted[i] < s.messages.size(),
                               "commit of a message not in the snapshot");
                    if (i > 0) FUZZ_CHECK(step->deleted[i - 1] < step->deleted[i], "commit not ascending");
                }
                bool ok = (src.choose() & 1) == 0;
                std::string list;
                for (auto i : step->deleted) list += std::to_string(i) + ",";
                t.event(ok ? "commit ok" : "commit failed", list);
                commit_outcome = ok;
                codec.commit_result(ok);
                continue;
            }
            FUZZ_CHECK(step->index < s.messages.size(), "retrieve of a message not in the snapshot");
            FUZZ_CHECK(!commit_outcome, "retrieve after the commit");
            const auto& text = s.texts[step->index];
            if (!r) {
                r.emplace();
                r->index = step->index;
                r->top = step->top_lines;
                r->limit = text.size();
                auto choice = src.choose();
                if ((choice & 7) == 7) {
                    r->fails = true;
                    r->limit = src.choose() % (text.size() + 1);
                }
                t.event("retrieve",
                        std::to_string(r->index) + (r->top ? " top " + std::to_string(*r->top) : ""));
            } else {
                FUZZ_CHECK(!r->finished, "retrieve again after the message was finished");
                FUZZ_CHECK(r->index == step->index && r->top == step->top_lines,
                           "retrieve switched messages mid-stream");
            }
            if (r->delivered < r->limit) {
                std::size_t n = r->limit - r->delivered;
                if (!whole && s.chunking != 0) {
                    rng ^= rng << 13;
                    rng ^= rng >> 17;
                    rng ^= rng << 5;
                    n = std::min<std::size_t>(n, 1 + rng % s.chunking);
                }
                codec.message_bytes(std::string_view(text).substr(r->delivered, n));
                r->delivered += n;
            } else if (r->fails) {
                r->finished = true;
                provider_broke = true;
                t.event("message_failed");
                codec.message_failed();
            } else {
                r->finished = true;
                tail_due = true;
                codec.message_end();
            }
            continue;
        }
        // close
        FUZZ_CHECK(std::holds_alternative<protocols::session_step>(a) &&
                       std::get<protocols::session_step>(a) == protocols::session_step::close,
                   "an action the maildrop never asks for: " + std::string(v.kind));
        auto why = codec.error();
        FUZZ_CHECK(why && why.category() == protocols::session_category(), "close without a session error");
        FUZZ_CHECK(mailgate::test::view_of(codec.next()).kind == "close", "close is not sticky");
        if (r) {
            // Only a provider failure ends a message early, and then without its final dot.
            FUZZ_CHECK(r->fails && r->finished && why == session_errc::upstream_failed,
                       "closed in the middle of a message: " + why.message());
            if (r->delivered == 0) {
                FUZZ_CHECK(r->sent == provider_failed,
                           "a failure before any byte must get an -ERR: " + r->sent);
            } else {
                auto full = reference(s.texts[r->index], r->top, s.messages[r->index].size);
                FUZZ_CHECK(full.starts_with(r->sent) && r->sent.size() + 3 <= full.size(),
                           "a failed message sent more than a prefix without the final dot: " + r->sent);
            }
        }
        if (why == session_errc::internal_error)
            FUZZ_CHECK(s.bad_uidl && !wrote_any, "internal_error without cause");
        if (why == session_errc::upstream_failed)
            FUZZ_CHECK(provider_broke || commit_outcome == false,
                       "upstream_failed without a provider failure");
        if (why == session_errc::client_closed)
            FUZZ_CHECK(eof && !commit_outcome, "client_closed without an EOF");
        if (commit_outcome)
            FUZZ_CHECK(why == (*commit_outcome ? session_errc::client_quit : session_errc::upstream_failed),
                       "the close after a commit has the wrong reason: " + why.message());
        t.event("close", why.message());
        return t;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    // Setup, from the back: bits (1|2 messages, 4 short lines, 8 an invalid UIDL, 16 sizes off by one), the
    // chunking, then each message as text from the front with its length from the back.
    auto bits = fdp.ConsumeIntegral<std::uint8_t>();
    setup s;
    s.chunking = fdp.ConsumeIntegral<std::uint8_t>();
    if (bits & 4) s.options.max_line = 24;
    s.bad_uidl = (bits & 8) != 0;
    std::size_t count = bits & 3;
    for (std::size_t i = 0; i < count; ++i) {
        auto n = fdp.ConsumeIntegralInRange<std::size_t>(0, 1024);
        s.texts.push_back(fdp.ConsumeBytesAsString(n));
        std::uint64_t normalised = 0;
        reference(s.texts.back(), std::nullopt, 0, &normalised);
        s.normalised_sizes.push_back(normalised);
        std::uint64_t declared = normalised + ((bits & 16) != 0 && i == 0 ? 1 : 0);
        s.messages.push_back({declared, "uid" + std::to_string(i + 1)});
    }
    if (s.bad_uidl) s.messages.push_back({0, "not valid"});
    if (s.bad_uidl) s.texts.emplace_back();
    if (s.bad_uidl) s.normalised_sizes.push_back(0);

    live_source live(fdp);
    trace in_reads = drive(s, live, false, size);
    replay_source at_once(live);
    trace whole = drive(s, at_once, true, size);
    check_same_trace(in_reads, whole, "other reads or other message chunks led to other actions");
    return 0;
}
