// Client-network lists (access.allow and friends): CIDR prefixes matched against peer addresses.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::net {

class cidr {
public:
    // "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128).
    static std::optional<cidr> parse(std::string_view text);

    // `address` is textual; IPv4-mapped IPv6 (::ffff:a.b.c.d, from dual-stack sockets) matches IPv4 prefixes.
    bool contains(std::string_view address) const;
    std::string to_string() const { return text_; }

private:
    bool v6_ = false;
    std::array<std::uint8_t, 16> bytes_{};
    unsigned prefix_ = 0;
    std::string text_;
};

class cidr_list {
public:
    // Comma- and/or space-separated prefixes; nullopt names nothing: the caller reports the key.
    static std::optional<cidr_list> parse(std::string_view text, std::string* bad_item = nullptr);

    bool contains(std::string_view address) const;
    bool empty() const { return items_.empty(); }
    std::string to_string() const;

private:
    std::vector<cidr> items_;
};

} // namespace mailgate::net
