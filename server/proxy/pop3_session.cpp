// POP3 session: the pop3::server codec under the shared session driver.
#include "server/proxy/relay_session.hpp"

#include "protocols/pop3/server.hpp"
#include "server/proxy/challenge_logins.hpp"
#include "server/proxy/session_driver.hpp"

namespace mailgate::proxy {

namespace pop3 = protocols::pop3;

template <> std::string_view pop3_session::refusal_line(net::refusal why) const {
    return pop3::server::refusal_line(why);
}

template <>
boost::asio::awaitable<void> pop3_session::serve(net::mail_stream& stream, const net::listener_spec&,
                                                 net::connection_slot& slot) {
    session_context label{"pop3", slot.id(), stream.peer_address()};
    pop3::server codec({.stls_offered = !stream.tls_active(),
                        .plaintext_login_allowed = settings_.plaintext_auth.contains(stream.peer_address()),
                        .tls_active = stream.tls_active(),
                        .challenges = challenge_logins_for(settings_)});
    maildrop_session maildrop(settings_, label);
    co_await drive_session(codec, stream, slot, settings_, label, domain::mail_protocol::pop3, &maildrop);
}

} // namespace mailgate::proxy
