// Signal and dump settings shared by every subcommand.
#include "server/app/process_hardening.hpp"

#include <csignal>

#include <sys/prctl.h>

namespace mailgate::app {

void harden_process() {
    // A write to a socket whose peer closed then fails with EPIPE, which ends one session, not the gateway.
    std::signal(SIGPIPE, SIG_IGN);
    // The master key and decrypted provider secrets live in this process: no core dump may carry them.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

} // namespace mailgate::app
