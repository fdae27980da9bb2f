// `mailgate admin passwd`: sets the admin page's password.
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"
#include "server/store/account_repository.hpp"

#include <iostream>

namespace mailgate::cli {

int admin_command(const std::vector<std::string>& args) {
    if (args.empty() || args[0] != "passwd") {
        bool help = !args.empty() && (args[0] == "--help" || args[0] == "-h");
        (help ? std::cout : std::cerr)
            << "Usage: mailgate admin passwd [OPTIONS]\n\nSets the admin page password "
               "(MAILGATE_ADMIN_PASSWORD, else a prompt).\n";
        return help ? 0 : 2;
    }
    std::vector<std::string> rest(args.begin() + 1, args.end());
    auto parsed = parse_command(rest, "mailgate admin passwd [OPTIONS]", po::options_description("Options"));
    if (!parsed) return 0;
    auto password = read_secret("MAILGATE_ADMIN_PASSWORD", "New admin password", true);
    store::account_repository repo(parsed->config.data_dir, parsed->config.store);
    repo.set_admin_password(password);
    store::wipe(password);
    // The first start's password file now names a password that no longer works.
    std::error_code ignored;
    std::filesystem::remove(std::filesystem::path(parsed->config.data_dir) / "admin-password", ignored);
    std::cout << "admin password changed\n";
    return 0;
}

} // namespace mailgate::cli
