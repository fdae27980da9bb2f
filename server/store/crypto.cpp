// OpenSSL EVP-based implementations of the store's primitives.
#include "server/store/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace mailgate::store {
namespace {

constexpr std::uint8_t seal_version = 1;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

} // namespace

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return out;
}

std::string seal(const master_key& key, std::string_view plaintext, std::string_view aad) {
    std::string nonce = random_bytes(nonce_size);
    std::string out(1 + nonce_size + plaintext.size() + tag_size, '\0');
    out[0] = static_cast<char>(seal_version);
    out.replace(1, nonce_size, nonce);
    auto* body = reinterpret_cast<unsigned char*>(out.data()) + 1 + nonce_size;

    cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), bytes(nonce)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), body, &len, bytes(plaintext), static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), body + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size, body + plaintext.size()) != 1)
        throw std::runtime_error("AES-256-GCM encryption failed");
    return out;
}

std::optional<std::string> open(const master_key& key, std::string_view sealed, std::string_view aad) {
    if (sealed.size() < 1 + nonce_size + tag_size || static_cast<std::uint8_t>(sealed[0]) != seal_version)
        return std::nullopt;
    auto nonce = sealed.substr(1, nonce_size);
    auto body = sealed.substr(1 + nonce_size, sealed.size() - 1 - nonce_size - tag_size);
    std::string tag(sealed.substr(sealed.size() - tag_size));
    std::string out(body.size(), '\0');

    cipher_ctx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
    int len = 0;
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), bytes(nonce)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), dst, &len, bytes(body), static_cast<int>(body.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), dst + len, &len) != 1) {
        wipe(out);
        return std::nullopt;
    }
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(message), message.size(), out,
              &len))
        throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string md5(std::string_view message) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(message.data(), message.size(), out, &len, EVP_md5(), nullptr))
        throw std::runtime_error("MD5 failed");
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string hmac_md5(std::string_view key, std::string_view message) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), bytes(message), message.size(), out, &len))
        throw std::runtime_error("HMAC-MD5 failed");
    return std::string(reinterpret_cast<char*>(out), len);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(std::string& s) {
    OPENSSL_cleanse(s.data(), s.size());
    s.clear();
}

} // namespace mailgate::store
