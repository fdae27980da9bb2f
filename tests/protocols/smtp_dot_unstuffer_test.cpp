#include "protocols/smtp/dot_unstuffer.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols::smtp {
namespace {

std::string unstuff(std::string_view wire, std::size_t piece) {
    dot_unstuffer u;
    std::string out;
    for (std::size_t at = 0; at < wire.size(); at += piece) u.feed(wire.substr(at, piece), out);
    EXPECT_TRUE(u.ended());
    return out;
}

TEST(smtp_dot_unstuffer, restores_the_message_in_any_chunking) {
    std::string wire = "Subject: x\r\n\r\n..leading dot\r\n...two\r\nmid.dot\r\n.\r\n";
    for (std::size_t piece : {1, 2, 3, 5, 100})
        EXPECT_EQ(unstuff(wire, piece), "Subject: x\r\n\r\n.leading dot\r\n..two\r\nmid.dot\r\n");
}

TEST(smtp_dot_unstuffer, empty_message_and_bytes_after_the_end) {
    EXPECT_EQ(unstuff(".\r\n", 1), "");
    dot_unstuffer u;
    std::string out;
    u.feed("a\r\n.\r\nQUIT\r\n", out);
    EXPECT_EQ(out, "a\r\n");
}

} // namespace
} // namespace mailgate::protocols::smtp
