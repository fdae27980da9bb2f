// IMAP astring encoding for upstream commands: quoted strings with escapes, literals for what cannot be
// quoted (RFC 9051 §4.3), synchronizing vs LITERAL+ (RFC 7888) command pieces, and NUL rejected.
#include "protocols/imap/string_encoding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailgate::protocols::imap {
namespace {

using pieces = std::vector<std::string>;

TEST(imap_quote, wraps_plain_text_in_double_quotes) {
    EXPECT_EQ(quote("user@example.org"), "\"user@example.org\"");
    EXPECT_EQ(quote(""), "\"\"");
    // Atom-specials are fine inside a quoted string.
    EXPECT_EQ(quote("a b(c){3}*%]"), "\"a b(c){3}*%]\"");
}

TEST(imap_quote, escapes_double_quote_and_backslash) {
    EXPECT_EQ(quote("pa\"ss"), "\"pa\\\"ss\"");
    EXPECT_EQ(quote("back\\slash"), "\"back\\\\slash\"");
    EXPECT_EQ(quote("\"\\"), "\"\\\"\\\\\"");
}

TEST(imap_quote, refuses_what_a_quoted_string_cannot_carry) {
    EXPECT_FALSE(quote("p\xc3\xa4ss").has_value());
    EXPECT_FALSE(quote("\x80").has_value());
    EXPECT_FALSE(quote("a\rb").has_value());
    EXPECT_FALSE(quote("a\nb").has_value());
    EXPECT_FALSE(quote(std::string("a\0b", 3)).has_value());
}

TEST(imap_encode_command, quotable_arguments_make_one_piece) {
    EXPECT_EQ(encode_command("a1 LOGIN", {"user", "pa \"s\\s"}, false),
              pieces{"a1 LOGIN \"user\" \"pa \\\"s\\\\s\"\r\n"});
    EXPECT_EQ(encode_command("a1 LOGIN", {"", "x"}, true), pieces{"a1 LOGIN \"\" \"x\"\r\n"});
    EXPECT_EQ(encode_command("a1 NOOP", {}, false), pieces{"a1 NOOP\r\n"});
}

TEST(imap_encode_command, eight_bit_forces_a_synchronizing_literal_split_into_pieces) {
    // "p\xc3\xa4ss" is 5 bytes: the size counts bytes, not characters.
    EXPECT_EQ(encode_command("a1 LOGIN", {"user", "p\xc3\xa4ss"}, false),
              (pieces{"a1 LOGIN \"user\" {5}\r\n", "p\xc3\xa4ss\r\n"}));
}

TEST(imap_encode_command, cr_and_lf_force_a_literal) {
    EXPECT_EQ(encode_command("a1 LOGIN", {"us\r\ner", "pw"}, false),
              (pieces{"a1 LOGIN {6}\r\n", "us\r\ner \"pw\"\r\n"}));
    EXPECT_EQ(encode_command("a1 LOGIN", {"u", "p\n"}, false), (pieces{"a1 LOGIN \"u\" {2}\r\n", "p\n\r\n"}));
}

TEST(imap_encode_command, two_synchronizing_literals_make_three_pieces) {
    EXPECT_EQ(encode_command("a3 LOGIN", {"\xc3\xa9", "\xff\r"}, false),
              (pieces{"a3 LOGIN {2}\r\n", "\xc3\xa9 {2}\r\n", "\xff\r\r\n"}));
}

TEST(imap_encode_command, literal_plus_keeps_everything_in_one_piece) {
    EXPECT_EQ(encode_command("a1 LOGIN", {"user", "p\xc3\xa4ss"}, true),
              pieces{"a1 LOGIN \"user\" {5+}\r\np\xc3\xa4ss\r\n"});
    EXPECT_EQ(encode_command("a3 LOGIN", {"\xc3\xa9", "\xff\r"}, true),
              pieces{"a3 LOGIN {2+}\r\n\xc3\xa9 {2+}\r\n\xff\r\r\n"});
}

TEST(imap_encode_command, nul_in_any_argument_is_unencodable) {
    const std::string with_nul("a\0b", 3);
    for (bool literal_plus : {false, true}) {
        EXPECT_FALSE(encode_command("a1 LOGIN", {with_nul, "pw"}, literal_plus).has_value());
        EXPECT_FALSE(encode_command("a1 LOGIN", {"user", with_nul}, literal_plus).has_value());
        EXPECT_FALSE(encode_command("a1 LOGIN", {"\xc3\xa9", with_nul}, literal_plus).has_value());
    }
}

} // namespace
} // namespace mailgate::protocols::imap
