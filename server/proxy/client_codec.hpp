// The provider-facing codec of one login, by protocol: the common contract for the driver and the capabilities,
// and the SMTP codec by its own type for the transactions a submission session runs through it.
#pragma once

#include "protocols/imap/client.hpp"
#include "protocols/pop3/client.hpp"
#include "protocols/smtp/client.hpp"

#include <memory>
#include <variant>

namespace mailgate::proxy {

class client_codec {
public:
    client_codec() = default;
    template <class Codec> explicit client_codec(std::unique_ptr<Codec> codec) : codec_(std::move(codec)) {}

    explicit operator bool() const { return base() != nullptr; }
    protocols::upstream_codec& operator*() const { return *base(); }
    protocols::upstream_codec* operator->() const { return base(); }
    // Null unless this is an SMTP login.
    protocols::smtp::client* smtp() const {
        auto* p = std::get_if<std::unique_ptr<protocols::smtp::client>>(&codec_);
        return p ? p->get() : nullptr;
    }
    void reset() { codec_ = std::monostate{}; }

private:
    protocols::upstream_codec* base() const {
        return std::visit(
            [](const auto& c) -> protocols::upstream_codec* {
                if constexpr (std::is_same_v<std::decay_t<decltype(c)>, std::monostate>)
                    return nullptr;
                else
                    return c.get();
            },
            codec_);
    }

    std::variant<std::monostate, std::unique_ptr<protocols::pop3::client>,
                 std::unique_ptr<protocols::imap::client>, std::unique_ptr<protocols::smtp::client>>
        codec_;
};

} // namespace mailgate::proxy
