// The admin page's HTTP(S) server (Boost.Beast): accepts on listen.admin, reads requests with size limits and
// deadlines, and hands them to admin_api.
#pragma once

#include "server/admin/admin_api.hpp"
#include "server/net/cidr.hpp"
#include "server/net/host_port.hpp"
#include "server/net/io_pool.hpp"
#include "server/net/server_tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace mailgate::admin {

class admin_server : public std::enable_shared_from_this<admin_server> {
public:
    // Binds now (errors name listen.admin; port 0 gets a free port). `tls` non-null: HTTPS with the local
    // certificate. `settings.host_names` holds the extra names (admin.names); the names of the bound address
    // are added here, since with port 0 only the bind knows the port they carry.
    admin_server(net::io_pool& pool, const net::host_port& address, const net::cidr_list& allow,
                 const net::server_tls* tls, api_settings settings);

    void start();
    void stop();
    // The address it listens on, with the port it got.
    const net::host_port& address() const { return address_; }

private:
    boost::asio::awaitable<void> accept_loop();
    template <class Stream> boost::asio::awaitable<void> serve(Stream& stream, std::string client);
    boost::asio::awaitable<void> session(boost::asio::ip::tcp::socket socket);

    net::io_pool& pool_;
    const net::cidr_list& allow_;
    const net::server_tls* tls_;
    boost::asio::ip::tcp::acceptor acceptor_;
    net::host_port address_;
    admin_api api_;
};

} // namespace mailgate::admin
