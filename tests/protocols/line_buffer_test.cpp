// line_buffer: CRLF framing, strictness (bare LF), the length limit and raw byte takes; each framing case is
// run whole, split at every offset and byte by byte.
#include "protocols/common/line_buffer.hpp"
#include "tests/protocols/deliveries.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailgate::protocols {
namespace {

using result = line_buffer::result;

struct outcome {
    std::vector<std::string> lines;
    result last = result::need_more; // need_more, or the error that stopped the stream
    std::string rest; // unconsumed bytes while waiting; empty after an error (delivery stops there)

    bool operator==(const outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, result r) {
    switch (r) {
    case result::line: return os << "line";
    case result::need_more: return os << "need_more";
    case result::too_long: return os << "too_long";
    case result::bare_lf: return os << "bare_lf";
    }
    return os << "?";
}

std::ostream& operator<<(std::ostream& os, const outcome& o) {
    os << "lines [";
    for (const auto& l : o.lines) os << '"' << l << "\" ";
    return os << "], last " << o.last << ", rest \"" << o.rest << '"';
}

// Appends `chunks` one by one, draining lines after each, and stops at the first error.
outcome frame(std::size_t max_line, const std::vector<std::string_view>& chunks) {
    line_buffer buffer(max_line);
    outcome out;
    for (const auto& chunk : chunks) {
        buffer.append(chunk);
        std::string_view line;
        result r;
        while ((r = buffer.next_line(line)) == result::line) out.lines.emplace_back(line);
        out.last = r;
        if (r != result::need_more) break;
    }
    if (out.last == result::need_more) out.rest = std::string(buffer.rest());
    return out;
}

// Frames `input` whole, split at every offset and byte by byte; all must equal `expected`.
void expect_framing(std::size_t max_line, const std::string& input, const outcome& expected) {
    for (const auto& d : test::every_delivery(input))
        EXPECT_EQ(frame(max_line, d.pieces), expected) << d.name;
}

TEST(line_buffer, hands_out_crlf_lines_without_the_terminator) {
    expect_framing(64, "a\r\nbc\r\n\r\nlast", {{"a", "bc", ""}, result::need_more, "last"});
}

TEST(line_buffer, waits_when_cr_and_lf_arrive_separately) {
    line_buffer buffer(64);
    std::string_view line;
    buffer.append("+OK ready\r");
    EXPECT_EQ(buffer.next_line(line), result::need_more);
    EXPECT_EQ(buffer.buffered(), 10u);
    buffer.append("\n");
    ASSERT_EQ(buffer.next_line(line), result::line);
    EXPECT_EQ(line, "+OK ready");
    EXPECT_EQ(buffer.buffered(), 0u);
    EXPECT_EQ(buffer.next_line(line), result::need_more);
}

TEST(line_buffer, rejects_a_bare_lf) {
    expect_framing(64, "abc\n", {{}, result::bare_lf, ""});
    expect_framing(64, "\n", {{}, result::bare_lf, ""});
    expect_framing(64, "ok\r\nbad\nmore\r\n", {{"ok"}, result::bare_lf, ""});
}

TEST(line_buffer, a_line_exactly_at_the_limit_counting_crlf_is_accepted) {
    expect_framing(8, "123456\r\n", {{"123456"}, result::need_more, ""});
    expect_framing(8, "1234567", {{}, result::need_more, "1234567"});
    expect_framing(8, "123456\r", {{}, result::need_more, "123456\r"});
}

TEST(line_buffer, a_line_one_past_the_limit_is_too_long) {
    expect_framing(8, "1234567\r\n", {{}, result::too_long, ""});
    // A partial line that already fills the limit can never end in time.
    expect_framing(8, "12345678", {{}, result::too_long, ""});
    expect_framing(8, "1234567\r", {{}, result::too_long, ""});
}

TEST(line_buffer, the_limit_applies_per_line_not_to_the_buffer) {
    expect_framing(8, "123456\r\n123456\r\nab", {{"123456", "123456"}, result::need_more, "ab"});
    expect_framing(8, "12\r\n1234567890\r\n", {{"12"}, result::too_long, ""});
}

TEST(line_buffer, take_bytes_hands_out_raw_bytes_including_crlf) {
    line_buffer buffer(64);
    buffer.append("{8}\r\nab\r\ncd\r\n)\r\n");
    std::string_view out;
    ASSERT_EQ(buffer.next_line(out), result::line);
    EXPECT_EQ(out, "{8}");
    ASSERT_TRUE(buffer.take_bytes(8, out));
    EXPECT_EQ(out, "ab\r\ncd\r\n");
    // After the literal, line framing resumes.
    ASSERT_EQ(buffer.next_line(out), result::line);
    EXPECT_EQ(out, ")");
}

TEST(line_buffer, take_bytes_waits_for_enough_bytes_and_consumes_nothing_meanwhile) {
    line_buffer buffer(64);
    buffer.append("{5}\r\nhel");
    std::string_view out;
    ASSERT_EQ(buffer.next_line(out), result::line);
    EXPECT_FALSE(buffer.take_bytes(5, out));
    EXPECT_EQ(buffer.buffered(), 3u);
    EXPECT_EQ(buffer.rest(), "hel");
    buffer.append("lo)\r\n");
    ASSERT_TRUE(buffer.take_bytes(5, out));
    EXPECT_EQ(out, "hello");
    ASSERT_EQ(buffer.next_line(out), result::line);
    EXPECT_EQ(out, ")");
}

TEST(line_buffer, take_bytes_of_zero_and_of_more_than_the_line_limit) {
    line_buffer buffer(4);
    std::string_view out = "untouched";
    ASSERT_TRUE(buffer.take_bytes(0, out));
    EXPECT_EQ(out, "");
    // Literal sizes are the caller's limit, not the line limit.
    buffer.append("0123456789");
    ASSERT_TRUE(buffer.take_bytes(10, out));
    EXPECT_EQ(out, "0123456789");
    EXPECT_EQ(buffer.buffered(), 0u);
}

TEST(line_buffer, clear_drops_everything_buffered) {
    line_buffer buffer(64);
    buffer.append("a\r\npartial");
    std::string_view out;
    ASSERT_EQ(buffer.next_line(out), result::line);
    buffer.clear();
    EXPECT_EQ(buffer.buffered(), 0u);
    EXPECT_EQ(buffer.rest(), "");
    EXPECT_EQ(buffer.next_line(out), result::need_more);
    buffer.append("b\r\n");
    ASSERT_EQ(buffer.next_line(out), result::line);
    EXPECT_EQ(out, "b");
}

} // namespace
} // namespace mailgate::protocols
