// Gateway startup and shutdown.
#include "server/app/serve.hpp"

#include "server/app/logging.hpp"
#include "server/net/listener.hpp"
#include "server/net/local_certificate.hpp"
#include "server/net/tls_contexts.hpp"
#include "server/proxy/imap_session.hpp"
#include "server/proxy/pop3_session.hpp"
#include "server/proxy/smtp_session.hpp"
#include "server/proxy/unavailable_session.hpp"
#include "server/store/account_repository.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <iostream>
#include <thread>

namespace mailgate::app {
namespace {

net::min_tls to_min_tls(tls_version v) {
    switch (v) {
    case tls_version::v1_0: return net::min_tls::v1_0;
    case tls_version::v1_1: return net::min_tls::v1_1;
    case tls_version::v1_2: return net::min_tls::v1_2;
    case tls_version::v1_3: return net::min_tls::v1_3;
    }
    return net::min_tls::v1_2;
}

bool implicit_tls(const std::string& name) { return name == "pop3s" || name == "imaps" || name == "smtps"; }

std::string describe(const std::string& name) {
    if (name == "admin") return "web admin (HTTP)";
    if (implicit_tls(name)) return "implicit TLS";
    return name == "pop3" ? "plaintext, STLS offered" : "plaintext, STARTTLS offered";
}

// Drains the sessions for up to `grace`, then stops the loop.
void stop_after_grace(boost::asio::io_context& io, std::chrono::seconds grace) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io);
    auto deadline = std::chrono::steady_clock::now() + grace;
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [&io, timer, deadline, poll] {
        if (net::listener::active_sessions() == 0 || std::chrono::steady_clock::now() >= deadline) {
            io.stop();
            return;
        }
        timer->expires_after(std::chrono::milliseconds(100));
        timer->async_wait([poll](boost::system::error_code) { (*poll)(); });
    };
    (*poll)();
}

// Each relayed session holds two sockets; the usual soft limit of 1024 would cap the gateway near 500 sessions.
void raise_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

} // namespace

int serve(const config& c) {
    setup_logging(c);
    raise_file_limit();
    bool data_dir_created = !std::filesystem::exists(c.data_dir);
    store::account_repository repository(c.data_dir);
    auto data_dir = std::filesystem::canonical(c.data_dir);

    std::filesystem::path cert = c.tls_cert, key = c.tls_key;
    std::string cert_note = "configured";
    if (cert.empty()) {
        auto local = net::ensure_local_certificate(data_dir);
        cert = local.cert;
        key = local.key;
        cert_note = local.created ? "self-signed, created now" : "self-signed";
    }
    auto server_tls = net::make_server_context(cert, key, to_min_tls(c.tls_min_version));
    auto upstream_tls = net::make_upstream_context(c.upstream_ca_file);

    boost::asio::io_context io;
    boost::asio::thread_pool store_pool(2);
    store::store_service store(repository, store_pool);

    proxy::activity live;
    proxy::gateway_settings gateway{store, *server_tls, *upstream_tls, c.access_plaintext_auth, live, c.upstream_timeout};
    gateway.failed_login_delay = c.failed_login_delay;
    auto pop3_settings = gateway;
    pop3_settings.login_timeout = c.pop3_login_timeout;
    pop3_settings.idle_timeout = c.pop3_idle_timeout;
    auto pop3 = std::make_shared<proxy::pop3_session>(pop3_settings);
    auto imap_settings = gateway;
    imap_settings.login_timeout = c.imap_login_timeout;
    imap_settings.idle_timeout = c.imap_idle_timeout;
    auto imap = std::make_shared<proxy::imap_session>(imap_settings);
    auto smtp = std::make_shared<proxy::smtp_session>(
        gateway, proxy::smtp_settings{c.access_relay_without_auth, c.smtp_command_timeout, c.smtp_data_timeout,
                                      c.smtp_max_message_size});

    std::vector<std::shared_ptr<net::listener>> listeners;
    net::listener_settings settings{&c.access_allow, server_tls.get()};
    for (const auto& name : listener_names()) {
        auto it = c.listen.find(name);
        if (it == c.listen.end()) continue;
        net::listener_spec spec{name, it->second, implicit_tls(name)};
        std::shared_ptr<net::session_handler> handler = proxy::unavailable_session::for_listener(name);
        if (name == "pop3" || name == "pop3s") handler = pop3;
        if (name == "imap" || name == "imaps") handler = imap;
        if (name == "smtp" || name == "smtps") handler = smtp;
        listeners.push_back(std::make_shared<net::listener>(io, spec, handler, settings));
    }
    for (auto& l : listeners) l->start();

    std::cout << "mailgate " << MAILGATE_VERSION << " running\n";
    std::cout << "  data dir     " << data_dir.string() << (data_dir_created ? " (created)" : "") << "\n";
    std::cout << "  accounts     " << repository.list().size() << "\n";
    std::cout << "  certificate  " << cert.string() << " (" << cert_note << "), clients from TLS "
              << to_string(c.tls_min_version) << "\n";
    for (const auto& l : listeners) {
        std::cout << "  " << l->spec().name << std::string(13 - l->spec().name.size(), ' ')
                  << l->spec().address.to_string() << "  " << describe(l->spec().name) << "\n";
    }
    if (auto admin = c.listen.find("admin"); admin != c.listen.end())
        std::cout << "  admin URL    http://" << admin->second.to_string() << "/\n";
    std::cout << "Stop with Ctrl-C." << std::endl;
    spdlog::info("started: {} listener(s), data dir {}", listeners.size(), data_dir.string());

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: no longer accepting; waiting up to 10 s for {} session(s)", signal,
                     net::listener::active_sessions());
        for (auto& l : listeners) l->stop();
        stop_after_grace(io, std::chrono::seconds(10));
    });

    unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    std::vector<std::thread> workers;
    for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : workers) t.join();
    store_pool.join();
    spdlog::info("stopped");
    return 0;
}

} // namespace mailgate::app
