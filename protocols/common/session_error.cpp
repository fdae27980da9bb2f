// Messages for session_errc.
#include "protocols/common/session_error.hpp"

#include <string>

namespace mailgate::protocols {
namespace {

class session_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "mailgate.session"; }
    std::string message(int value) const override {
        switch (static_cast<session_errc>(value)) {
        case session_errc::client_quit: return "client quit";
        case session_errc::client_closed: return "client closed the connection";
        case session_errc::line_too_long: return "command line too long";
        case session_errc::too_many_failures: return "too many failed logins";
        case session_errc::garbage: return "client sent bytes that are not the protocol";
        case session_errc::tls_on_plaintext: return "client started TLS on the plaintext port";
        case session_errc::upstream_failed: return "the mail provider failed during the session";
        case session_errc::internal_error: return "internal error: the gateway's data breaks the protocol";
        }
        return "unknown session error";
    }
};

} // namespace

const std::error_category& session_category() noexcept {
    static const session_category_impl category;
    return category;
}

} // namespace mailgate::protocols
