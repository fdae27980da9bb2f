// SMTP DATA decoder (RFC 5321 §4.1.1.4, §4.5.2; SMTP smuggling, CVE-2023-51764): every input decoded whole,
// split at every offset and byte by byte, with identical results.
#include "protocols/smtp/data_decoder.hpp"
#include "tests/protocols/deliveries.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace mailgate::protocols::smtp {
namespace {

using mailgate::test::escape_bytes;

constexpr std::uint64_t unlimited = std::numeric_limits<std::uint64_t>::max();

struct outcome {
    data_decoder::status status = data_decoder::status::more;
    data_decoder::reason why = data_decoder::reason::none;
    std::string out;          // everything emitted, concatenated
    std::size_t consumed = 0; // bytes of the input that belong to the data
    std::uint64_t size = 0;
    bool loose = false; // loose_end()

    bool operator==(const outcome&) const = default;
};

std::string describe(const outcome& o) {
    static const char* statuses[] = {"more", "end", "rejected"};
    static const char* reasons[] = {"none", "bare_line_end", "too_big", "abandoned"};
    return std::string(statuses[static_cast<int>(o.status)]) + "/" + reasons[static_cast<int>(o.why)] +
           " out \"" + escape_bytes(o.out) + "\" consumed " + std::to_string(o.consumed) + " size " +
           std::to_string(o.size) + (o.loose ? " loose" : "");
}

// Feeds `pieces` in turn, as a driver would: stops at the first status other than `more`.
outcome decode_pieces(const std::vector<std::string_view>& pieces, std::uint64_t max_size,
                      data_decoder::line_ends mode) {
    data_decoder d(max_size, mode);
    outcome o;
    for (auto piece : pieces) {
        std::size_t consumed = 0;
        o.status = d.decode(piece, o.out, consumed);
        o.consumed += consumed;
        if (o.status != data_decoder::status::more) break;
        EXPECT_EQ(consumed, piece.size()) << "`more` must consume every byte";
    }
    o.why = d.why();
    o.size = d.size();
    o.loose = d.loose_end();
    return o;
}

// Decodes `in` whole, then split at every offset, then byte by byte; every run must give the same outcome,
// which is returned.
outcome decode_every_way(std::string_view in, std::uint64_t max_size = unlimited,
                         data_decoder::line_ends mode = data_decoder::line_ends::strict) {
    outcome whole = decode_pieces({in}, max_size, mode);
    for (const auto& d : test::every_delivery(in)) {
        outcome other = decode_pieces(d.pieces, max_size, mode);
        EXPECT_EQ(other, whole) << d.name << " of \"" << escape_bytes(in) << "\": " << describe(other)
                                << " vs whole: " << describe(whole);
    }
    return whole;
}

void expect_end(std::string_view in, std::size_t data_length) {
    auto o = decode_every_way(in);
    EXPECT_EQ(o.status, data_decoder::status::end) << escape_bytes(in);
    EXPECT_EQ(o.why, data_decoder::reason::none) << escape_bytes(in);
    EXPECT_EQ(o.consumed, data_length) << escape_bytes(in);
    EXPECT_EQ(o.out, in.substr(0, data_length)) << "passed through unchanged: " << escape_bytes(in);
}

void expect_rejected(std::string_view in, data_decoder::reason why, std::size_t data_length,
                     bool loose = false) {
    auto o = decode_every_way(in);
    EXPECT_EQ(o.status, data_decoder::status::rejected) << escape_bytes(in);
    EXPECT_EQ(o.why, why) << escape_bytes(in);
    EXPECT_EQ(o.consumed, data_length) << escape_bytes(in);
    EXPECT_EQ(o.loose, loose) << escape_bytes(in);
}

// True when every CR in `s` is followed by LF and every LF preceded by CR.
bool only_crlf(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    }
    return true;
}

TEST(smtp_data_decoder, passes_a_message_through_and_stops_at_the_end_marker) {
    expect_end("Subject: hi\r\n\r\nhello\r\n.\r\n", 25);
}

TEST(smtp_data_decoder, an_empty_message_ends_at_once) {
    // The CRLF ending the DATA command is the first half of the marker (RFC 5321 §4.1.1.4).
    expect_end(".\r\n", 3);
}

TEST(smtp_data_decoder, dot_stuffing_is_kept_for_the_provider) {
    expect_end("..\r\n..leading\r\n...\r\n.x\r\n.\r\n", 27);
    expect_end("a.\r\n.\r\n", 7);
}

TEST(smtp_data_decoder, bytes_after_the_end_are_not_consumed) {
    auto o = decode_every_way("a\r\n.\r\nMAIL FROM:<x@y>\r\n");
    EXPECT_EQ(o.status, data_decoder::status::end);
    EXPECT_EQ(o.consumed, 6u);
    EXPECT_EQ(o.out, "a\r\n.\r\n");
}

TEST(smtp_data_decoder, lines_that_only_look_like_the_end_do_not_end_it) {
    auto o = decode_every_way("a\r\n. \r\n.a\r\n \r\n.\r\n");
    EXPECT_EQ(o.status, data_decoder::status::end);
    EXPECT_EQ(o.consumed, 17u);
    // Without the marker the data goes on.
    o = decode_every_way("a\r\n.. \r\n.");
    EXPECT_EQ(o.status, data_decoder::status::more);
    EXPECT_EQ(o.consumed, 9u);
    EXPECT_EQ(o.out, "a\r\n.. \r\n.");
}

TEST(smtp_data_decoder, a_cr_is_held_back_until_its_lf_arrives) {
    data_decoder d(unlimited);
    std::string out;
    std::size_t consumed = 0;
    EXPECT_EQ(d.decode("line\r", out, consumed), data_decoder::status::more);
    EXPECT_EQ(out, "line");
    EXPECT_EQ(consumed, 5u);
    EXPECT_EQ(d.decode("\n", out, consumed), data_decoder::status::more);
    EXPECT_EQ(out, "line\r\n");
}

TEST(smtp_data_decoder, nul_and_eight_bit_bytes_are_data) {
    // "\r\n\0.\r\n" is a line holding NUL and a dot: not a line end, not the end of data.
    expect_end(std::string("a\r\n\0.\r\nb\xc3\xa9\r\n.\r\n", 15), 15);
}

TEST(smtp_data_decoder, bare_lf_and_bare_cr_are_rejected_up_to_the_strict_end_marker) {
    using r = data_decoder::reason;
    expect_rejected("a\nb\r\n.\r\n", r::bare_line_end, 8);
    expect_rejected("a\rb\r\n.\r\n", r::bare_line_end, 8);
    expect_rejected("\n\r\n.\r\nMAIL", r::bare_line_end, 6);
    expect_rejected("\r\r\n.\r\n", r::bare_line_end, 6);
    expect_rejected("a\r\n.\r\r\n.\r\n", r::bare_line_end, 10);
    expect_rejected("a\r\n.\nb\r\n.\r\n", r::bare_line_end, 5, true); // "\r\n.\n" is a loose end
}

TEST(smtp_data_decoder, lf_only_data_ends_loosely_at_a_lone_dot) {
    using r = data_decoder::reason;
    expect_rejected("Subject: scan\n\nsee attachment\n.\nQUIT\n", r::bare_line_end, 32, true);
    expect_rejected(".\n", r::bare_line_end, 2, true); // an empty LF-only message
    expect_rejected("a\nb\n.\r\n", r::bare_line_end, 7, true);
    expect_rejected("a\nb\r\n.\n", r::bare_line_end, 7, true);
    // A lone dot after a bare CR is no line for anyone: the data goes on to the strict marker.
    expect_rejected("a\r.\rb\r\n.\r\n", r::bare_line_end, 10);
    // Refused for its size, the data ends only at the strict marker: the client sent CRLF so far.
    auto o = decode_every_way("abcdef\r\n.\nx\r\n.\r\n", 3);
    EXPECT_EQ(o.why, r::too_big);
    EXPECT_EQ(o.consumed, 16u);
    EXPECT_FALSE(o.loose);
}

TEST(smtp_data_decoder, normalize_turns_bare_lf_into_crlf_and_ends_at_an_lf_dot_lf) {
    constexpr auto normalize = data_decoder::line_ends::normalize;
    auto o = decode_every_way("Subject: scan\n\nline\r\n..stuffed\n.\nQUIT\n", unlimited, normalize);
    EXPECT_EQ(o.status, data_decoder::status::end);
    EXPECT_EQ(o.consumed, 33u);
    EXPECT_EQ(o.out, "Subject: scan\r\n\r\nline\r\n..stuffed\r\n.\r\n");
    EXPECT_TRUE(only_crlf(o.out));
    EXPECT_EQ(o.size, 33u); // the message as the provider gets it: CRLFs, without stuffing and terminator
    // A bare CR stays refused; the refused data ends at "\n.\n", a regular end here (the session goes on).
    o = decode_every_way("a\rb\n.\n", unlimited, normalize);
    EXPECT_EQ(o.status, data_decoder::status::rejected);
    EXPECT_EQ(o.consumed, 6u);
    EXPECT_FALSE(o.loose);
    o = decode_every_way("abcdef\n.\nQUIT\n", 3, normalize);
    EXPECT_EQ(o.why, data_decoder::reason::too_big);
    EXPECT_EQ(o.consumed, 9u)
        << "refused for its size, it still ends at the normalized terminator; QUIT is left";
}

TEST(smtp_data_decoder, smuggled_end_markers_end_nothing) {
    // Each alternative end-of-data sequence some servers accept, followed by a smuggled transaction and the
    // strict marker: everything is one rejected message, consumed through the strict marker.
    const std::string smuggled = "MAIL FROM:<ceo@corp.example>\r\nRCPT TO:<victim@x.example>\r\nDATA\r\nevil";
    for (std::string marker : {"\r.\r", "\r.\r\n", "\r\n.\r"}) {
        std::string in = "Subject: t\r\n\r\nhello" + marker + smuggled + "\r\n.\r\nQUIT\r\n";
        SCOPED_TRACE(escape_bytes(marker));
        auto o = decode_every_way(in);
        EXPECT_EQ(o.status, data_decoder::status::rejected);
        EXPECT_EQ(o.why, data_decoder::reason::bare_line_end);
        EXPECT_EQ(o.consumed, in.size() - 6) << "consumed through the strict marker, QUIT left over";
        EXPECT_FALSE(o.loose);
        EXPECT_TRUE(only_crlf(o.out)) << escape_bytes(o.out);
        EXPECT_EQ(o.out.find("MAIL"), std::string::npos);
    }
    // With a bare LF next to the lone dot the data ends there, refused and marked loose: the session closes
    // after its reply (smtp::server), so the smuggled commands are never read at all.
    for (std::string marker : {"\n.\n", "\n.\r\n", "\r\n.\n"}) {
        std::string in = "Subject: t\r\n\r\nhello" + marker + smuggled + "\r\n.\r\nQUIT\r\n";
        SCOPED_TRACE(escape_bytes(marker));
        auto o = decode_every_way(in);
        EXPECT_EQ(o.status, data_decoder::status::rejected);
        EXPECT_EQ(o.consumed, 19 + marker.size());
        EXPECT_TRUE(o.loose);
        EXPECT_TRUE(only_crlf(o.out)) << escape_bytes(o.out);
    }
}

TEST(smtp_data_decoder, marker_matching_resumes_correctly_after_a_rejection) {
    using r = data_decoder::reason;
    // The bare CR right before a real CRLF: the CRLF still starts the marker.
    expect_rejected("x\r\r\n.\r\n", r::bare_line_end, 7);
    // A bare LF in the middle of a would-be marker breaks it.
    expect_rejected("x\r\n\n.\r\n\r\n.\r\n", r::bare_line_end, 7, true);
    // Partial markers while discarding.
    expect_rejected("x\nA\r\n.X\r\n.\r.\r\n\r\n.\r\n", r::bare_line_end, 19);
}

TEST(smtp_data_decoder, rejected_data_stops_emitting) {
    auto o = decode_every_way("ok\r\nbad\nmore text\r\n.\r\n");
    EXPECT_EQ(o.status, data_decoder::status::rejected);
    // What was emitted before the refusal depends on nothing but the input; nothing after it.
    EXPECT_EQ(o.out, "ok\r\nbad");
}

TEST(smtp_data_decoder, oversize_data_is_rejected_up_to_the_end_marker) {
    auto o = decode_every_way("0123456789ABC\r\n.\r\nNOOP\r\n", 10);
    EXPECT_EQ(o.status, data_decoder::status::rejected);
    EXPECT_EQ(o.why, data_decoder::reason::too_big);
    EXPECT_EQ(o.consumed, 18u);
    EXPECT_LE(o.out.size(), 11u);
}

TEST(smtp_data_decoder, size_limit_counts_the_message_not_the_terminator_or_stuffing) {
    // 10 octets of message (RFC 1870 counts CRLFs, not the final "." nor dot-stuffing) fit a limit of 10.
    auto o = decode_every_way("01234567\r\n.\r\n", 10);
    EXPECT_EQ(o.status, data_decoder::status::end);
    EXPECT_EQ(o.size, 10u);
    o = decode_every_way("..234567\r\n.\r\n", 9);
    EXPECT_EQ(o.status, data_decoder::status::end);
    EXPECT_EQ(o.size, 9u);
    o = decode_every_way("012345678\r\n.\r\n", 10);
    EXPECT_EQ(o.status, data_decoder::status::rejected);
    EXPECT_EQ(o.why, data_decoder::reason::too_big);
}

TEST(smtp_data_decoder, line_ends_count_toward_the_size_limit) {
    std::string empty_lines;
    for (int i = 0; i < 50; ++i) empty_lines += "\r\n";
    auto o = decode_every_way(empty_lines + ".\r\n", 20);
    EXPECT_EQ(o.status, data_decoder::status::rejected);
    EXPECT_EQ(o.why, data_decoder::reason::too_big);
    EXPECT_EQ(o.consumed, 103u);
}

TEST(smtp_data_decoder, abandon_swallows_the_rest_through_the_end_marker) {
    for (std::string_view before : {"abc", "abc\r", "abc\r\n", "abc\r\n."}) {
        SCOPED_TRACE(escape_bytes(before));
        data_decoder d(unlimited);
        std::string out;
        std::size_t consumed = 0;
        ASSERT_EQ(d.decode(before, out, consumed), data_decoder::status::more);
        d.abandon();
        EXPECT_TRUE(d.discarding());
        out.clear();
        EXPECT_EQ(d.decode("more\r\n.\r\nx", out, consumed), data_decoder::status::rejected);
        EXPECT_EQ(d.why(), data_decoder::reason::abandoned);
        EXPECT_EQ(consumed, 9u);
        EXPECT_EQ(out, "");
    }
    // Abandoned right where the marker is under way.
    for (std::string_view before : {"abc\r\n", "abc\r\n.", "abc\r\n.\r"}) {
        SCOPED_TRACE(escape_bytes(before));
        data_decoder d(unlimited);
        std::string out;
        std::size_t consumed = 0;
        ASSERT_EQ(d.decode(before, out, consumed), data_decoder::status::more);
        d.abandon();
        std::string_view marker = "\r\n.\r\n";
        auto rest = marker.substr(before.size() - 3);
        EXPECT_EQ(d.decode(rest, out, consumed), data_decoder::status::rejected);
        EXPECT_EQ(consumed, rest.size());
    }
}

TEST(smtp_data_decoder, abandoned_after_a_held_back_cr_a_dot_line_is_no_end) {
    // Found by fuzz_smtp_data_decoder: with normalize, "\r" then ".\n" is the line "\r.", not a lone dot,
    // also when the decoder is abandoned between the CR and the dot.
    for (std::string_view before : {"\r", "abc\r\n\r"}) {
        SCOPED_TRACE(escape_bytes(before));
        data_decoder d(unlimited, data_decoder::line_ends::normalize);
        std::string out;
        std::size_t consumed = 0;
        ASSERT_EQ(d.decode(before, out, consumed), data_decoder::status::more);
        d.abandon();
        EXPECT_EQ(d.decode(".\nx", out, consumed), data_decoder::status::more);
        EXPECT_EQ(d.decode("\n.\n", out, consumed), data_decoder::status::rejected);
        EXPECT_EQ(consumed, 3u);
    }
}

TEST(smtp_data_decoder, abandon_keeps_an_earlier_reason) {
    data_decoder d(unlimited);
    std::string out;
    std::size_t consumed = 0;
    d.decode("a\nb", out, consumed);
    d.abandon();
    EXPECT_EQ(d.why(), data_decoder::reason::bare_line_end);
}

} // namespace
} // namespace mailgate::protocols::smtp
