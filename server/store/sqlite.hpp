// The embedded engine: one SQLite file in the data dir (WAL mode, foreign keys on), 0600 from its first byte.
#pragma once

#include "server/store/database.hpp"

#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

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
    // Compiled once per SQL text and kept for the next prepare() of the same text: logins run the same dozen
    // queries every time, and compiling them was most of the store's CPU.
    statement prepare(std::string_view sql) override;
    int changes() const override;
    // sqlite3_update_hook: not called for a DELETE without WHERE, which the store never runs on the tables that
    // matter.
    void on_row_change(void (*callback)(void* context, const char* table), void* context) override;
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

    sqlite3* db_ = nullptr;
    std::mutex idle_mutex_;
    struct text_hash : std::hash<std::string_view> {
        using is_transparent = void; // looked up by string_view, without a std::string per prepare()
    };
    // reset statements by SQL text
    std::unordered_map<std::string, std::vector<sqlite_statement*>, text_hash, std::equal_to<>> idle_;
    std::size_t idle_count_ = 0;
    void (*row_callback_)(void*, const char*) = nullptr;
    void* row_context_ = nullptr;
};

} // namespace mailgate::store
