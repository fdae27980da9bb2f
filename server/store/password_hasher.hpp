// Local password hashing with scrypt (OpenSSL EVP_KDF) and a per-account salt; parameters travel in the hash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailgate::store {

struct scrypt_params {
    std::uint8_t log2_n = 17; // OWASP: N = 2^17, r = 8, p = 1 (128 MiB, a few hundred ms)
    std::uint32_t r = 8;
    std::uint32_t p = 1;
};

class password_hasher {
public:
    explicit password_hasher(scrypt_params params = {}) : params_(params) {}

    // "$scrypt$ln=17,r=8,p=1$<salt b64>$<hash b64>"
    std::string hash(std::string_view password) const;
    // Uses the parameters stored in `encoded`; false for a malformed hash. Compares in constant time.
    static bool verify(std::string_view password, std::string_view encoded);

private:
    scrypt_params params_;
};

} // namespace mailgate::store
