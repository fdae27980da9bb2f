// Messages and classes for upstream_errc.
#include "protocols/common/upstream_error.hpp"

#include <string>

namespace mailgate::protocols {
namespace {

class upstream_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "mailgate.upstream"; }
    std::string message(int value) const override {
        switch (static_cast<upstream_errc>(value)) {
        case upstream_errc::malformed_reply: return "provider sent a malformed reply";
        case upstream_errc::line_too_long: return "provider sent an over-long line";
        case upstream_errc::greeting_rejected: return "provider rejected the connection";
        case upstream_errc::starttls_unsupported: return "provider does not offer STARTTLS";
        case upstream_errc::starttls_refused: return "provider refused STARTTLS";
        case upstream_errc::data_after_starttls:
            return "provider sent data after the STARTTLS reply (injection)";
        case upstream_errc::no_usable_mechanism: return "provider offers no usable login method";
        case upstream_errc::credential_unencodable:
            return "stored credential contains a byte the protocol cannot carry";
        case upstream_errc::auth_rejected: return "provider rejected the stored credential";
        case upstream_errc::temporarily_unavailable: return "provider temporarily unavailable";
        case upstream_errc::closed: return "provider closed the connection";
        case upstream_errc::reply_too_large: return "provider sent a reply with too many lines or bytes";
        case upstream_errc::token_rejected: return "the provider refused the OAuth2 access token";
        case upstream_errc::command_refused: return "the provider refused a mailbox command";
        }
        return "unknown upstream error";
    }
};

} // namespace

const std::error_category& upstream_category() noexcept {
    static const upstream_category_impl category;
    return category;
}

upstream_failure_class classify(upstream_errc e) noexcept {
    switch (e) {
    case upstream_errc::starttls_unsupported:
    case upstream_errc::starttls_refused:
    case upstream_errc::data_after_starttls: return upstream_failure_class::tls;
    case upstream_errc::auth_rejected:
    case upstream_errc::token_rejected:
    case upstream_errc::credential_unencodable: return upstream_failure_class::auth;
    default: return upstream_failure_class::protocol;
    }
}

} // namespace mailgate::protocols
