// CIDR parsing and matching on raw address bytes.
#include "server/net/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace mailgate::net {
namespace {

struct raw_address {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};
};

std::optional<raw_address> parse_address(std::string_view text) {
    std::string s(text);
    raw_address out;
    if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) return out;
    if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(out.bytes.data(), mapped, 12) == 0) {
            std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
            std::memset(out.bytes.data() + 4, 0, 12);
            return out;
        }
        out.v6 = true;
        return out;
    }
    return std::nullopt;
}

} // namespace

std::optional<cidr> cidr::parse(std::string_view text) {
    auto slash = text.find('/');
    auto address = parse_address(text.substr(0, slash));
    if (!address) return std::nullopt;
    unsigned max = address->v6 ? 128 : 32;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || prefix > max)
            return std::nullopt;
    }
    cidr out;
    out.v6_ = address->v6;
    out.bytes_ = address->bytes;
    out.prefix_ = prefix;
    out.text_ = std::string(text);
    return out;
}

bool cidr::contains(std::string_view address) const {
    auto peer = parse_address(address);
    if (!peer || peer->v6 != v6_) return false;
    unsigned full = prefix_ / 8, rest = prefix_ % 8;
    if (std::memcmp(peer->bytes.data(), bytes_.data(), full) != 0) return false;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (peer->bytes[full] & mask) == (bytes_[full] & mask);
}

std::optional<cidr_list> cidr_list::parse(std::string_view text, std::string* bad_item) {
    cidr_list out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find_first_of(", \t", pos);
        if (end == std::string_view::npos) end = text.size();
        auto item = text.substr(pos, end - pos);
        pos = end + 1;
        if (item.empty()) continue;
        auto parsed = cidr::parse(item);
        if (!parsed) {
            if (bad_item) *bad_item = std::string(item);
            return std::nullopt;
        }
        out.items_.push_back(std::move(*parsed));
    }
    return out;
}

bool cidr_list::contains(std::string_view address) const {
    for (const auto& item : items_)
        if (item.contains(address)) return true;
    return false;
}

std::string cidr_list::to_string() const {
    std::string out;
    for (const auto& item : items_) out += (out.empty() ? "" : " ") + item.to_string();
    return out;
}

} // namespace mailgate::net
