// `mailgate account test NAME`: probes every configured protocol and prints one line per step.
#include "server/cli/cli_store.hpp"
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"
#include "server/net/tls_contexts.hpp"
#include "server/proxy/upstream_probe.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

namespace mailgate::cli {

int account_test_command(const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("name", po::value<std::string>(), "account name");
    auto parsed = parse_command(args, "mailgate account test NAME", own, {"name"});
    if (!parsed) return 0;
    if (!parsed->values.count("name")) throw po::required_option("name");
    auto name = parsed->values["name"].as<std::string>();
    const auto& config = parsed->config;

    store::account_repository repo(config.data_dir, config.store);
    auto account = repo.find(name);
    if (!account) {
        std::cerr << "mailgate: " << account.error().message << "\n";
        return 1;
    }
    auto tls = net::make_upstream_context(config.upstream_ca_file);
    boost::asio::io_context io;
    cli_store local(repo, io.get_executor(), *tls, config.upstream_timeout);
    bool all_ok = true;
    auto observer = [](net::upstream_step step, bool ok, const std::string& detail) {
        std::cout << "  " << (ok ? "\u2713 " : "\u2717 ") << net::to_string(step)
                  << (detail.empty() ? "" : ": ") << detail << std::endl;
    };
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            for (const auto& [protocol, record] : account->endpoints) {
                std::cout << domain::to_string(protocol) << " " << record.endpoint.url() << std::endl;
                auto result =
                    co_await proxy::probe_endpoint(*account, record.endpoint, local.access(), observer);
                repo.record_status(account->id, protocol, result.status,
                                   result.reason); // the CLI has no I/O to stall
                all_ok = all_ok && result.ok;
            }
        },
        [&io](std::exception_ptr e) {
            io.stop(); // the token service's timers would keep run() going
            if (e) std::rethrow_exception(e);
        });
    io.run();
    std::cout << (all_ok ? "all checks passed" : "some checks failed") << std::endl;
    return all_ok ? 0 : 1;
}

} // namespace mailgate::cli
