// POP3 session: the pop3::server codec under the shared session driver.
#include "server/proxy/pop3_session.hpp"

#include "protocols/pop3/server.hpp"
#include "server/proxy/session_driver.hpp"

namespace mailgate::proxy {

namespace asio = boost::asio;
namespace pop3 = protocols::pop3;

std::string_view pop3_session::refusal_line(net::refusal why) const {
    // RFC 3206: AUTH for a permanent refusal, SYS/TEMP for "try again later".
    if (why == net::refusal::not_allowed) return "-ERR [AUTH] mailgate: your network is not allowed\r\n";
    return "-ERR [SYS/TEMP] mailgate: too many connections, try again later\r\n";
}

asio::awaitable<void> pop3_session::serve(net::mail_stream& stream, const net::listener_spec&,
                                          net::connection_slot& slot) {
    session_label label{"pop3", next_session_id(), stream.peer_address()};
    pop3::server codec({.stls_offered = !stream.tls_active(),
                        .plaintext_login_allowed = settings_.plaintext_auth.contains(stream.peer_address()),
                        .tls_active = stream.tls_active()});
    co_await drive_session(codec, stream, slot, settings_, label, net::mail_protocol::pop3,
                           "-ERR [SYS/TEMP] mailgate is shutting down\r\n",
                           [](pop3::server& c, const login_result& r) {
                               switch (r.status) {
                               case login_status::ok: return c.login_result(pop3::login_outcome::ok);
                               case login_status::bad_credentials:
                                   return c.login_result(pop3::login_outcome::bad_credentials);
                               case login_status::provider_temporary:
                                   return c.login_result(pop3::login_outcome::provider_temp);
                               case login_status::provider_permanent:
                                   return c.login_result(pop3::login_outcome::provider_perm);
                               }
                           });
}

} // namespace mailgate::proxy
