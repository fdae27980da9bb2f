// IMAP session: the imap::server codec under the shared session driver.
#include "server/proxy/imap_session.hpp"

#include "protocols/imap/client.hpp"
#include "protocols/imap/server.hpp"
#include "server/proxy/session_driver.hpp"

namespace mailgate::proxy {

namespace asio = boost::asio;
namespace imap = protocols::imap;

std::string_view imap_session::refusal_line(net::refusal why) const {
    if (why == net::refusal::not_allowed) return "* BYE [UNAVAILABLE] mailgate: your network is not allowed\r\n";
    return "* BYE [UNAVAILABLE] mailgate: too many connections, try again later\r\n";
}

asio::awaitable<void> imap_session::serve(net::mail_stream& stream, const net::listener_spec&,
                                          net::connection_slot& slot) {
    session_label label{"imap", next_session_id(), stream.peer_address()};
    imap::server codec({.starttls_offered = !stream.tls_active(),
                        .plaintext_login_allowed = settings_.plaintext_auth.contains(stream.peer_address()),
                        .tls_active = stream.tls_active(),
                        .version = MAILGATE_VERSION});
    co_await drive_session(codec, stream, slot, settings_, label, net::mail_protocol::imap,
                           "* BYE [UNAVAILABLE] mailgate is shutting down\r\n",
                           [](imap::server& c, const login_result& r) {
                               switch (r.status) {
                               case login_status::ok:
                                   return c.login_result(imap::login_outcome::ok,
                                                         static_cast<const imap::client&>(*r.codec).capability_atoms());
                               case login_status::bad_credentials:
                                   return c.login_result(imap::login_outcome::bad_credentials);
                               case login_status::provider_temporary:
                                   return c.login_result(imap::login_outcome::provider_temp);
                               case login_status::provider_permanent:
                                   return c.login_result(imap::login_outcome::provider_perm);
                               }
                           });
}

} // namespace mailgate::proxy
