// The client-side stream: plaintext, then an in-session TLS upgrade on the same object (STARTTLS), verified by a
// real OpenSSL client against the generated local certificate.
#include "server/net/client_stream.hpp"
#include "server/net/local_certificate.hpp"
#include "server/net/tls_contexts.hpp"

#include "temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace mailgate;

namespace {

asio::awaitable<std::string> read_line(net::client_stream& s) {
    std::string line;
    char c;
    while (co_await s.read_some(asio::buffer(&c, 1)) == 1) {
        line += c;
        if (line.ends_with("\r\n")) break;
    }
    co_return line;
}

} // namespace

TEST(client_stream, plaintext_then_starttls_on_the_same_object) {
    temp_dir tmp;
    auto files = net::ensure_local_certificate(tmp.path);
    EXPECT_TRUE(files.created);
    auto server_ctx = net::make_server_context(files.cert, files.key, net::min_tls::v1_2);
    asio::ssl::context client_ctx(asio::ssl::context::tls_client);
    client_ctx.load_verify_file(files.cert.string());
    client_ctx.set_verify_mode(asio::ssl::verify_peer);

    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::vector<std::string> server_saw;
    std::string client_saw, peer, tls_version;

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        net::client_stream stream(co_await acceptor.async_accept(asio::use_awaitable));
        peer = stream.peer_address();
        EXPECT_FALSE(stream.tls_active());
        server_saw.push_back(co_await read_line(stream));
        co_await stream.write(asio::buffer(std::string("+OK begin TLS\r\n")));
        co_await stream.start_tls(*server_ctx);
        EXPECT_TRUE(stream.tls_active());
        tls_version = stream.tls_version();
        server_saw.push_back(co_await read_line(stream));
        co_await stream.write(asio::buffer(std::string("+OK secret channel\r\n")));
        server_saw.push_back(co_await read_line(stream)); // EOF -> empty
    }, asio::detached);

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        asio::ssl::stream<tcp::socket> client(io, client_ctx);
        co_await client.next_layer().async_connect(acceptor.local_endpoint(), asio::use_awaitable);
        co_await asio::async_write(client.next_layer(), asio::buffer(std::string("STLS\r\n")), asio::use_awaitable);
        std::string buf;
        co_await asio::async_read_until(client.next_layer(), asio::dynamic_buffer(buf), "\r\n", asio::use_awaitable);
        EXPECT_EQ(buf, "+OK begin TLS\r\n");
        client.set_verify_callback(asio::ssl::host_name_verification("localhost"));
        co_await client.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        co_await asio::async_write(client, asio::buffer(std::string("CAPA\r\n")), asio::use_awaitable);
        buf.clear();
        co_await asio::async_read_until(client, asio::dynamic_buffer(buf), "\r\n", asio::use_awaitable);
        client_saw = buf;
        co_await client.async_shutdown(asio::use_awaitable);
    }, asio::detached);

    io.run();
    EXPECT_EQ(peer, "127.0.0.1");
    EXPECT_EQ(server_saw, (std::vector<std::string>{"STLS\r\n", "CAPA\r\n", ""}));
    EXPECT_EQ(client_saw, "+OK secret channel\r\n");
    EXPECT_TRUE(tls_version == "TLSv1.3" || tls_version == "TLSv1.2") << tls_version;
}

TEST(client_stream, local_certificate_is_reused_not_recreated) {
    temp_dir tmp;
    auto first = net::ensure_local_certificate(tmp.path);
    auto second = net::ensure_local_certificate(tmp.path);
    EXPECT_TRUE(first.created);
    EXPECT_FALSE(second.created);
    EXPECT_EQ(first.cert, second.cert);
}
