// The CLI's subcommands; each takes the words after its name and returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace mailgate::cli {

int run(int argc, char** argv);

int serve_command(const std::vector<std::string>& args);
int account_command(const std::vector<std::string>& args);
int account_test_command(const std::vector<std::string>& args);
int account_oauth_command(const std::vector<std::string>& args);
int providers_command(const std::vector<std::string>& args);
int admin_command(const std::vector<std::string>& args);
int queue_command(const std::vector<std::string>& args);

} // namespace mailgate::cli
