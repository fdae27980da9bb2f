// Why a listener turns a connection away before any codec runs; each server codec words it for its protocol.
#pragma once

namespace mailgate::protocols {

enum class refusal {
    not_allowed, // the client's network is not in access.allow
    busy,        // too many connections (overall or from this address)
};

} // namespace mailgate::protocols
