// Endpoint probe.
#include "server/proxy/upstream_probe.hpp"

#include "server/proxy/upstream_login.hpp"
#include "server/store/crypto.hpp"

#include <boost/asio/this_coro.hpp>

namespace mailgate::proxy {

boost::asio::awaitable<probe_result> probe_endpoint(const store::account& account, const net::upstream_endpoint& endpoint,
                                                    std::string secret, probe_settings settings,
                                                    const net::step_observer& observer) {
    net::upstream_connection connection(co_await boost::asio::this_coro::executor, settings.tls);
    auto codec = make_login_codec(endpoint, {account.remote_user, secret}, local_helo_name());
    store::wipe(secret);
    auto failure = co_await connection.open(endpoint, settings.timeout, observer);
    if (!failure) failure = co_await connection.drive(*codec, net::upstream_step::login, settings.timeout, observer);
    if (failure) {
        connection.close();
        co_return probe_result{false, status_for(failure->kind), failure->reason};
    }
    codec->logout();
    // A failed goodbye does not make the credential bad: it is reported but not recorded.
    auto goodbye = co_await connection.drive(*codec, net::upstream_step::logout, settings.timeout, observer);
    connection.close();
    co_return probe_result{!goodbye, store::upstream_status::ok, ""};
}

} // namespace mailgate::proxy
