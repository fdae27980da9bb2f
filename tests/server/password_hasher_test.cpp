// scrypt password hashing.
#include "server/store/password_hasher.hpp"

#include <gtest/gtest.h>

using namespace mailgate::store;

TEST(password_hasher, verify_with_production_parameters) {
    password_hasher hasher; // N = 2^17, r = 8, p = 1
    auto hash = hasher.hash("correct horse");
    EXPECT_TRUE(hash.starts_with("$scrypt$ln=17,r=8,p=1$")) << hash;
    EXPECT_EQ(hash.find("correct horse"), std::string::npos);
    EXPECT_TRUE(password_hasher::verify("correct horse", hash));
    EXPECT_FALSE(password_hasher::verify("correct horsE", hash));
    EXPECT_FALSE(password_hasher::verify("", hash));
}

TEST(password_hasher, salt_is_per_hash_and_parameters_travel) {
    password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});
    auto a = cheap.hash("pw");
    auto b = cheap.hash("pw");
    EXPECT_NE(a, b);
    EXPECT_TRUE(a.starts_with("$scrypt$ln=10,r=8,p=1$"));
    EXPECT_TRUE(password_hasher::verify("pw", a));
    EXPECT_TRUE(password_hasher::verify("pw", b));
}

TEST(password_hasher, malformed_or_absurd_hashes_never_verify) {
    for (const char* bad :
         {"", "plain", "$scrypt$ln=17,r=8,p=1$", "$scrypt$ln=17,r=8,p=1$AAAA$AAAA",
          "$scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
          "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"})
        EXPECT_FALSE(password_hasher::verify("pw", bad)) << bad;
}
