// database::prepare() hands out compiled statements again: a reused one starts reset with no bindings, two live
// statements of the same text are distinct, and SQL the cache cannot key still runs every time.
#include "server/store/sqlite.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>

using namespace mailgate::store;

namespace {

// A fresh database with a table t (k, v) holding `rows`.
struct table_db {
    temp_dir tmp;
    sqlite_database db;
    explicit table_db(std::string_view rows = "") : db(data_dir(tmp) / "t.db") {
        db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER);" + std::string(rows));
    }
    static std::filesystem::path data_dir(const temp_dir& t) {
        std::filesystem::create_directories(t.data());
        return t.data();
    }
};

std::optional<std::int64_t> value_of(database& db, std::int64_t key) {
    auto q = db.prepare("SELECT v FROM t WHERE k = ?1");
    q.bind(1, key);
    if (!q.step()) return std::nullopt;
    return q.column_int64(0);
}

} // namespace

TEST(sqlite_statement_cache, reused_statements_start_reset_and_unbound) {
    table_db t;
    auto& db = t.db;
    for (std::int64_t k = 1; k <= 3; ++k)
        db.prepare("INSERT INTO t(k, v) VALUES (?1, ?2)").bind(1, k).bind(2, k * 10).run();
    EXPECT_EQ(value_of(db, 2), 20);
    EXPECT_EQ(value_of(db, 3), 30);
    EXPECT_EQ(value_of(db, 4), std::nullopt);
    {
        // Abandoned mid-result, then reused: the next one starts from its first row again.
        auto q = db.prepare("SELECT v FROM t ORDER BY k");
        ASSERT_TRUE(q.step());
        ASSERT_TRUE(q.step());
    }
    auto q = db.prepare("SELECT v FROM t ORDER BY k");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_int64(0), 10);
    // A reused statement has no bindings left from its last use: an unbound parameter is NULL.
    db.prepare("UPDATE t SET v = ?1 WHERE k = ?2").bind(1, 99).bind(2, 1).run();
    db.prepare("UPDATE t SET v = ?1 WHERE k = ?2").bind(2, 3).run();
    EXPECT_EQ(value_of(db, 1), 99);
    auto null_check = db.prepare("SELECT v IS NULL FROM t WHERE k = 3");
    ASSERT_TRUE(null_check.step());
    EXPECT_EQ(null_check.column_int64(0), 1);
}

TEST(sqlite_statement_cache, two_live_statements_of_one_text_are_distinct) {
    table_db t("INSERT INTO t VALUES (1, 10), (2, 20);");
    auto& db = t.db;
    auto a = db.prepare("SELECT v FROM t WHERE k = ?1");
    auto b = db.prepare("SELECT v FROM t WHERE k = ?1");
    a.bind(1, 1);
    b.bind(1, 2);
    ASSERT_TRUE(a.step());
    ASSERT_TRUE(b.step());
    EXPECT_EQ(a.column_int64(0), 10);
    EXPECT_EQ(b.column_int64(0), 20);
}

TEST(sqlite_statement_cache, sql_with_trailing_text_still_runs_each_time) {
    table_db t;
    auto& db = t.db;
    for (std::int64_t k = 1; k <= 200; ++k)
        db.prepare("INSERT INTO t(k, v) VALUES (?1, 0);  ").bind(1, k).run();
    auto count = db.prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(count.step());
    EXPECT_EQ(count.column_int64(0), 200);
}
