// Accepts connections on one configured address, applies access.allow and the connection caps before any TLS work,
// does implicit TLS when asked, and hands each connection to a protocol session handler on its own strand.
#pragma once

#include "protocols/common/refusal.hpp"
#include "server/net/cidr.hpp"
#include "server/net/connection_limits.hpp"
#include "server/net/host_port.hpp"
#include "server/net/io_pool.hpp"
#include "server/net/mail_stream.hpp"
#include "server/net/server_tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace mailgate::net {

struct listener_spec {
    std::string name; // configuration name, e.g. "pop3s"
    host_port address;
    bool implicit_tls = false;
    // A balancer in front sends a PROXY header first (listen.NAME.proxy_protocol); its client is the peer.
    bool proxy_protocol = false;
};

using refusal = protocols::refusal;

class session_handler {
public:
    virtual ~session_handler() = default;
    // A client from an allowed network within the caps; implicit TLS (if any) is already up. The session reports
    // its login to `slot` and keeps to its deadline.
    virtual boost::asio::awaitable<void> serve(mail_stream& stream, const listener_spec& spec,
                                               connection_slot& slot) = 0;
    // The protocol's greeting that refuses a client (outside access.allow, or over a cap) on a plaintext port.
    virtual std::string_view refusal_line(refusal why) const = 0;
};

struct listener_settings {
    const cidr_list* allow;
    const cidr_list* proxy_trusted; // who may send a PROXY header (proxy.trusted)
    const server_tls* tls;          // needed for implicit TLS
    connection_limits* limits;
};

class listener : public std::enable_shared_from_this<listener> {
public:
    // Binds now, so a busy or bad address stops startup with a message naming the configuration key. With
    // port 0 the kernel picks one; spec().address then holds the bound port.
    listener(io_pool& pool, listener_spec spec, std::shared_ptr<session_handler> handler,
             listener_settings settings);

    void start();
    void stop();
    const listener_spec& spec() const { return spec_; }

private:
    boost::asio::awaitable<void> accept_loop();
    // Reads the balancer's PROXY header, then admits the client it names.
    boost::asio::awaitable<void> admit_proxied(mail_stream stream);
    // access.allow and the caps for the client's address, then its session.
    void admit(mail_stream stream);
    boost::asio::awaitable<void> run_session(mail_stream stream, connection_slot slot);
    // Closes a client that is not served, with the protocol's refusal where it can be said without TLS work.
    void turn_away(mail_stream& stream, refusal why, std::string_view detail);

    io_pool& pool_;
    listener_spec spec_;
    std::shared_ptr<session_handler> handler_;
    listener_settings settings_;
    boost::asio::ip::tcp::acceptor acceptor_;
};

} // namespace mailgate::net
