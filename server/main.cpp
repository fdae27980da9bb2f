// mailgate entry point: hardens the process, then hands argv to the command-line dispatcher.
#include "server/app/process_hardening.hpp"
#include "server/cli/commands.hpp"

int main(int argc, char** argv) {
    mailgate::app::harden_process();
    return mailgate::cli::run(argc, argv);
}
