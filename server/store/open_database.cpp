// Picks and opens the store's engine.
#include "server/store/open_database.hpp"

#include "server/store/postgres_database.hpp"
#include "server/store/sqlite.hpp"

#include <sys/stat.h>

namespace mailgate::store {

bool is_postgresql_location(const std::string& store) {
    return store.starts_with("postgresql://") || store.starts_with("postgres://");
}

std::unique_ptr<database> open_database(const std::filesystem::path& data_dir, const std::string& store) {
    std::error_code ec;
    if (!std::filesystem::exists(data_dir, ec)) {
        std::filesystem::create_directories(data_dir);
        ::chmod(data_dir.c_str(), 0700);
    }
    if (store.empty()) return std::make_unique<sqlite_database>(data_dir / "mailgate.db");
    if (is_postgresql_location(store)) return std::make_unique<postgres_database>(store);
    throw store_error("store: '" + describe_location(data_dir, store) +
                      "' is neither empty (SQLite in the data dir) nor a postgresql:// URI");
}

std::string describe_location(const std::filesystem::path& data_dir, const std::string& store) {
    if (store.empty()) return (data_dir / "mailgate.db").string() + " (SQLite)";
    // postgresql://user:secret@host/db -> postgresql://user@host/db; password=... parameters are dropped too.
    std::string shown = store;
    auto scheme_end = shown.find("://");
    if (scheme_end != std::string::npos) {
        auto authority = scheme_end + 3;
        auto at = shown.find('@', authority);
        auto slash = shown.find('/', authority);
        if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
            auto colon = shown.find(':', authority);
            if (colon != std::string::npos && colon < at) shown.erase(colon, at - colon);
        }
    }
    for (auto at = shown.find("password="); at != std::string::npos; at = shown.find("password=")) {
        auto end = shown.find('&', at);
        shown.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
    }
    while (!shown.empty() && (shown.back() == '&' || shown.back() == '?')) shown.pop_back();
    return is_postgresql_location(store) ? shown + " (PostgreSQL)" : shown;
}

} // namespace mailgate::store
