// mail_stream: plaintext, then an in-session TLS upgrade on the same object (STARTTLS), verified by a real
// asio::ssl client against the generated local certificate; and the client role against a real server.
#include "server/net/local_certificate.hpp"
#include "server/net/mail_stream.hpp"
#include "server/net/tls_contexts.hpp"

#include "temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <array>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace mailgate;

namespace {

asio::awaitable<std::string> read_line(net::mail_stream& s) {
    std::string line;
    char c;
    while (co_await s.read_some(asio::buffer(&c, 1)) == 1) {
        line += c;
        if (line.ends_with("\r\n")) break;
    }
    co_return line;
}

} // namespace

TEST(mail_stream, plaintext_then_starttls_on_the_same_object) {
    temp_dir tmp;
    auto files = net::ensure_local_certificates(tmp.path, {});
    EXPECT_FALSE(files.renewed.empty());
    auto server_ctx = net::make_server_context(files.pairs, net::min_tls::v1_2);
    asio::ssl::context client_ctx(asio::ssl::context::tls_client);
    client_ctx.load_verify_file(files.trust_file.string());
    client_ctx.set_verify_mode(asio::ssl::verify_peer);

    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::vector<std::string> server_saw;
    std::string client_saw, peer, tls_version;

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            net::mail_stream stream(co_await acceptor.async_accept(asio::use_awaitable));
            peer = stream.peer_address();
            EXPECT_FALSE(stream.tls_active());
            server_saw.push_back(co_await read_line(stream));
            co_await stream.write(asio::buffer(std::string("+OK begin TLS\r\n")));
            stream.begin_tls(*server_ctx, net::tls_role::server);
            co_await stream.handshake();
            EXPECT_TRUE(stream.tls_active());
            tls_version = stream.tls_version();
            server_saw.push_back(co_await read_line(stream));
            co_await stream.write(asio::buffer(std::string("+OK secret channel\r\n")));
            server_saw.push_back(co_await read_line(stream)); // EOF -> empty
        },
        asio::detached);

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::ssl::stream<tcp::socket> client(io, client_ctx);
            co_await client.next_layer().async_connect(acceptor.local_endpoint(), asio::use_awaitable);
            co_await asio::async_write(client.next_layer(), asio::buffer(std::string("STLS\r\n")),
                                       asio::use_awaitable);
            std::string buf;
            co_await asio::async_read_until(client.next_layer(), asio::dynamic_buffer(buf), "\r\n",
                                            asio::use_awaitable);
            EXPECT_EQ(buf, "+OK begin TLS\r\n");
            client.set_verify_callback(asio::ssl::host_name_verification("localhost"));
            co_await client.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
            co_await asio::async_write(client, asio::buffer(std::string("CAPA\r\n")), asio::use_awaitable);
            buf.clear();
            co_await asio::async_read_until(client, asio::dynamic_buffer(buf), "\r\n", asio::use_awaitable);
            client_saw = buf;
            co_await client.async_shutdown(asio::use_awaitable);
        },
        asio::detached);

    io.run();
    EXPECT_EQ(peer, "127.0.0.1");
    EXPECT_EQ(server_saw, (std::vector<std::string>{"STLS\r\n", "CAPA\r\n", ""}));
    EXPECT_EQ(client_saw, "+OK secret channel\r\n");
    EXPECT_TRUE(tls_version == "TLSv1.3" || tls_version == "TLSv1.2") << tls_version;
}

TEST(mail_stream, large_transfers_both_roles_and_eof) {
    temp_dir tmp;
    auto files = net::ensure_local_certificates(tmp.path, {});
    auto server_ctx = net::make_server_context(files.pairs, net::min_tls::v1_2);
    auto client_ctx = net::make_upstream_context(files.trust_file);
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::string payload(3 * 1024 * 1024 + 17, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + i / 1000);
    std::string received;
    bool server_done = false;

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            net::mail_stream s(co_await acceptor.async_accept(asio::use_awaitable));
            s.begin_tls(*server_ctx, net::tls_role::server);
            co_await s.handshake();
            co_await s.write(asio::buffer(payload)); // larger than any TLS record or socket buffer
            s.close();
            server_done = true;
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            tcp::socket socket(io);
            co_await socket.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
            net::mail_stream s(std::move(socket));
            SSL* ssl = s.begin_tls(*client_ctx, net::tls_role::client);
            SSL_set1_host(ssl, "localhost");
            co_await s.handshake();
            std::array<char, 5000> buf;
            for (;;) {
                co_await s.wait_readable();
                auto n = co_await s.read_some(asio::buffer(buf));
                if (n == 0) break;
                received.append(buf.data(), n);
            }
        },
        asio::detached);
    io.run();
    EXPECT_TRUE(server_done);
    EXPECT_EQ(received.size(), payload.size());
    EXPECT_TRUE(received == payload);
}

TEST(mail_stream, client_role_rejects_a_wrong_host_name) {
    temp_dir tmp;
    auto files = net::ensure_local_certificates(tmp.path, {});
    auto server_ctx = net::make_server_context(files.pairs, net::min_tls::v1_2);
    auto client_ctx = net::make_upstream_context(files.trust_file);
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    bool client_failed = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            net::mail_stream s(co_await acceptor.async_accept(asio::use_awaitable));
            s.begin_tls(*server_ctx, net::tls_role::server);
            try {
                co_await s.handshake();
            } catch (const boost::system::system_error&) {}
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            tcp::socket socket(io);
            co_await socket.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
            net::mail_stream s(std::move(socket));
            SSL_set1_host(s.begin_tls(*client_ctx, net::tls_role::client), "mail.example.com");
            try {
                co_await s.handshake();
            } catch (const boost::system::system_error&) {
                client_failed = SSL_get_verify_result(s.ssl()) == X509_V_ERR_HOSTNAME_MISMATCH;
            }
        },
        asio::detached);
    io.run();
    EXPECT_TRUE(client_failed);
}
