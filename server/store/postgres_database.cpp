// PostgreSQL engine over libpq: server-side prepared statements kept per SQL text, text-format results (bytea
// decoded from hex), constraint errors recoverable inside a transaction (a savepoint around each INSERT), one
// reconnect when the server went away between transactions.
#include "server/store/postgres_database.hpp"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace mailgate::store {
namespace {

// Every connection, new or restored: NOTICEs ("extension citext already exists, skipping") are not for the
// gateway's output, and other instances' changes are to be heard (the schema's triggers notify this channel).
constexpr const char* session_setup = "SET client_min_messages = warning; LISTEN mailgate_changes";
constexpr std::int64_t migration_lock_key = 0x6d61696c67617465; // "mailgate"

// ?N becomes $N outside quoted text; `params` gets the highest N.
std::string translate_parameters(std::string_view sql, int& params) {
    std::string out;
    out.reserve(sql.size());
    params = 0;
    char quote = 0;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        char c = sql[i];
        if (quote) {
            if (c == quote) quote = 0;
            out += c;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            out += c;
            continue;
        }
        if (c == '?' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
            int n = 0;
            auto [end, ec] = std::from_chars(sql.data() + i + 1, sql.data() + sql.size(), n);
            params = std::max(params, n);
            out += '$';
            out.append(sql.data() + i + 1, end);
            i = static_cast<std::size_t>(end - sql.data()) - 1;
            continue;
        }
        out += c;
    }
    return out;
}

std::string_view next_word(std::string_view& rest) {
    auto start = rest.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return rest = {};
    rest.remove_prefix(start);
    auto end = rest.find_first_of(" \t\r\n(");
    auto word = rest.substr(0, end);
    rest.remove_prefix(word.size());
    return word;
}

bool same_word(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::toupper(x) == y; });
}

// The table an INSERT INTO / UPDATE / DELETE FROM statement writes, else empty (what on_row_change reports).
std::string table_written(std::string_view sql, bool& insert) {
    auto rest = sql;
    auto verb = next_word(rest);
    insert = same_word(verb, "INSERT");
    if (insert || same_word(verb, "DELETE"))
        next_word(rest); // INTO / FROM
    else if (!same_word(verb, "UPDATE"))
        return {};
    return std::string(next_word(rest));
}

std::string error_text(PGconn* conn, const PGresult* result) {
    std::string text = result ? PQresultErrorMessage(result) : "";
    if (text.empty() && conn) text = PQerrorMessage(conn);
    // libpq's messages span lines ("server closed the connection unexpectedly\n\tThis probably means..."): one
    // log line each.
    for (auto& c : text)
        if (c == '\n' || c == '\t' || c == '\r') c = ' ';
    auto end = text.find_last_not_of(' ');
    text.erase(end == std::string::npos ? 0 : end + 1);
    return text.empty() ? "no answer from the server" : text;
}

[[noreturn]] void throw_result(PGconn* conn, PGresult* result, std::string_view what) {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    bool constraint = state && std::strncmp(state, "23", 2) == 0; // class 23: integrity constraint violation
    std::string message = std::string(what) + ": " + error_text(conn, result);
    PQclear(result);
    throw store_error(message, constraint);
}

bool succeeded(const PGresult* result) {
    auto status = PQresultStatus(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// bytea in text format is "\x" and two hex digits a byte (bytea_output = hex, the default since 9.0).
std::string decode_bytea(const char* text, std::size_t size) {
    if (size < 2 || text[0] != '\\' || text[1] != 'x') throw store_error("bytea value not in hex format");
    std::string out;
    out.reserve((size - 2) / 2);
    for (std::size_t i = 2; i + 1 < size; i += 2) {
        int high = hex_value(text[i]), low = hex_value(text[i + 1]);
        if (high < 0 || low < 0) throw store_error("bytea value not in hex format");
        out += static_cast<char>(high * 16 + low);
    }
    return out;
}

} // namespace

class postgres_statement final : public statement_impl {
public:
    postgres_statement(postgres_database& db, std::string key, std::string translated, int params)
        : db_(db), key_(std::move(key)), sql_(std::move(translated)),
          values_(static_cast<std::size_t>(params)), null_(values_.size(), true),
          formats_(values_.size(), 0) {
        table_ = table_written(sql_, insert_);
    }
    ~postgres_statement() override { PQclear(result_); }

    void bind_int64(int index, std::int64_t value) override { set(index, std::to_string(value), 0); }
    void bind_text(int index, std::string_view text) override { set(index, std::string(text), 0); }
    void bind_blob(int index, std::string_view bytes) override { set(index, std::string(bytes), 1); }
    void bind_null(int index) override {
        slot(index);
        null_[static_cast<std::size_t>(index - 1)] = true;
    }

    bool step() override {
        if (!result_) execute();
        if (row_ + 1 >= PQntuples(result_)) return false;
        ++row_;
        return true;
    }

    void reset() override {
        PQclear(result_);
        result_ = nullptr;
        row_ = -1;
        for (std::size_t i = 0; i < values_.size(); ++i) {
            values_[i].clear();
            null_[i] = true;
            formats_[i] = 0;
        }
    }

    std::int64_t column_int64(int index) const override {
        const char* text = value(index);
        if (!text || !*text) return 0;
        if (text[0] == 't') return 1; // boolean results (EXISTS, IS NOT NULL)
        if (text[0] == 'f') return 0;
        std::int64_t v = 0;
        std::from_chars(text, text + std::strlen(text), v);
        return v;
    }
    std::string column_text(int index) const override {
        const char* text = value(index);
        return text ? std::string(text, static_cast<std::size_t>(PQgetlength(result_, row_, index))) : "";
    }
    std::string column_blob(int index) const override {
        if (column_is_null(index)) return {};
        return decode_bytea(value(index), static_cast<std::size_t>(PQgetlength(result_, row_, index)));
    }
    bool column_is_null(int index) const override { return !result_ || PQgetisnull(result_, row_, index); }

    void release() noexcept override { db_.give_back(this); }

    const std::string& key() const { return key_; }
    // Forgets the server-side statement of an older connection.
    void drop_prepared(PGconn* conn) noexcept {
        if (prepared_epoch_ != db_.connection_epoch_ || name_.empty()) return;
        PQclear(PQexec(conn, ("DEALLOCATE " + name_).c_str()));
    }

private:
    std::size_t slot(int index) {
        if (index < 1 || static_cast<std::size_t>(index) > values_.size())
            throw store_error("bind: no parameter ?" + std::to_string(index) + " in: " + sql_);
        return static_cast<std::size_t>(index - 1);
    }
    void set(int index, std::string value, int format) {
        auto i = slot(index);
        values_[i] = std::move(value);
        null_[i] = false;
        formats_[i] = format;
    }
    const char* value(int index) const {
        if (!result_ || row_ < 0 || PQgetisnull(result_, row_, index)) return nullptr;
        return PQgetvalue(result_, row_, index);
    }

    void ensure_prepared(PGconn* conn) {
        if (!name_.empty() && prepared_epoch_ == db_.connection_epoch_) return;
        name_ = "mg" + std::to_string(++db_.next_name_);
        PGresult* r = PQprepare(conn, name_.c_str(), sql_.c_str(), static_cast<int>(values_.size()), nullptr);
        if (!succeeded(r)) {
            name_.clear();
            throw_result(conn, r, "prepare");
        }
        PQclear(r);
        prepared_epoch_ = db_.connection_epoch_;
    }

    PGresult* run_prepared(PGconn* conn) {
        std::vector<const char*> values(values_.size());
        std::vector<int> lengths(values_.size());
        for (std::size_t i = 0; i < values_.size(); ++i) {
            values[i] = null_[i] ? nullptr : values_[i].c_str();
            lengths[i] = static_cast<int>(values_[i].size());
        }
        return PQexecPrepared(conn, name_.c_str(), static_cast<int>(values_.size()), values.data(),
                              lengths.data(), formats_.data(), 0);
    }

    void execute() {
        std::lock_guard lock(db_.conn_mutex_);
        // Inside a transaction a failed statement would abort the whole transaction; callers recover from a
        // refused INSERT (a name already taken), so each one gets a savepoint to fall back to.
        bool savepoint = insert_ && db_.in_transaction_;
        for (int attempt = 0;; ++attempt) {
            auto* conn = db_.conn_;
            try {
                ensure_prepared(conn);
            } catch (const store_error&) {
                if (attempt == 0 && db_.reconnect_after_failure()) continue;
                throw;
            }
            if (savepoint) PQclear(PQexec(conn, "SAVEPOINT mailgate_statement"));
            PGresult* r = run_prepared(conn);
            if (succeeded(r)) {
                if (savepoint) PQclear(PQexec(conn, "RELEASE SAVEPOINT mailgate_statement"));
                result_ = r;
                row_ = -1;
                db_.collect_notifications();
                if (!table_.empty()) { // as SQLite's changes(): the last INSERT, UPDATE or DELETE
                    const char* affected = PQcmdTuples(r);
                    db_.changes_ = affected && *affected ? std::atoi(affected) : 0;
                    if (db_.changes_ > 0) db_.report_row_change(table_.c_str());
                }
                return;
            }
            if (PQstatus(conn) == CONNECTION_OK) {
                if (savepoint) PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT mailgate_statement"));
                throw_result(conn, r, "query");
            }
            if (attempt == 0 && db_.reconnect_after_failure()) {
                PQclear(r);
                continue;
            }
            throw_result(conn, r, "query");
        }
    }

    postgres_database& db_;
    std::string key_; // the SQL as the repository wrote it (the cache's key)
    std::string sql_; // with $N
    std::string table_;
    bool insert_ = false;
    std::string name_;
    std::uint64_t prepared_epoch_ = 0;
    std::vector<std::string> values_;
    std::vector<bool> null_;
    std::vector<int> formats_;
    PGresult* result_ = nullptr;
    int row_ = -1;
};

postgres_database::postgres_database(const std::string& uri) : uri_(uri) { connect(); }

postgres_database::~postgres_database() {
    idle_.clear(); // before the connection they were prepared on
    PQfinish(conn_);
}

void postgres_database::connect() {
    // A database host that vanishes (no reset, no reply) must fail calls within seconds, not after the
    // kernel's TCP timeouts of minutes: defaults that the location's own parameters (read after them) override.
    const char* keys[] = {"connect_timeout",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          nullptr};
    const char* values[] = {"5", "15", "5", "3", "30000", uri_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn_) != CONNECTION_OK) {
        // libpq's message names the host and the reason, never the password.
        auto message = error_text(conn_, nullptr);
        PQfinish(conn_);
        conn_ = nullptr;
        throw store_error("cannot connect to PostgreSQL: " + message);
    }
    set_up_session();
}

void postgres_database::set_up_session() {
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    exec(session_setup);
}

bool postgres_database::reconnect_after_failure() {
    std::lock_guard lock(conn_mutex_);
    if (PQstatus(conn_) == CONNECTION_OK) return false;
    bool was_in_transaction = in_transaction_;
    in_transaction_ = false;
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) return false;
    ++connection_epoch_; // statements prepared on the old connection are prepared again
    ++notifications_;    // what changed while we were away is unknown: caches start over
    set_up_session();
    return !was_in_transaction;
}

void postgres_database::exec(std::string_view sql) {
    std::lock_guard lock(conn_mutex_);
    std::string text(sql);
    for (int attempt = 0;; ++attempt) {
        PGresult* r = PQexec(conn_, text.c_str());
        if (succeeded(r)) {
            PQclear(r);
            collect_notifications();
            return;
        }
        if (attempt == 0 && PQstatus(conn_) != CONNECTION_OK && !in_transaction_ &&
            reconnect_after_failure()) {
            PQclear(r);
            continue;
        }
        throw_result(conn_, r, "exec");
    }
}

statement postgres_database::prepare(std::string_view sql) {
    if (auto* kept = idle_.take(sql)) return statement(kept);
    int params = 0;
    auto translated = translate_parameters(sql, params);
    return statement(new postgres_statement(*this, std::string(sql), std::move(translated), params));
}

void postgres_database::give_back(postgres_statement* s) noexcept {
    s->reset();
    if (idle_.keep(s->key(), s)) return;
    std::lock_guard lock(conn_mutex_);
    s->drop_prepared(conn_);
    delete s;
}

void postgres_database::collect_notifications() {
    PQconsumeInput(conn_);
    while (PGnotify* n = PQnotifies(conn_)) {
        ++notifications_;
        PQfreemem(n);
    }
}

std::int64_t postgres_database::data_version() {
    std::lock_guard lock(conn_mutex_);
    if (PQstatus(conn_) != CONNECTION_OK) reconnect_after_failure();
    collect_notifications();
    return notifications_;
}

int postgres_database::schema_version() {
    exec("CREATE TABLE IF NOT EXISTS mailgate_schema (version INTEGER NOT NULL)");
    auto q = prepare("SELECT version FROM mailgate_schema");
    return q.step() ? static_cast<int>(q.column_int64(0)) : 0;
}

void postgres_database::set_schema_version(int version) {
    exec("DELETE FROM mailgate_schema; INSERT INTO mailgate_schema(version) VALUES (" +
         std::to_string(version) + ")");
}

void postgres_database::lock_for_migration() {
    exec("SELECT pg_advisory_lock(" + std::to_string(migration_lock_key) + ")");
}

void postgres_database::unlock_after_migration() noexcept {
    try {
        exec("SELECT pg_advisory_unlock(" + std::to_string(migration_lock_key) + ")");
    } catch (...) {}
}

void postgres_database::begin() {
    std::lock_guard lock(conn_mutex_);
    exec("BEGIN");
    in_transaction_ = true;
}

void postgres_database::commit() {
    std::lock_guard lock(conn_mutex_);
    in_transaction_ = false;
    exec("COMMIT");
}

void postgres_database::rollback() noexcept {
    std::lock_guard lock(conn_mutex_);
    in_transaction_ = false;
    try {
        exec("ROLLBACK");
    } catch (...) {}
}

} // namespace mailgate::store
