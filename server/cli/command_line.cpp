// Subcommand option parsing and secret input.
#include "server/cli/command_line.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace mailgate::cli {

std::optional<parsed_command> parse_command(const std::vector<std::string>& args, const std::string& usage,
                                            po::options_description own,
                                            const std::vector<std::string>& positional) {
    own.add_options()("help,h", "show this help");
    po::options_description all;
    all.add(own).add(app::config_options(true));
    po::positional_options_description pos;
    for (const auto& name : positional) pos.add(name.c_str(), 1);
    parsed_command out;
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), out.values);
    if (out.values.count("help")) {
        std::cout << "Usage: " << usage << "\n\n" << own << "\n" << app::config_options(true) << "\n";
        return std::nullopt;
    }
    po::notify(out.values);
    out.config = app::load_config(out.values);
    return out;
}

namespace {

std::string prompt_no_echo(int fd, const std::string& prompt) {
    (void)!::write(fd, prompt.data(), prompt.size());
    termios old{};
    bool restore = ::tcgetattr(fd, &old) == 0;
    if (restore) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
    if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
    (void)!::write(fd, "\n", 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

} // namespace

std::string read_secret(const char* env, const std::string& what, bool confirm) {
    if (const char* value = std::getenv(env)) {
        if (*value == '\0') throw std::runtime_error(std::string(env) + " is set but empty");
        return value;
    }
    int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("no terminal to ask for the " + what + "; set " + env);
    std::string first = prompt_no_echo(fd, what + ": ");
    if (confirm && prompt_no_echo(fd, "Again: ") != first) {
        ::close(fd);
        throw std::runtime_error("the two entries differ");
    }
    ::close(fd);
    if (first.empty()) throw std::runtime_error("an empty " + what + " is not allowed");
    return first;
}

} // namespace mailgate::cli
