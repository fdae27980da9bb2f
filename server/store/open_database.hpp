// Which engine holds the store: `store` empty (the default) is data_dir/mailgate.db in SQLite; a
// postgresql://... (or postgres://...) URI is a PostgreSQL database shared by several instances.
#pragma once

#include "server/store/database.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace mailgate::store {

// Whether `store` names PostgreSQL; anything else than empty or such a URI is refused by open_database.
bool is_postgresql_location(const std::string& store);

// Creates the data dir (0700) when absent, then opens the store. Throws store_error.
std::unique_ptr<database> open_database(const std::filesystem::path& data_dir, const std::string& store);

// The location without its password, for banners and logs.
std::string describe_location(const std::filesystem::path& data_dir, const std::string& store);

} // namespace mailgate::store
