// `mailgate providers`: the preset table.
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"
#include "server/domain/providers.hpp"

#include <iostream>

namespace mailgate::cli {

int providers_command(const std::vector<std::string>& args) {
    if (!parse_command(args, "mailgate providers [OPTIONS]", po::options_description("Options"))) return 0;
    for (const auto& p : domain::provider_presets()) {
        std::cout << p.name << "  (" << p.title << ")\n";
        std::cout << "  imap: " << (p.imap.empty() ? "-" : p.imap) << "\n";
        std::cout << "  pop3: " << (p.pop3.empty() ? "-" : p.pop3) << "\n";
        std::cout << "  smtp: " << (p.smtp.empty() ? "-" : p.smtp) << "\n";
        std::cout << "  login: " << p.login_advice << "\n";
    }
    std::cout
        << "custom  (any provider)\n  give --imap, --pop3 and/or --smtp URLs: imaps:// or imap+starttls://, "
           "pop3s:// or pop3+starttls://, smtps:// or smtp+starttls://\n";
    return 0;
}

} // namespace mailgate::cli
