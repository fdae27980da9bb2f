// One delivery attempt of a spooled message: the account's provider session opened exactly as a live SMTP
// session opens it (verified TLS, the stored credential or OAuth2 token), then MAIL, the RCPTs still pending,
// DATA streamed from the spool file, and the verdict. Recipients' outcomes go into the delivery state: 2xx
// delivered, 5xx failed for good, 4xx and every connection or login failure left pending with last_error.
#pragma once

#include "server/proxy/gateway_settings.hpp"
#include "server/proxy/login_flow.hpp"
#include "server/proxy/session_context.hpp"
#include "server/spool/spool_directory.hpp"
#include "server/store/account.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>

namespace mailgate::proxy {

struct delivery_hooks {
    // Called right after the provider accepted the message and before anything else is sent (QUIT): the
    // delivered recipients must be on disk before a crash could make the gateway send the message again.
    std::function<boost::asio::awaitable<void>()> persist;
    // Called before the end-of-data marker goes out, with state.in_doubt set: durable, so that a crash before
    // the provider's reply is known as a possible duplicate at the next attempt. False: the message must not go
    // out now (another instance owns it); the transaction is abandoned without its end of data.
    std::function<boost::asio::awaitable<bool>()> before_end;
    // Receives a function that cuts the provider connection (shutdown); called with nullptr at the end.
    std::function<void(std::function<void()>)> set_closer;
};

// `session` is the account's provider session: opened when empty, reused (after RSET) when not, and left open
// for the account's next message unless the connection failed (then it is empty again).
// Returns the attempt's result for the metrics: "delivered", "deferred", "refused" (some 5xx), "connect".
boost::asio::awaitable<std::string>
deliver_spooled(const gateway_settings& settings, const session_context& label, const store::account& account,
                const spool::queued_message& message, const std::filesystem::path& file,
                spool::delivery_state& state, const delivery_hooks& hooks,
                std::optional<login_result>& session);
// QUIT and close, if a session is open.
boost::asio::awaitable<void> end_delivery_session(std::optional<login_result>& session);

} // namespace mailgate::proxy
