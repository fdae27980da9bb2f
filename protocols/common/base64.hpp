// Base64 (RFC 4648 §4) for SASL exchanges; decoding is strict (no whitespace, correct padding).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailgate::protocols {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

} // namespace mailgate::protocols
