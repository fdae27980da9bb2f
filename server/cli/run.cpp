// Top-level dispatch: `mailgate [serve] ...`, `mailgate account ...`, `mailgate providers`.
#include "server/cli/commands.hpp"

#include "server/app/config.hpp"

#include <boost/program_options/errors.hpp>

#include <iostream>

namespace mailgate::cli {
namespace {

constexpr const char* top_usage = R"(Usage: mailgate [COMMAND] [OPTIONS]

A LAN mail gateway: legacy POP3/IMAP/SMTP clients in, providers over verified TLS out.

Commands:
  serve        run the gateway (the default when no command is given)
  account      manage accounts: add, list, show, remove, enable, disable, passwd, test
  providers    list the provider presets
  admin        admin passwd: set the admin page password
  queue        the SMTP spool: list, show, retry, delete

Every command takes --help, --data-dir DIR and --config FILE.
Options:
  --help       show this help
  --version    print the version
)";

} // namespace

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
            std::cout << top_usage;
            return 0;
        }
        if (!args.empty() && args[0] == "--version") {
            std::cout << "mailgate " << MAILGATE_VERSION << "\n";
            return 0;
        }
        if (args.empty() || args[0].starts_with("-")) return serve_command(args);
        std::string command = args[0];
        std::vector<std::string> rest(args.begin() + 1, args.end());
        if (command == "serve") return serve_command(rest);
        if (command == "account") return account_command(rest);
        if (command == "providers") return providers_command(rest);
        if (command == "admin") return admin_command(rest);
        if (command == "queue") return queue_command(rest);
        std::cerr << "mailgate: unknown command '" << command << "' (see mailgate --help)\n";
        return 2;
    } catch (const boost::program_options::error& e) {
        std::cerr << "mailgate: " << e.what() << "\n";
        return 2;
    } catch (const app::config_error& e) {
        std::cerr << "mailgate: configuration: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mailgate: " << e.what() << "\n";
        return 1;
    }
}

} // namespace mailgate::cli
