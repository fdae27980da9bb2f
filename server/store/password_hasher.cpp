// scrypt via EVP_KDF; the encoded form keeps its parameters so they can be raised later.
#include "server/store/password_hasher.hpp"

#include "protocols/common/base64.hpp"
#include "server/store/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>

namespace mailgate::store {
namespace {

constexpr std::size_t salt_size = 16;
constexpr std::size_t hash_size = 32;

std::optional<std::string> derive(std::string_view password, std::string_view salt, const scrypt_params& p) {
    std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr),
                                                          EVP_KDF_free);
    if (!kdf) throw std::runtime_error("scrypt is not available in this OpenSSL");
    std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()),
                                                                  EVP_KDF_CTX_free);
    std::uint64_t n = std::uint64_t{1} << p.log2_n;
    std::uint32_t r = p.r, par = p.p;
    std::uint64_t maxmem = 129 * n * r * par + (std::uint64_t{64} << 20);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(password.data()),
                                          password.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &par),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    std::string out(hash_size, '\0');
    if (!ctx ||
        EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params) != 1)
        return std::nullopt;
    return out;
}

} // namespace

std::string password_hasher::hash(std::string_view password) const {
    std::string salt = random_bytes(salt_size);
    auto derived = derive(password, salt, params_);
    if (!derived) throw std::runtime_error("scrypt derivation failed");
    char head[64];
    std::snprintf(head, sizeof head, "$scrypt$ln=%u,r=%u,p=%u$", unsigned(params_.log2_n),
                  unsigned(params_.r), unsigned(params_.p));
    return head + protocols::base64_encode(salt) + "$" + protocols::base64_encode(*derived);
}

bool password_hasher::verify(std::string_view password, std::string_view encoded) {
    unsigned ln = 0, r = 0, p = 0;
    int consumed = 0;
    std::string text(encoded);
    if (std::sscanf(text.c_str(), "$scrypt$ln=%u,r=%u,p=%u$%n", &ln, &r, &p, &consumed) != 3 || consumed == 0)
        return false;
    // Bounds keep a corrupted row from demanding absurd memory or time.
    if (ln < 10 || ln > 22 || r == 0 || r > 32 || p == 0 || p > 16) return false;
    auto rest = std::string_view(text).substr(static_cast<std::size_t>(consumed));
    auto dollar = rest.find('$');
    if (dollar == std::string_view::npos) return false;
    auto salt = protocols::base64_decode(rest.substr(0, dollar));
    auto expected = protocols::base64_decode(rest.substr(dollar + 1));
    if (!salt || !expected || expected->size() != hash_size) return false;
    auto derived = derive(password, *salt, {static_cast<std::uint8_t>(ln), r, p});
    return derived && constant_time_equal(*derived, *expected);
}

} // namespace mailgate::store
