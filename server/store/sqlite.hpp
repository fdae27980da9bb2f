// The embedded engine: one SQLite file in the data dir (WAL mode, foreign keys on), 0600 from its first byte.
#pragma once

#include "server/store/database.hpp"
#include "server/store/idle_statements.hpp"

#include <filesystem>

struct sqlite3;

namespace mailgate::store {

class sqlite_statement;

class sqlite_database final : public database {
public:
    // Opens (creating with mode 0600 when absent).
    explicit sqlite_database(const std::filesystem::path& file);
    sqlite_database(const sqlite_database&) = delete;
    sqlite_database& operator=(const sqlite_database&) = delete;
    ~sqlite_database() override;

    sql_dialect dialect() const override { return sql_dialect::sqlite; }
    void exec(std::string_view sql) override;
    // Compiled once per SQL text and kept for the next prepare() of the same text (idle_statements).
    statement prepare(std::string_view sql) override;
    int changes() const override;
    // PRAGMA data_version.
    std::int64_t data_version() override;
    int schema_version() override;
    void set_schema_version(int version) override;
    void begin() override;
    void commit() override;
    void rollback() noexcept override;

private:
    friend class sqlite_statement;
    void give_back(sqlite_statement* compiled) noexcept;
    void install_update_hook();

    sqlite3* db_ = nullptr;
    idle_statements<sqlite_statement> idle_;
};

} // namespace mailgate::store
