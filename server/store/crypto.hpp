// Cryptographic primitives for the store: random bytes, AES-256-GCM secret sealing, HMAC, constant-time compare.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailgate::store {

using master_key = std::array<std::uint8_t, 32>;

std::string random_bytes(std::size_t n);
// Lower-case hex of `bytes` (two characters per byte).
std::string to_hex(std::string_view bytes);

// Sealed form: version(1) || nonce(12) || ciphertext || tag(16). A fresh nonce on every call.
// `aad` binds the ciphertext to its context (the account id), so it cannot be moved elsewhere.
std::string seal(const master_key& key, std::string_view plaintext, std::string_view aad);
// nullopt when the key is wrong, the data was altered, or the aad differs.
std::optional<std::string> open(const master_key& key, std::string_view sealed, std::string_view aad);

std::string hmac_sha256(std::string_view key, std::string_view message);
// MD5 only where old login protocols fix it (APOP, CRAM-MD5): never to protect anything of ours.
std::string md5(std::string_view message);
std::string hmac_md5(std::string_view key, std::string_view message);
bool constant_time_equal(std::string_view a, std::string_view b);

// Overwrites a string's bytes before it is freed (secrets held in memory).
void wipe(std::string& s);

} // namespace mailgate::store
