// `mailgate serve [OPTIONS]`.
#include "server/app/serve.hpp"
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"

namespace mailgate::cli {

int serve_command(const std::vector<std::string>& args) {
    auto parsed = parse_command(args, "mailgate [serve] [OPTIONS]", po::options_description("Options"));
    if (!parsed) return 0;
    return app::serve(parsed->config);
}

} // namespace mailgate::cli
