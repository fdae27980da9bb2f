// The store's database, whichever engine holds it: SQLite (embedded, the default) or PostgreSQL (several
// instances sharing accounts). Repositories write SQL once, with ?N parameters; an engine translates where its
// dialect differs. Failures throw store_error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mailgate::store {

class store_error : public std::runtime_error {
public:
    explicit store_error(const std::string& what, bool constraint = false)
        : std::runtime_error(what), constraint_(constraint) {}
    // A UNIQUE, CHECK, NOT NULL or foreign-key constraint refused the statement.
    bool is_constraint() const { return constraint_; }

private:
    bool constraint_;
};

enum class sql_dialect { sqlite, postgresql };

// One compiled statement of an engine. Handed out by database::prepare() through `statement`, which gives it
// back (reset, unbound) when done; the engine keeps it for the next prepare() of the same text.
class statement_impl {
public:
    virtual ~statement_impl() = default;
    virtual void bind_int64(int index, std::int64_t value) = 0;
    virtual void bind_text(int index, std::string_view text) = 0;
    virtual void bind_blob(int index, std::string_view bytes) = 0;
    virtual void bind_null(int index) = 0;
    virtual bool step() = 0; // true: a row is available
    virtual void reset() = 0;
    // Booleans (EXISTS, IS NOT NULL) read as 0 or 1 in both engines.
    virtual std::int64_t column_int64(int index) const = 0;
    virtual std::string column_text(int index) const = 0;
    virtual std::string column_blob(int index) const = 0;
    virtual bool column_is_null(int index) const = 0;
    virtual void release() noexcept = 0; // back to the engine's cache, or freed
};

class statement {
public:
    explicit statement(statement_impl* impl) : impl_(impl) {}
    statement(statement&& other) noexcept : impl_(other.impl_) { other.impl_ = nullptr; }
    statement& operator=(statement&&) = delete;
    ~statement() {
        if (impl_) impl_->release();
    }

    statement& bind(int index, std::int64_t value) {
        impl_->bind_int64(index, value);
        return *this;
    }
    statement& bind(int index, std::string_view text) {
        impl_->bind_text(index, text);
        return *this;
    }
    statement& bind_blob(int index, std::string_view bytes) {
        impl_->bind_blob(index, bytes);
        return *this;
    }
    statement& bind_null(int index) {
        impl_->bind_null(index);
        return *this;
    }

    bool step() { return impl_->step(); }
    void run() {
        while (step()) {}
    }
    void reset() { impl_->reset(); }

    std::int64_t column_int64(int index) const { return impl_->column_int64(index); }
    std::string column_text(int index) const { return impl_->column_text(index); }
    std::string column_blob(int index) const { return impl_->column_blob(index); }
    bool column_is_null(int index) const { return impl_->column_is_null(index); }
    std::optional<std::int64_t> column_optional_int64(int index) const {
        if (column_is_null(index)) return std::nullopt;
        return column_int64(index);
    }

private:
    statement_impl* impl_;
};

class database {
public:
    virtual ~database() = default;
    virtual sql_dialect dialect() const = 0;
    // Runs one or more statements without parameters or results (schema steps, PRAGMAs).
    virtual void exec(std::string_view sql) = 0;
    virtual statement prepare(std::string_view sql) = 0;
    // Rows the last INSERT, UPDATE or DELETE changed.
    virtual int changes() const = 0;
    // Called with the table's name whenever a statement run here inserts, updates or deletes rows of it.
    void on_row_change(void (*callback)(void* context, const char* table), void* context) {
        row_callback_ = callback;
        row_context_ = context;
    }
    // A number that changes when another connection (another process or instance) commits a change to the
    // tables the caches follow.
    virtual std::int64_t data_version() = 0;
    // What migrate() reads and writes (SQLite: PRAGMA user_version; PostgreSQL: a row in meta).
    virtual int schema_version() = 0;
    virtual void set_schema_version(int version) = 0;
    // Serializes the schema's creation and migration between instances starting at once (PostgreSQL: an
    // advisory lock; SQLite: BEGIN IMMEDIATE already does).
    virtual void lock_for_migration() {}
    virtual void unlock_after_migration() noexcept {}

    // A write transaction; BEGIN IMMEDIATE on SQLite, so writers queue instead of failing half-way.
    virtual void begin() = 0;
    virtual void commit() = 0;
    virtual void rollback() noexcept = 0;

protected:
    // What an engine calls when it knows rows of `table` changed.
    void report_row_change(const char* table) {
        if (row_callback_) row_callback_(row_context_, table);
    }

private:
    void (*row_callback_)(void*, const char*) = nullptr;
    void* row_context_ = nullptr;
};

// Rolls back when destroyed uncommitted.
class transaction {
public:
    explicit transaction(database& db) : db_(db) { db_.begin(); }
    transaction(const transaction&) = delete;
    ~transaction() {
        if (!done_) db_.rollback();
    }
    void commit() {
        db_.commit();
        done_ = true;
    }

private:
    database& db_;
    bool done_ = false;
};

} // namespace mailgate::store
