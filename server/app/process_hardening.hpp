// Process-wide protections applied before any command runs: a peer that closes early must never end the process,
// and secrets in memory must never reach a core dump or another user's debugger.
#pragma once

namespace mailgate::app {

// SIGPIPE ignored (OpenSSL writes to sockets with write(), which raises it when the peer has gone), and the
// process made non-dumpable (no core file, no ptrace by other non-root users).
void harden_process();

} // namespace mailgate::app
