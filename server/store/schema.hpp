// Versioned schema: migrations applied in order, tracked per engine (SQLite: PRAGMA user_version).
#pragma once

#include "server/store/database.hpp"

namespace mailgate::store {

// Brings the database to the newest schema; refuses a database newer than this binary.
void migrate(database& db);
int schema_version();

} // namespace mailgate::store
