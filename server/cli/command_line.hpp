// Shared command-line plumbing for subcommands: option parsing with --help, config loading, error reporting.
#pragma once

#include "server/app/config.hpp"

#include <boost/program_options.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mailgate::cli {

namespace po = boost::program_options;

struct parsed_command {
    po::variables_map values;
    app::config config;
};

// Parses args (after the subcommand words) with `own` options plus every configuration key. Prints help and
// returns nullopt for --help. `positional` names positional options in order. Throws po::error / config_error.
std::optional<parsed_command> parse_command(const std::vector<std::string>& args, const std::string& usage,
                                            po::options_description own,
                                            const std::vector<std::string>& positional = {});

// The password for `what` from environment variable `env`, else a no-echo prompt on the terminal (asked twice
// when `confirm`). Throws when neither is available.
std::string read_secret(const char* env, const std::string& what, bool confirm);

} // namespace mailgate::cli
