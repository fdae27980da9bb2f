// IMAP session: the imap::server codec under the shared session driver.
#include "server/proxy/relay_session.hpp"

#include "protocols/imap/server.hpp"
#include "server/proxy/challenge_logins.hpp"
#include "server/proxy/session_driver.hpp"

namespace mailgate::proxy {

namespace imap = protocols::imap;

template <> std::string_view imap_session::refusal_line(net::refusal why) const {
    return imap::server::refusal_line(why);
}

template <>
boost::asio::awaitable<void> imap_session::serve(net::mail_stream& stream, const net::listener_spec&,
                                                 net::connection_slot& slot) {
    session_context label{"imap", slot.id(), stream.peer_address()};
    imap::server codec({.starttls_offered = !stream.tls_active(),
                        .plaintext_login_allowed = settings_.plaintext_auth.contains(stream.peer_address()),
                        .tls_active = stream.tls_active(),
                        .version = MAILGATE_VERSION,
                        .challenges = challenge_logins_for(settings_)});
    co_await drive_session(codec, stream, slot, settings_, label, domain::mail_protocol::imap);
}

} // namespace mailgate::proxy
