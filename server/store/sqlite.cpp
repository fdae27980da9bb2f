// SQLite wrapper implementation.
#include "server/store/sqlite.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

namespace mailgate::store {
namespace {

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view what) {
    throw sqlite_error(rc, std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

} // namespace

bool sqlite_error::is_constraint() const { return (code_ & 0xff) == SQLITE_CONSTRAINT; }

statement::statement(statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_), owner_(other.owner_) {
    other.stmt_ = nullptr;
}

statement::~statement() {
    if (owner_ && stmt_)
        owner_->give_back(stmt_);
    else
        sqlite3_finalize(stmt_);
}

statement& statement::bind(int index, std::int64_t value) {
    if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

statement& statement::bind(int index, std::string_view text) {
    int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

statement& statement::bind_blob(int index, std::string_view bytes) {
    int rc = sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

statement& statement::bind_null(int index) {
    if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) throw_error(db_, rc, "bind");
    return *this;
}

bool statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_error(db_, rc, "step");
}

void statement::run() {
    while (step()) {}
}

void statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t statement::column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string statement::column_text(int index) const {
    auto* p = sqlite3_column_text(stmt_, index);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)))
             : std::string();
}

std::string statement::column_blob(int index) const {
    auto* p = sqlite3_column_blob(stmt_, index);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)))
             : std::string();
}

bool statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

std::optional<std::int64_t> statement::column_optional_int64(int index) const {
    if (column_is_null(index)) return std::nullopt;
    return column_int64(index);
}

database::database(const std::filesystem::path& file) {
    // Create the file ourselves so it is 0600 from the first byte; SQLite gives -wal/-shm the same mode.
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw sqlite_error(SQLITE_CANTOPEN, "cannot open database " + file.string());
    ::close(fd);
    int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        throw sqlite_error(rc, "cannot open database " + file.string() + ": " + message);
    }
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
}

database::~database() {
    for (auto& [sql, compiled] : idle_)
        for (auto* stmt : compiled) sqlite3_finalize(stmt);
    sqlite3_close(db_);
}

statement database::prepare(std::string_view sql) {
    {
        std::lock_guard lock(idle_mutex_);
        if (auto it = idle_.find(sql); it != idle_.end() && !it->second.empty()) {
            auto* compiled = it->second.back();
            it->second.pop_back();
            --idle_count_;
            return statement(db_, compiled, this);
        }
    }
    sqlite3_stmt* compiled = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &compiled, nullptr);
    if (rc != SQLITE_OK) throw_error(db_, rc, "prepare");
    // Kept only when its text is the lookup key (not so for SQL with trailing text after the statement).
    if (std::string_view(sqlite3_sql(compiled)) != sql) return statement(db_, compiled);
    return statement(db_, compiled, this);
}

void database::give_back(sqlite3_stmt* compiled) noexcept {
    // Bounded: SQL built with varying text (none today) must not grow the cache without end.
    constexpr std::size_t max_idle = 128;
    sqlite3_reset(compiled);
    sqlite3_clear_bindings(compiled);
    std::lock_guard lock(idle_mutex_);
    if (idle_count_ >= max_idle) {
        sqlite3_finalize(compiled);
        return;
    }
    idle_[sqlite3_sql(compiled)].push_back(compiled);
    ++idle_count_;
}

void database::on_row_change(void (*callback)(void*, const char*), void* context) {
    row_callback_ = callback;
    row_context_ = context;
    sqlite3_update_hook(
        db_,
        [](void* self, int, const char*, const char* table, sqlite3_int64) {
            auto* db = static_cast<database*>(self);
            db->row_callback_(db->row_context_, table);
        },
        this);
}

std::int64_t database::data_version() {
    auto query = prepare("PRAGMA data_version");
    query.step();
    return query.column_int64(0);
}

void database::exec(std::string_view sql) {
    std::string text(sql);
    char* error = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = error ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw sqlite_error(rc, "exec: " + message);
    }
}

std::int64_t database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
int database::changes() const { return sqlite3_changes(db_); }

transaction::transaction(database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

transaction::~transaction() {
    if (!done_) {
        try {
            db_.exec("ROLLBACK");
        } catch (...) {}
    }
}

void transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

} // namespace mailgate::store
