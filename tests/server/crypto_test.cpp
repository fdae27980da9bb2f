// AES-256-GCM sealing, HMAC and constant-time compare.
#include "server/store/crypto.hpp"

#include <gtest/gtest.h>

using namespace mailgate::store;

namespace {
master_key key_of(std::uint8_t fill) {
    master_key k;
    k.fill(fill);
    return k;
}
} // namespace

TEST(crypto, seal_round_trip_with_fresh_nonce) {
    auto key = key_of(7);
    auto a = seal(key, "app-password", "account 1");
    auto b = seal(key, "app-password", "account 1");
    EXPECT_NE(a, b); // fresh nonce every time
    EXPECT_EQ(a.size(), 1 + 12 + 12 + 16);
    EXPECT_EQ(a.find("app-password"), std::string::npos);
    EXPECT_EQ(open(key, a, "account 1"), "app-password");
    EXPECT_EQ(open(key, seal(key, "", "x"), "x"), "");
}

TEST(crypto, tampering_wrong_key_and_moved_ciphertext_are_detected) {
    auto key = key_of(7);
    auto sealed = seal(key, "app-password", "account 1");
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        auto bad = sealed;
        bad[i] = static_cast<char>(bad[i] ^ 0x01);
        EXPECT_FALSE(open(key, bad, "account 1")) << "flipped byte " << i;
    }
    EXPECT_FALSE(open(key_of(8), sealed, "account 1"));
    EXPECT_FALSE(open(key, sealed, "account 2"));
    EXPECT_FALSE(open(key, sealed.substr(0, 20), "account 1"));
    EXPECT_FALSE(open(key, "", "account 1"));
}

TEST(crypto, hmac_sha256_rfc4231_case_2) {
    auto mac = hmac_sha256("Jefe", "what do ya want for nothing?");
    static const unsigned char expected[] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                             0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                             0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    EXPECT_EQ(mac, std::string(reinterpret_cast<const char*>(expected), sizeof expected));
}

TEST(crypto, constant_time_equal_and_wipe) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    std::string s = "secret";
    wipe(s);
    EXPECT_TRUE(s.empty());
    EXPECT_EQ(random_bytes(32).size(), 32u);
    EXPECT_NE(random_bytes(16), random_bytes(16));
}
