// SQLite engine: statements compiled once and kept per SQL text, the update hook, data_version.
#include "server/store/sqlite.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

namespace mailgate::store {
namespace {

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view what) {
    throw store_error(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)),
                      (rc & 0xff) == SQLITE_CONSTRAINT);
}

} // namespace

class sqlite_statement final : public statement_impl {
public:
    // With an `owner`, given back to it when released, else finalized.
    sqlite_statement(sqlite3* db, sqlite3_stmt* compiled, sqlite_database* owner)
        : db_(db), stmt_(compiled), owner_(owner) {}
    ~sqlite_statement() override { sqlite3_finalize(stmt_); }

    void bind_int64(int index, std::int64_t value) override {
        if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) throw_error(db_, rc, "bind");
    }
    void bind_text(int index, std::string_view text) override {
        int rc =
            sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    }
    void bind_blob(int index, std::string_view bytes) override {
        int rc =
            sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
        if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    }
    void bind_null(int index) override {
        if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) throw_error(db_, rc, "bind");
    }
    bool step() override {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw_error(db_, rc, "step");
    }
    void reset() override {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::int64_t column_int64(int index) const override { return sqlite3_column_int64(stmt_, index); }
    std::string column_text(int index) const override {
        auto* p = sqlite3_column_text(stmt_, index);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)))
                 : std::string();
    }
    std::string column_blob(int index) const override {
        auto* p = sqlite3_column_blob(stmt_, index);
        return p ? std::string(static_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)))
                 : std::string();
    }
    bool column_is_null(int index) const override { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }
    void release() noexcept override {
        if (owner_)
            owner_->give_back(this);
        else
            delete this;
    }
    const char* sql() const { return sqlite3_sql(stmt_); }

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
    sqlite_database* owner_;
};

sqlite_database::sqlite_database(const std::filesystem::path& file) {
    // Create the file ourselves so it is 0600 from the first byte; SQLite gives -wal/-shm the same mode.
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw store_error("cannot open database " + file.string());
    ::close(fd);
    int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        throw store_error("cannot open database " + file.string() + ": " + message);
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
    install_update_hook();
}

sqlite_database::~sqlite_database() {
    idle_.clear(); // finalized before the connection closes
    sqlite3_close(db_);
}

statement sqlite_database::prepare(std::string_view sql) {
    if (auto* kept = idle_.take(sql)) return statement(kept);
    sqlite3_stmt* compiled = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &compiled, nullptr);
    if (rc != SQLITE_OK) throw_error(db_, rc, "prepare");
    // Kept only when its text is the lookup key (not so for SQL with trailing text after the statement).
    bool keyed = std::string_view(sqlite3_sql(compiled)) == sql;
    return statement(new sqlite_statement(db_, compiled, keyed ? this : nullptr));
}

void sqlite_database::give_back(sqlite_statement* compiled) noexcept {
    compiled->reset();
    if (!idle_.keep(compiled->sql(), compiled)) delete compiled;
}

void sqlite_database::install_update_hook() {
    // Not called for a DELETE without WHERE, which the store never runs on the tables that matter.
    sqlite3_update_hook(
        db_,
        [](void* self, int, const char*, const char* table, sqlite3_int64) {
            static_cast<sqlite_database*>(self)->report_row_change(table);
        },
        this);
}

std::int64_t sqlite_database::data_version() {
    auto query = prepare("PRAGMA data_version");
    query.step();
    return query.column_int64(0);
}

int sqlite_database::schema_version() {
    auto query = prepare("PRAGMA user_version");
    query.step();
    return static_cast<int>(query.column_int64(0));
}

void sqlite_database::set_schema_version(int version) {
    exec("PRAGMA user_version = " + std::to_string(version));
}

void sqlite_database::exec(std::string_view sql) {
    std::string text(sql);
    char* error = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = error ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw store_error("exec: " + message, (rc & 0xff) == SQLITE_CONSTRAINT);
    }
}

int sqlite_database::changes() const { return sqlite3_changes(db_); }

void sqlite_database::begin() { exec("BEGIN IMMEDIATE"); }
void sqlite_database::commit() { exec("COMMIT"); }
void sqlite_database::rollback() noexcept {
    try {
        exec("ROLLBACK");
    } catch (...) {}
}

} // namespace mailgate::store
