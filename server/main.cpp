// mailgate entry point: hands argv to the command-line dispatcher.
#include "server/cli/commands.hpp"

int main(int argc, char** argv) { return mailgate::cli::run(argc, argv); }
