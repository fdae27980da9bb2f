// How a provider connection gets its TLS: at once (imaps, pop3s, smtps) or by STARTTLS, which must succeed.
#pragma once

namespace mailgate::protocols {

enum class upstream_tls { implicit, starttls };

} // namespace mailgate::protocols
