// Gateway startup and shutdown.
#include "server/app/serve.hpp"

#include "server/admin/admin_server.hpp"
#include "server/admin/client_setup.hpp"
#include "server/admin/gateway_health.hpp"
#include "server/app/listener_table.hpp"
#include "server/app/logging.hpp"
#include "server/net/certificate_manager.hpp"
#include "server/net/connection_limits.hpp"
#include "server/net/listener.hpp"
#include "server/net/tls_contexts.hpp"
#include "server/proxy/account_watch.hpp"
#include "server/proxy/relay_session.hpp"
#include "server/proxy/sent_copy.hpp"
#include "server/proxy/smtp_session.hpp"
#include "server/proxy/spool_service.hpp"
#include "server/spool/instance_id.hpp"
#include "server/store/account_repository.hpp"
#include "server/store/crypto.hpp"
#include "server/store/open_database.hpp"
#include "server/store/store_service.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

namespace mailgate::app {
namespace {

std::string proxy_random_password() {
    static constexpr char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    std::string out;
    for (unsigned char c : store::random_bytes(20)) out += alphabet[c % (sizeof alphabet - 1)];
    return out;
}

// A listener once bound: with port 0 in the configuration only now is its port known.
struct bound_listener {
    const listener_entry& entry;
    net::host_port address;
};

// Autoconfig answers with the first tls.names entry (what the administrator wants clients to type) or else the host
// name; both are on the generated certificate.
admin::client_setup client_setup_for(const config& c, const std::vector<bound_listener>& bound) {
    admin::client_setup setup;
    if (!c.tls_names.empty()) {
        setup.server_name = c.tls_names.front();
    } else if (auto names = net::local_certificate_names({}, {}); !names.empty()) {
        setup.server_name = names.front();
    }
    for (const auto& b : bound) {
        std::optional<domain::mail_protocol> protocol;
        switch (b.entry.service) {
        case listener_service::pop3: protocol = domain::mail_protocol::pop3; break;
        case listener_service::imap: protocol = domain::mail_protocol::imap; break;
        case listener_service::smtp: protocol = domain::mail_protocol::smtp; break;
        case listener_service::admin: break;
        }
        if (protocol) setup.listeners.push_back({*protocol, b.address.port, b.entry.implicit_tls});
    }
    return setup;
}

// One "NAME HOST:PORT" line per listener, replaced in one rename so that a reader never sees half a file.
void write_ports_file(const std::filesystem::path& path, const std::vector<bound_listener>& bound) {
    auto temporary = path;
    temporary += ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(temporary, std::ios::trunc);
        for (const auto& b : bound) out << b.entry.name << ' ' << b.address.to_string() << '\n';
        out.flush();
        if (!out) throw std::runtime_error("--print-ports: cannot write " + temporary.string());
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) {
        std::filesystem::remove(temporary, ec);
        throw std::runtime_error("--print-ports: cannot write " + path.string());
    }
}

// Lets sessions finish for up to `grace`, then closes the rest (with their protocol's goodbye where one can be
// said); the loops stop once the last session has ended, or a second after the rest were closed.
void stop_after_grace(net::io_pool& io, proxy::activity& live, net::connection_limits& limits,
                      std::chrono::seconds grace) {
    auto stop = [&io] {
        // A moment first, so that what stopping just cancelled (the accept loops, the token service's timers)
        // finishes normally rather than being destroyed half-way with the loops.
        auto settle = std::make_shared<boost::asio::steady_timer>(io.main(), std::chrono::milliseconds(100));
        settle->async_wait([&io, settle](boost::system::error_code) { io.stop(); });
    };
    limits.when_drained([&io, stop] { boost::asio::post(io.main(), stop); });
    auto timer = std::make_shared<boost::asio::steady_timer>(io.main(), grace);
    timer->async_wait([&io, &live, timer](boost::system::error_code) {
        spdlog::info("closing {} remaining session(s)",
                     live.close_all_sessions(proxy::close_reason::shutdown_all));
        timer->expires_after(std::chrono::seconds(1));
        timer->async_wait([&io, timer](boost::system::error_code) { io.stop(); });
    });
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
    net::connection_caps caps{c.max_sessions, c.max_sessions_per_address, c.max_prelogin_sessions,
                              c.login_deadline};
    std::uint64_t reserve = 128;
    std::uint64_t fit = open_files > 2 * reserve ? (open_files - reserve) / 2 : 16;
    if (caps.sessions > fit) {
        spdlog::warn("limits.max_sessions {} lowered to {}: the open-file limit is {}", caps.sessions, fit,
                     open_files);
        caps.sessions = fit;
    }
    return caps;
}

// The first start's admin password goes to a file only root (or the service user) can read, not to standard output:
// under systemd that is the journal. A person at a terminal also sees it there.
std::filesystem::path write_admin_password(const std::filesystem::path& data_dir,
                                           const std::string& password) {
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

net::certificate_settings certificate_settings_for(const config& c, const std::filesystem::path& data_dir) {
    net::certificate_settings settings;
    for (std::size_t i = 0; i < c.tls_certs.size(); ++i)
        settings.configured.push_back({c.tls_certs[i], c.tls_keys[i]});
    settings.data_dir = data_dir;
    std::vector<std::string> hosts;
    for (const auto& [name, address] : c.listen) hosts.push_back(address.host);
    settings.generated.names = net::local_certificate_names(hosts, c.tls_names);
    settings.generated.use_ca = c.tls_local_ca;
    settings.floor = c.tls_min_version;
    return settings;
}

} // namespace

int serve(const config& c, const serve_options& options) {
    setup_logging(c);
    auto open_files = raise_file_limit();
    bool data_dir_created = !std::filesystem::exists(c.data_dir);
    store::account_repository repository(c.data_dir, c.store);
    repository.oauth().sync_config_clients(c.oauth_clients);
    auto data_dir = std::filesystem::canonical(c.data_dir);

    net::certificate_manager certificates(certificate_settings_for(c, data_dir));
    auto upstream_tls = net::make_upstream_context(c.upstream_ca_file, c.upstream_tls_resumption);

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
                                    .max_delay = c.auth_max_delay,
                                    .in_flight_counts_when_clean = false});
    net::connection_limits limits(connection_caps_for(c, open_files));
    proxy::gateway_settings gateway{store, certificates.tls(), *upstream_tls, c.access_plaintext_auth,
                                    live,  throttle,           tokens,        c.upstream_timeout};
    gateway.failed_login_delay = c.failed_login_delay;
    gateway.challenge_logins_over_tls = c.auth_challenge_logins_over_tls;
    if (c.max_upstream_per_account > 0)
        gateway.slots = std::make_shared<proxy::upstream_slots>(store, c.max_upstream_per_account);
    gateway.sent_spool = data_dir / "sent-spool";
    proxy::clear_sent_spool(gateway.sent_spool);
    auto pop3_settings = gateway;
    pop3_settings.login_timeout = c.pop3_login_timeout;
    pop3_settings.idle_timeout = c.pop3_idle_timeout;
    auto pop3 = std::make_shared<proxy::pop3_session>(pop3_settings);
    auto imap_settings = gateway;
    imap_settings.login_timeout = c.imap_login_timeout;
    imap_settings.idle_timeout = c.imap_idle_timeout;
    auto imap = std::make_shared<proxy::imap_session>(imap_settings);
    proxy::spool_policy spool_policy{.mode = *proxy::parse_spool_mode(c.smtp_spool),
                                     .max_bytes = c.smtp_spool_max_bytes,
                                     .retries = c.smtp_spool_retry,
                                     .lifetime = c.smtp_spool_lifetime,
                                     .max_deliveries = c.smtp_spool_deliveries,
                                     .max_per_account = c.smtp_spool_deliveries_per_account};
    // Started even with smtp.spool = off: messages queued before the mode changed are still delivered.
    proxy::spool_sharing sharing;
    if (repository.shared())
        sharing = {&repository.spool(), spool::load_or_create_instance_id(data_dir), c.smtp_spool_lease};
    proxy::spool_service spool(io.main().get_executor(), gateway, data_dir / "spool", spool_policy, sharing);
    spool.start();
    proxy::account_watch watch(io.main().get_executor(), store, live);
    watch.start();
    auto smtp = std::make_shared<proxy::smtp_session>(
        gateway, proxy::smtp_settings{c.access_relay_without_auth, c.smtp_command_timeout,
                                      c.smtp_data_timeout, c.smtp_max_message_size,
                                      spool_policy.mode == proxy::spool_mode::off ? nullptr : &spool,
                                      c.smtp_bare_lf_normalize});

    // First start: a random admin password, shown once in the banner; only its hash is kept.
    std::string new_admin_password;
    std::filesystem::path admin_password_file;
    if (!repository.admin_password_hash()) {
        new_admin_password = proxy_random_password();
        admin_password_file = write_admin_password(data_dir, new_admin_password);
        repository.set_admin_password(new_admin_password);
    }
    std::shared_ptr<admin::admin_server> admin_http;
    admin::gateway_health health;
    admin::client_setup setup; // filled once every listener is bound (port 0 picks one)
    std::vector<std::shared_ptr<net::listener>> listeners;
    std::vector<bound_listener> bound;
    net::listener_settings settings{&c.access_allow, &c.proxy_trusted, &certificates.tls(), &limits};
    for (const auto& entry : listener_table()) {
        auto it = c.listen.find(std::string(entry.name));
        if (it == c.listen.end()) continue;
        if (entry.service == listener_service::admin) {
            admin_http = std::make_shared<admin::admin_server>(
                io, it->second, c.access_allow, c.admin_tls ? &certificates.tls() : nullptr,
                admin::api_settings{store, live, *upstream_tls, c.upstream_timeout, tokens, c.admin_names,
                                    c.admin_tls, &spool, &certificates, &setup, &health});
            bound.push_back({entry, admin_http->address()});
            continue;
        }
        std::shared_ptr<net::session_handler> handler;
        switch (entry.service) {
        case listener_service::pop3: handler = pop3; break;
        case listener_service::imap: handler = imap; break;
        case listener_service::smtp: handler = smtp; break;
        case listener_service::admin: break;
        }
        net::listener_spec spec{std::string(entry.name), it->second, entry.implicit_tls,
                                c.proxy_protocol.contains(std::string(entry.name))};
        listeners.push_back(std::make_shared<net::listener>(io, spec, handler, settings));
        bound.push_back({entry, listeners.back()->spec().address});
    }
    setup = client_setup_for(c, bound);
    // Draining (SIGUSR1, POST /api/v1/drain): balancers see /healthz fail and send new clients elsewhere; the
    // closed listeners refuse them meanwhile; open sessions and the spool go on until they end or a SIGTERM.
    health.on_drain([&] {
        boost::asio::post(io.main(), [&] {
            for (auto& l : listeners) l->stop();
            spdlog::info("draining: mail listeners closed, /healthz reports not ready; {} session(s) open",
                         limits.active());
        });
    });
    if (admin_http) admin_http->start();
    for (auto& l : listeners) l->start();
    health.set_accepting();
    if (!options.ports_file.empty()) write_ports_file(options.ports_file, bound);

    std::cout << "mailgate " << MAILGATE_VERSION << " running\n";
    std::cout << "  data dir     " << data_dir.string() << (data_dir_created ? " (created)" : "") << "\n";
    std::cout << "  store        " << store::describe_location(c.data_dir, c.store) << "\n";
    if (spool.sharing().ledger)
        std::cout << "  spool        shared in the store, as instance " << spool.sharing().instance << "\n";
    std::cout << "  accounts     " << repository.list().size() << "\n";
    std::cout << "  certificate  " << certificates.describe() << ", clients from TLS "
              << net::to_string(c.tls_min_version) << "\n";
    if (auto trust = certificates.state().trust_file; !trust.empty())
        std::cout << "  client trust " << trust.string() << " (what clients install to trust the gateway)\n";
    for (const auto& b : bound) {
        bool admin = b.entry.service == listener_service::admin;
        auto what = admin ? std::string("web admin (") + (c.admin_tls ? "HTTPS" : "HTTP") + ")"
                          : std::string(describe_tls(b.entry));
        if (c.proxy_protocol.contains(std::string(b.entry.name)))
            what += ", PROXY protocol from " + c.proxy_trusted.to_string();
        std::cout << "  " << b.entry.name << std::string(13 - b.entry.name.size(), ' ')
                  << b.address.to_string() << "  " << what << "\n";
        if (!admin) continue;
        std::cout << "  admin URL    " << (c.admin_tls ? "https://" : "http://") << b.address.to_string()
                  << "/\n";
        if (!admin_password_file.empty()) {
            std::cout << "  admin password  in " << admin_password_file.string()
                      << " (mode 0600; delete it once read, change it with 'mailgate admin passwd')\n";
            if (::isatty(STDOUT_FILENO)) std::cout << "  admin password  " << new_admin_password << "\n";
        }
    }
    store::wipe(new_admin_password);
    std::cout << "Stop with Ctrl-C." << std::endl;
    spdlog::info("started: {} listener(s), data dir {}", listeners.size(), data_dir.string());

    boost::asio::signal_set signals(io.main(), SIGINT, SIGTERM);

    // SIGHUP reloads the certificates (after certbot and the like replaced them); an hourly check renews the
    // generated ones before they end and picks up configured files that changed.
    boost::asio::signal_set hangup(io.main(), SIGHUP);
    std::function<void()> await_hangup = [&] {
        hangup.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            certificates.reload();
            await_hangup();
        });
    };
    await_hangup();
    boost::asio::steady_timer certificate_check(io.main());
    std::function<void()> schedule_check = [&] {
        certificate_check.expires_after(std::chrono::hours(1));
        certificate_check.async_wait([&](boost::system::error_code ec) {
            if (ec) return;
            certificates.check();
            schedule_check();
        });
    };
    schedule_check();
    boost::asio::signal_set drain_signal(io.main(), SIGUSR1);
    drain_signal.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) health.drain();
    });
    signals.async_wait([&](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: no longer accepting; waiting up to 10 s for {} session(s)", signal,
                     limits.active());
        for (auto& l : listeners) l->stop();
        if (admin_http) admin_http->stop();
        tokens.stop();
        spool.stop(); // a delivery cut off mid-way is tried again at the next start
        watch.stop();
        live.close_all_sessions(proxy::close_reason::shutdown_idle); // idle dialogues need no grace
        hangup.cancel();
        drain_signal.cancel();
        certificate_check.cancel();
        stop_after_grace(io, live, limits, std::chrono::seconds(10));
    });

    io.run();
    store.stop();
    store_pool.join();
    spdlog::info("stopped");
    return 0;
}

} // namespace mailgate::app
