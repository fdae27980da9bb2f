// Base64 (RFC 4648): the §10 test vectors, round trips of every byte value, and strict decoding.
#include "protocols/common/base64.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace mailgate::protocols {
namespace {

const std::vector<std::pair<std::string, std::string>> rfc4648_vectors{
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(base64, encodes_rfc4648_vectors) {
    for (const auto& [plain, encoded] : rfc4648_vectors) EXPECT_EQ(base64_encode(plain), encoded) << plain;
}

TEST(base64, decodes_rfc4648_vectors) {
    for (const auto& [plain, encoded] : rfc4648_vectors) {
        auto decoded = base64_decode(encoded);
        ASSERT_TRUE(decoded.has_value()) << encoded;
        EXPECT_EQ(*decoded, plain) << encoded;
    }
}

TEST(base64, uses_plus_and_slash_for_the_last_two_digits) {
    EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
    EXPECT_EQ(base64_encode("\xff\xff\xff"), "////");
    EXPECT_EQ(base64_decode("+/8="), std::string("\xfb\xff"));
}

TEST(base64, round_trips_every_byte_value_at_every_length_modulo_three) {
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    for (std::size_t len : {all.size(), all.size() - 1, all.size() - 2}) {
        std::string input = all.substr(0, len);
        std::string encoded = base64_encode(input);
        EXPECT_EQ(encoded.size(), (len + 2) / 3 * 4);
        auto decoded = base64_decode(encoded);
        ASSERT_TRUE(decoded.has_value());
        EXPECT_EQ(*decoded, input);
    }
}

TEST(base64, sasl_plain_message_with_nul_separators) {
    EXPECT_EQ(base64_encode(std::string("\0user\0secret", 12)), "AHVzZXIAc2VjcmV0");
    EXPECT_EQ(base64_decode("AHVzZXIAc2VjcmV0"), std::string("\0user\0secret", 12));
}

TEST(base64, strict_decoding_rejects_lengths_that_are_not_a_multiple_of_four) {
    for (const char* text : {"Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYg==="}) {
        EXPECT_FALSE(base64_decode(text).has_value()) << text;
    }
}

TEST(base64, strict_decoding_rejects_bad_padding) {
    for (const char* text :
         {"====", "Z===", "=Zg=", "Zg=a", "Zm9v====", "Zg==Zg==", "Zm=v", "Zm9vY===", "Zm8=Zm9v"}) {
        EXPECT_FALSE(base64_decode(text).has_value()) << text;
    }
}

TEST(base64, strict_decoding_rejects_characters_outside_the_alphabet) {
    // Every candidate has a valid length, so only the character can be the reason.
    for (const std::string& text :
         std::vector<std::string>{"Zm\r\n", "Zm 9", " Zm9", "Zm9-", "Zm9_", "Zm9.", "Zm9\n", "Zm\t9",
                                  "\xc3\xa9Zm", "Zm9vZm9\n", std::string("Zm9\0", 4)}) {
        ASSERT_EQ(text.size() % 4, 0u);
        EXPECT_FALSE(base64_decode(text).has_value()) << text;
    }
}

} // namespace
} // namespace mailgate::protocols

TEST(base64, rejects_non_canonical_pad_bits) {
    EXPECT_FALSE(mailgate::protocols::base64_decode("Zh=="));
    EXPECT_FALSE(mailgate::protocols::base64_decode("Zm9="));
    EXPECT_EQ(mailgate::protocols::base64_decode("Zg=="), std::string("f"));
    EXPECT_EQ(mailgate::protocols::base64_decode("Zm8="), std::string("fo"));
}
