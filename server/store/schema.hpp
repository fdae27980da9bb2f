// Versioned schema: migrations applied in order, tracked by PRAGMA user_version.
#pragma once

#include "server/store/sqlite.hpp"

namespace mailgate::store {

// Brings the database to the newest schema; refuses a database newer than this binary.
void migrate(database& db);
int schema_version();

} // namespace mailgate::store
