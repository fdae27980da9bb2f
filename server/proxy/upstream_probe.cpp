// Endpoint probe.
#include "server/proxy/upstream_probe.hpp"

#include "server/proxy/failure_report.hpp"
#include "server/proxy/upstream_login.hpp"

namespace mailgate::proxy {

boost::asio::awaitable<probe_result> probe_endpoint(const store::account& account,
                                                    const domain::upstream_endpoint& endpoint,
                                                    const provider_access& access,
                                                    const net::step_observer& observer) {
    auto login = co_await log_in_to_provider(access, account, endpoint, observer);
    if (login.failure) {
        // No step ran: the credential itself was not usable (OAuth2 waiting for consent, say).
        if (login.failure->kind == domain::failure::needs_consent && observer)
            observer(net::upstream_step::login, false, login.failure->reason);
        co_return probe_result{
            false, account_status(login.failure->kind).value_or(store::upstream_status::protocol_error),
            login.failure->reason};
    }
    login.codec->logout();
    // A failed goodbye does not make the credential bad: it is reported but not recorded.
    auto goodbye =
        co_await login.connection->drive(*login.codec, net::upstream_step::logout, access.timeout, observer);
    login.connection->close();
    co_return probe_result{!goodbye, store::upstream_status::ok, ""};
}

} // namespace mailgate::proxy
