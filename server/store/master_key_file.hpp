// The 32-byte master key file beside the database: created once, never silently replaced.
#pragma once

#include "server/store/crypto.hpp"

#include <filesystem>
#include <stdexcept>

namespace mailgate::store {

class key_file_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Loads `path`; creates it (0600, random) only when `may_create` (no database exists yet).
// Throws key_file_error when missing, wrongly sized, or readable by group/others.
master_key load_or_create_master_key(const std::filesystem::path& path, bool may_create);

} // namespace mailgate::store
