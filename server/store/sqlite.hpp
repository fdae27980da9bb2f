// Thin RAII wrapper over SQLite: a connection, prepared statements, and transactions. Failures throw.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace mailgate::store {

class sqlite_error : public std::runtime_error {
public:
    sqlite_error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
    int code() const { return code_; }
    bool is_constraint() const;

private:
    int code_;
};

class database;

class statement {
public:
    // Made by database::prepare(). With an `owner`, handed back to it (reset) when destroyed, else finalized.
    statement(sqlite3* db, sqlite3_stmt* compiled, database* owner = nullptr)
        : db_(db), stmt_(compiled), owner_(owner) {}
    statement(statement&& other) noexcept;
    statement& operator=(statement&&) = delete;
    ~statement();

    statement& bind(int index, std::int64_t value);
    statement& bind(int index, std::string_view text);
    statement& bind_blob(int index, std::string_view bytes);
    statement& bind_null(int index);

    bool step(); // true: a row is available
    void run();  // step to completion, expecting no rows
    void reset();

    std::int64_t column_int64(int index) const;
    std::string column_text(int index) const;
    std::string column_blob(int index) const;
    bool column_is_null(int index) const;
    std::optional<std::int64_t> column_optional_int64(int index) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    database* owner_ = nullptr;
};

class database {
public:
    // Opens (creating with mode 0600 when absent) in WAL mode with foreign keys on.
    explicit database(const std::filesystem::path& file);
    database(const database&) = delete;
    database& operator=(const database&) = delete;
    ~database();

    void exec(std::string_view sql);
    // Compiled once per SQL text and kept for the next prepare() of the same text: logins run the same dozen
    // queries every time, and compiling them was most of the store's CPU.
    statement prepare(std::string_view sql);
    std::int64_t last_insert_id() const;
    int changes() const;
    // Called with the table's name for every row this connection inserts, updates or deletes (sqlite3_update_hook;
    // not for a DELETE without WHERE, which the store never runs on the tables that matter).
    void on_row_change(void (*callback)(void* context, const char* table), void* context);
    // Changes when another connection (another process) commits to the database (PRAGMA data_version).
    std::int64_t data_version();

private:
    friend class statement;
    void give_back(sqlite3_stmt* compiled) noexcept;

    sqlite3* db_ = nullptr;
    std::mutex idle_mutex_;
    struct text_hash : std::hash<std::string_view> {
        using is_transparent = void; // looked up by string_view, without a std::string per prepare()
    };
    // reset statements by SQL text
    std::unordered_map<std::string, std::vector<sqlite3_stmt*>, text_hash, std::equal_to<>> idle_;
    std::size_t idle_count_ = 0;
    void (*row_callback_)(void*, const char*) = nullptr;
    void* row_context_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
class transaction {
public:
    explicit transaction(database& db);
    transaction(const transaction&) = delete;
    ~transaction();
    void commit();

private:
    database& db_;
    bool done_ = false;
};

} // namespace mailgate::store
