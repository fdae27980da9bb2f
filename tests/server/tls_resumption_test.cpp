// TLS resumption on both sides, with real OpenSSL over loopback sockets: the provider-facing session cache
// (net/tls_session_cache) through upstream_connection, and the LAN side's rotating ticket keys (net/ticket_keys).
#include "server/net/local_certificate.hpp"
#include "server/net/mail_stream.hpp"
#include "server/net/ticket_keys.hpp"
#include "server/net/tls_contexts.hpp"
#include "server/net/tls_session_cache.hpp"
#include "server/net/upstream_connection.hpp"

#include "temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <thread>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace mailgate;

namespace {

struct handshake_seen {
    bool client_resumed = false;
    bool server_resumed = false;
    std::string client_error;
    std::string greeting;
};

// One implicit-TLS connection: the server greets and waits for EOF; the client reads the greeting (which also
// makes it process the TLS 1.3 tickets sent after the handshake) and closes.
handshake_seen connect_once(asio::ssl::context& server_ctx, asio::ssl::context& client_ctx,
                            std::uint16_t port = 0, std::uint16_t* bound = nullptr) {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), true);
    if (bound) *bound = acceptor.local_endpoint().port();
    handshake_seen seen;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            net::mail_stream stream(co_await acceptor.async_accept(asio::use_awaitable));
            stream.begin_tls(server_ctx, net::tls_role::server);
            co_await stream.handshake();
            seen.server_resumed = SSL_session_reused(stream.ssl()) == 1;
            co_await stream.write(asio::buffer(std::string("* OK hello\r\n")));
            char c;
            while (co_await stream.read_some(asio::buffer(&c, 1)) == 1) {}
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            net::upstream_connection up(co_await asio::this_coro::executor, client_ctx);
            domain::upstream_endpoint endpoint{domain::mail_protocol::imap, protocols::upstream_tls::implicit,
                                               "localhost", acceptor.local_endpoint().port()};
            auto failure = co_await up.open(endpoint, std::chrono::seconds(10));
            if (failure) {
                seen.client_error = failure->reason;
                co_return;
            }
            seen.client_resumed = up.tls().resumed;
            char buf[64];
            auto n = co_await up.stream().read_some(asio::buffer(buf));
            seen.greeting.assign(buf, n);
            up.close();
        },
        asio::detached);
    io.run_for(std::chrono::seconds(20));
    return seen;
}

struct contexts {
    temp_dir tmp;
    net::local_certificate_set files = net::ensure_local_certificates(tmp.path, {});
    std::shared_ptr<asio::ssl::context> server = net::make_server_context(files.pairs, net::min_tls::v1_2);
    std::shared_ptr<asio::ssl::context> client = net::make_upstream_context(files.trust_file);
    std::uint16_t port =
        0; // the cache is per host:port, so every connection of a test uses the first one's port
    handshake_seen connect(asio::ssl::context& server_ctx, asio::ssl::context& client_ctx) {
        return connect_once(server_ctx, client_ctx, port, port ? nullptr : &port);
    }
};

} // namespace

TEST(tls_resumption, upstream_tls13_resumes_with_tickets_used_once) {
    contexts c;
    auto first = c.connect(*c.server, *c.client);
    ASSERT_EQ(first.client_error, "");
    EXPECT_EQ(first.greeting, "* OK hello\r\n");
    EXPECT_FALSE(first.client_resumed);
    for (int i = 0; i < 3; ++i) {
        auto again = c.connect(*c.server, *c.client);
        ASSERT_EQ(again.client_error, "");
        EXPECT_TRUE(again.client_resumed) << i;
        EXPECT_TRUE(again.server_resumed) << i;
    }
    auto stats = net::resumption_stats(c.client->native_handle());
    EXPECT_EQ(stats.offered, 3u);
    EXPECT_EQ(stats.resumed, 3u);
    EXPECT_GE(stats.stored, 4u); // at least one new ticket per connection
    EXPECT_NE(net::upstream_resumption_metrics(c.client->native_handle())
                  .find("mailgate_upstream_tls_resumed_total 3"),
              std::string::npos);
}

TEST(tls_resumption, upstream_tls12_reuses_its_session) {
    contexts c;
    SSL_CTX_set_max_proto_version(c.client->native_handle(), TLS1_2_VERSION);
    ASSERT_EQ(c.connect(*c.server, *c.client).client_error, "");
    for (int i = 0; i < 2; ++i) {
        auto again = c.connect(*c.server, *c.client);
        ASSERT_EQ(again.client_error, "");
        EXPECT_TRUE(again.client_resumed) << i;
    }
}

TEST(tls_resumption, off_means_every_handshake_is_full) {
    contexts c;
    auto plain = net::make_upstream_context(c.files.trust_file, false);
    for (int i = 0; i < 2; ++i) {
        auto seen = c.connect(*c.server, *plain);
        ASSERT_EQ(seen.client_error, "");
        EXPECT_FALSE(seen.client_resumed);
    }
    EXPECT_EQ(net::upstream_resumption_metrics(plain->native_handle()), "");
}

TEST(tls_resumption, a_session_is_never_offered_to_another_server_identity) {
    contexts c;
    ASSERT_EQ(c.connect(*c.server, *c.client).client_error, "");
    // Another server on the same host:port whose certificate the client does not trust: the session cached for
    // host:port is offered, cannot be opened there, and the full handshake's chain check refuses the server.
    temp_dir other_dir;
    auto other = net::ensure_local_certificates(other_dir.path, {});
    auto other_server = net::make_server_context(other.pairs, net::min_tls::v1_2);
    auto seen = c.connect(*other_server, *c.client);
    EXPECT_NE(seen.client_error.find("certificate verification failed"), std::string::npos)
        << seen.client_error;
}

TEST(tls_resumption, lan_tickets_survive_one_rotation_and_unknown_keys_fall_back) {
    contexts c;
    net::enable_rotating_tickets(c.server->native_handle(), std::chrono::seconds(2));
    ASSERT_EQ(c.connect(*c.server, *c.client).client_error, "");
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    auto second = c.connect(*c.server, *c.client); // its new ticket is issued under the first key
    EXPECT_TRUE(second.server_resumed);
    std::this_thread::sleep_for(std::chrono::milliseconds(1200)); // the first key is now the previous one
    auto third = c.connect(*c.server, *c.client);
    EXPECT_TRUE(third.server_resumed);
    // A server with its own keys (a restarted gateway) cannot open the ticket: a full handshake, which works.
    auto restarted = net::make_server_context(c.files.pairs, net::min_tls::v1_2);
    auto fresh = c.connect(*restarted, *c.client);
    EXPECT_EQ(fresh.client_error, "");
    EXPECT_FALSE(fresh.server_resumed);
    EXPECT_EQ(fresh.greeting, "* OK hello\r\n");
}
