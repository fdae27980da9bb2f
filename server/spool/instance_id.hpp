// This instance's name in the shared spool (store/spool_ledger.hpp): data_dir/instance-id, made once as
// "<host name>-<8 hex digits>" and kept, so that a restarted instance knows its own messages again. Each
// instance must have its own: the file is not copied with the master key.
#pragma once

#include <filesystem>
#include <string>

namespace mailgate::spool {

// Throws std::runtime_error when the file can be neither read nor made.
std::string load_or_create_instance_id(const std::filesystem::path& data_dir);

} // namespace mailgate::spool
