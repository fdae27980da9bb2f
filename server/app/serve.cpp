// Gateway startup and shutdown.
#include "server/app/serve.hpp"

#include "server/admin/admin_server.hpp"
#include "server/app/logging.hpp"
#include "server/net/listener.hpp"
#include "server/net/connection_limits.hpp"
#include "server/net/local_certificate.hpp"
#include "server/net/tls_contexts.hpp"
#include "server/proxy/imap_session.hpp"
#include "server/proxy/pop3_session.hpp"
#include "server/proxy/smtp_session.hpp"
#include "server/store/account_repository.hpp"
#include "server/store/crypto.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

std::string proxy_random_password() {
    static constexpr char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    std::string out;
    for (unsigned char c : store::random_bytes(20)) out += alphabet[c % (sizeof alphabet - 1)];
    return out;
}

bool implicit_tls(const std::string& name) { return name == "pop3s" || name == "imaps" || name == "smtps"; }

std::string describe(const std::string& name) {
    if (implicit_tls(name)) return "implicit TLS";
    return name == "pop3" ? "plaintext, STLS offered" : "plaintext, STARTTLS offered";
}

// Lets sessions finish for up to `grace`, then closes the rest (with their protocol's goodbye where one can be
// said) and stops the loops once they are gone or a second later.
void stop_after_grace(net::io_pool& io, proxy::activity& live, const net::connection_limits& limits,
                      std::chrono::seconds grace) {
    auto timer = std::make_shared<boost::asio::steady_timer>(io.main());
    auto deadline = std::chrono::steady_clock::now() + grace;
    auto closed = std::make_shared<bool>(false);
    auto poll = std::make_shared<std::function<void()>>();
    // The closure holds itself only weakly; the pending wait keeps it alive, so it is freed once polling ends.
    *poll = [&io, &live, &limits, timer, deadline, closed, self = std::weak_ptr(poll)] {
        auto now = std::chrono::steady_clock::now();
        if (limits.active() == 0 || now >= deadline + std::chrono::seconds(1)) {
            io.stop();
            return;
        }
        if (now >= deadline && !*closed) {
            *closed = true;
            spdlog::info("closing {} remaining session(s)", live.close_all_sessions(proxy::close_reason::shutdown_all));
        }
        timer->expires_after(std::chrono::milliseconds(100));
        timer->async_wait([poll = self.lock()](boost::system::error_code) { (*poll)(); });
    };
    // The first look comes after one interval, so that what stopping just cancelled (the accept loops, the token
    // service's timers) finishes normally rather than being destroyed half-way with the loops.
    timer->expires_after(std::chrono::milliseconds(100));
    timer->async_wait([poll](boost::system::error_code) { (*poll)(); });
}

// Each relayed session holds two sockets; the usual soft limit of 1024 would cap the gateway near 500 sessions.
// Returns the limit in force.
std::uint64_t raise_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur;
}

// The session cap that the descriptors allow: two per relayed session, and some for the database, the admin page
// and the listeners. Past it accept() would fail instead of the client hearing "too many connections".
net::connection_caps connection_caps_for(const config& c, std::uint64_t open_files) {
    net::connection_caps caps{c.max_sessions, c.max_sessions_per_address, c.max_prelogin_sessions, c.login_deadline};
    std::uint64_t reserve = 128;
    std::uint64_t fit = open_files > 2 * reserve ? (open_files - reserve) / 2 : 16;
    if (caps.sessions > fit) {
        spdlog::warn("limits.max_sessions {} lowered to {}: the open-file limit is {}", caps.sessions, fit, open_files);
        caps.sessions = fit;
    }
    return caps;
}

// The first start's admin password goes to a file only root (or the service user) can read, not to standard output:
// under systemd that is the journal. A person at a terminal also sees it there.
std::filesystem::path write_admin_password(const std::filesystem::path& data_dir, const std::string& password) {
    auto path = data_dir / "admin-password";
    std::filesystem::remove(path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
    std::string line = password + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    store::wipe(line);
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + path.string());
    return path;
}

} // namespace

int serve(const config& c) {
    setup_logging(c);
    auto open_files = raise_file_limit();
    bool data_dir_created = !std::filesystem::exists(c.data_dir);
    store::account_repository repository(c.data_dir);
    repository.oauth().sync_config_clients(c.oauth_clients);
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

    unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    net::io_pool io(threads);
    boost::asio::thread_pool store_pool(2);
    store::store_service store(repository, store_pool, {c.auth_kdf_threads, c.auth_kdf_queue, 4});

    oauth::token_service tokens(store, io.main().get_executor(), *upstream_tls, c.upstream_timeout);
    tokens.start();
    proxy::activity live;
    proxy::login_throttle throttle({.free_failures = c.auth_free_failures,
                                    .max_failures = c.auth_max_failures,
                                    .window = c.auth_failure_window,
                                    .max_delay = c.auth_max_delay});
    net::connection_limits limits(connection_caps_for(c, open_files));
    proxy::gateway_settings gateway{store, *server_tls, *upstream_tls, c.access_plaintext_auth,
                                    live,  throttle,    tokens,        c.upstream_timeout};
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

    // First start: a random admin password, shown once in the banner; only its hash is kept.
    std::string new_admin_password;
    std::filesystem::path admin_password_file;
    if (!repository.admin_password_hash()) {
        new_admin_password = proxy_random_password();
        admin_password_file = write_admin_password(data_dir, new_admin_password);
        repository.set_admin_password(new_admin_password);
    }
    std::shared_ptr<admin::admin_server> admin_http;
    if (auto it = c.listen.find("admin"); it != c.listen.end()) {
        const auto& address = it->second;
        std::vector<std::string> names{address.to_string(), "localhost:" + std::to_string(address.port)};
        if (address.host == "127.0.0.1" || address.host == "::1")
            names.push_back("127.0.0.1:" + std::to_string(address.port)), names.push_back("[::1]:" + std::to_string(address.port));
        for (const auto& n : c.admin_names) {
            names.push_back(n);
            names.push_back(n + ":" + std::to_string(address.port));
        }
        admin_http = std::make_shared<admin::admin_server>(
            io, address, c.access_allow, c.admin_tls ? server_tls.get() : nullptr,
            admin::api_settings{store, live, *upstream_tls, c.upstream_timeout, tokens, names, c.admin_tls});
        admin_http->start();
    }

    std::vector<std::shared_ptr<net::listener>> listeners;
    net::listener_settings settings{&c.access_allow, server_tls.get(), &limits};
    for (const auto& name : listener_names()) {
        auto it = c.listen.find(name);
        if (it == c.listen.end() || name == "admin") continue;
        net::listener_spec spec{name, it->second, implicit_tls(name)};
        std::shared_ptr<net::session_handler> handler = smtp;
        if (name == "pop3" || name == "pop3s") handler = pop3;
        if (name == "imap" || name == "imaps") handler = imap;
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
    if (auto admin = c.listen.find("admin"); admin != c.listen.end()) {
        std::cout << "  admin        " << admin->second.to_string() << "  web admin (" << (c.admin_tls ? "HTTPS" : "HTTP")
                  << ")\n";
        std::cout << "  admin URL    " << (c.admin_tls ? "https://" : "http://") << admin->second.to_string() << "/\n";
        if (!admin_password_file.empty()) {
            std::cout << "  admin password  in " << admin_password_file.string()
                      << " (mode 0600; delete it once read, change it with 'mailgate admin passwd')\n";
            if (::isatty(STDOUT_FILENO)) std::cout << "  admin password  " << new_admin_password << "\n";
        }
        store::wipe(new_admin_password);
    }
    std::cout << "Stop with Ctrl-C." << std::endl;
    spdlog::info("started: {} listener(s), data dir {}", listeners.size(), data_dir.string());

    boost::asio::signal_set signals(io.main(), SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: no longer accepting; waiting up to 10 s for {} session(s)", signal,
                     limits.active());
        for (auto& l : listeners) l->stop();
        if (admin_http) admin_http->stop();
        tokens.stop();
        live.close_all_sessions(proxy::close_reason::shutdown_idle); // idle dialogues need no grace
        stop_after_grace(io, live, limits, std::chrono::seconds(10));
    });

    io.run();
    store.stop();
    store_pool.join();
    spdlog::info("stopped");
    return 0;
}

} // namespace mailgate::app
