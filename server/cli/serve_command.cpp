// `mailgate serve [OPTIONS]`.
#include "server/app/serve.hpp"
#include "server/cli/command_line.hpp"
#include "server/cli/commands.hpp"

namespace mailgate::cli {

int serve_command(const std::vector<std::string>& args) {
    po::options_description own("Options");
    own.add_options()("print-ports", po::value<std::string>()->value_name("FILE"),
                      "once every listener is bound, write one line 'NAME HOST:PORT' per listener to FILE "
                      "(replaced atomically; the real ports, also of listen.NAME = HOST:0)");
    auto parsed = parse_command(args, "mailgate [serve] [OPTIONS]", own);
    if (!parsed) return 0;
    app::serve_options options;
    if (auto it = parsed->values.find("print-ports"); it != parsed->values.end())
        options.ports_file = it->second.as<std::string>();
    return app::serve(parsed->config, options);
}

} // namespace mailgate::cli
