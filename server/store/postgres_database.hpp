// The shared engine: a PostgreSQL database (libpq) that several gateway instances use at once. Statements are
// prepared on the server once per connection and SQL text; ?N parameters become $N; other instances' changes
// to the tables the caches follow arrive as notifications (LISTEN mailgate_changes, sent by the schema's
// triggers), so data_version() costs no round trip. TLS to the server is libpq's: sslmode=verify-full and
// sslrootcert=... in the URI.
#pragma once

#include "server/store/database.hpp"
#include "server/store/idle_statements.hpp"

#include <cstdint>
#include <mutex>
#include <string>

typedef struct pg_conn PGconn;

namespace mailgate::store {

class postgres_statement;

class postgres_database final : public database {
public:
    // `uri`: postgresql://user[:password]@host[:port]/dbname[?param=value...]. Throws store_error (without the
    // password) when the server cannot be reached or refuses the login.
    explicit postgres_database(const std::string& uri);
    postgres_database(const postgres_database&) = delete;
    postgres_database& operator=(const postgres_database&) = delete;
    ~postgres_database() override;

    sql_dialect dialect() const override { return sql_dialect::postgresql; }
    void exec(std::string_view sql) override;
    statement prepare(std::string_view sql) override;
    int changes() const override { return changes_; }
    std::int64_t data_version() override;
    int schema_version() override;
    void set_schema_version(int version) override;
    void lock_for_migration() override;
    void unlock_after_migration() noexcept override;
    void begin() override;
    void commit() override;
    void rollback() noexcept override;

private:
    friend class postgres_statement;
    void give_back(postgres_statement* s) noexcept;
    // After a failure: when the connection is gone and no transaction was open, connects again (true: the
    // caller may retry once). Everything prepared on the old connection is prepared again on first use.
    bool reconnect_after_failure();
    void connect();
    void set_up_session();
    void collect_notifications();

    std::string uri_;
    PGconn* conn_ = nullptr;
    std::recursive_mutex conn_mutex_; // libpq connections are not for two threads at once
    std::uint64_t connection_epoch_ = 0;
    std::int64_t notifications_ =
        0; // changes seen, plus one per reconnect (what happened meanwhile is unknown)
    bool in_transaction_ = false;
    int changes_ = 0;
    std::uint64_t next_name_ = 0;
    idle_statements<postgres_statement> idle_;
};

} // namespace mailgate::store
