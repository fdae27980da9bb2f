// Schema migration 2 (OAuth2): a database made by a release at schema version 1 opens, migrates in place, and
// keeps its accounts as password accounts.
#include "server/store/account_repository.hpp"
#include "server/store/crypto.hpp"
#include "server/store/master_key_file.hpp"
#include "server/store/schema.hpp"
#include "server/store/sqlite.hpp"

#include "released_schema.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

using namespace mailgate;
using namespace mailgate::store;

namespace {

const password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});

int user_version(const std::filesystem::path& db_file) {
    sqlite_database db(db_file);
    auto q = db.prepare("PRAGMA user_version");
    q.step();
    return static_cast<int>(q.column_int64(0));
}

void remove_database(const std::filesystem::path& dir) {
    for (auto suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(dir / (std::string("mailgate.db") + suffix));
}

// A data dir as a schema-1 release left it: master.key, and a database with two password accounts in it.
void make_v1_data_dir(const std::filesystem::path& dir) {
    { account_repository bootstrap(dir, cheap); } // creates the data dir and master.key
    remove_database(dir);
    auto key = load_or_create_master_key(dir / "master.key", false);
    sqlite_database db(dir / "mailgate.db");
    db.exec(released_schema::v1);
    db.exec("PRAGMA user_version = 1");
    std::string key_view(reinterpret_cast<const char*>(key.data()), key.size());
    db.prepare("INSERT INTO meta(key, value) VALUES ('key_check', ?1)")
        .bind_blob(1, hmac_sha256(key_view, "mailgate master key check v1"))
        .run();
    int id = 0;
    for (auto [name, local] : {std::pair{"legacy", "printer"}, std::pair{"second", "scanner"}}) {
        ++id;
        db.prepare(
              "INSERT INTO accounts(id, name, local_user, local_password_hash, remote_user, remote_secret, "
              "provider, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'custom', 1700000000, "
              "1700000000)")
            .bind(1, id)
            .bind(2, name)
            .bind(3, local)
            .bind(4, cheap.hash("local-pw"))
            .bind(5, std::string(name) + "@example.com")
            .bind_blob(6, seal(key, std::string("app-password-") + name,
                               "mailgate remote secret v1; account " + std::to_string(id)))
            .run();
        db.prepare("INSERT INTO endpoints(account_id, protocol, url) VALUES (?1, 'imap', "
                   "'imaps://imap.example.com:993')")
            .bind(1, id)
            .run();
        db.prepare("INSERT INTO senders(account_id, address) VALUES (?1, ?2)")
            .bind(1, id)
            .bind(2, std::string(name) + "@example.com")
            .run();
    }
}

} // namespace

TEST(oauth_schema, a_new_database_is_at_the_newest_version) {
    temp_dir tmp;
    { account_repository repo(tmp.data(), cheap); }
    EXPECT_EQ(user_version(tmp.data() / "mailgate.db"), schema_version());
}

TEST(oauth_schema, a_version_1_database_migrates_and_keeps_password_accounts) {
    temp_dir tmp;
    make_v1_data_dir(tmp.data());
    ASSERT_EQ(user_version(tmp.data() / "mailgate.db"), 1);

    account_repository repo(tmp.data(), cheap);
    EXPECT_EQ(user_version(tmp.data() / "mailgate.db"), schema_version());
    auto all = repo.list();
    ASSERT_EQ(all.size(), 2u);
    for (const auto& a : all) {
        EXPECT_EQ(a.credential, credential_kind::password) << a.name;
        EXPECT_TRUE(a.oauth_client.empty()) << a.name;
        EXPECT_FALSE(a.oauth) << a.name;
        EXPECT_EQ(repo.remote_secret(a), "app-password-" + a.name); // sealed before, opens after
        EXPECT_EQ(a.endpoints.size(), 1u);
        EXPECT_EQ(a.senders.size(), 1u);
    }
    EXPECT_TRUE(repo.verify_local("printer", "local-pw"));
    {
        sqlite_database db(tmp.data() / "mailgate.db");
        auto q = db.prepare("SELECT count(*) FROM accounts WHERE credential = 'password'");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.column_int64(0), 2);
        auto tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                                 "('oauth_clients', 'oauth_grants')");
        ASSERT_TRUE(tables.step());
        EXPECT_EQ(tables.column_int64(0), 2);
        EXPECT_THROW(db.exec("UPDATE accounts SET credential = 'token' WHERE name = 'legacy'"), store_error);
    }

    // The migrated store takes OAuth2 accounts beside the old ones.
    domain::oauth_client c;
    c.name = "corp";
    c.client_id = "cid";
    c.token_url = "https://idp.example.com/token";
    c.authorize_url = "https://idp.example.com/authorize";
    c.scope = "imap";
    ASSERT_TRUE(repo.oauth().save_client(c));
    new_account a;
    a.name = "office";
    a.local_user = "office";
    a.local_password = "pw";
    a.remote_user = "office@example.com";
    a.provider = "custom";
    a.endpoints = {*domain::parse_upstream_url("imaps://imap.example.com")};
    a.credential = credential_kind::oauth2;
    a.oauth_client = "corp";
    auto created = repo.create(a);
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ(created->oauth->state, oauth_state::needs_consent);
    EXPECT_EQ(repo.find("legacy")->credential, credential_kind::password);
}

TEST(oauth_schema, migrating_twice_is_a_no_op) {
    temp_dir tmp;
    make_v1_data_dir(tmp.data());
    { account_repository first(tmp.data(), cheap); }
    account_repository again(tmp.data(), cheap);
    EXPECT_EQ(user_version(tmp.data() / "mailgate.db"), schema_version());
    EXPECT_EQ(again.list().size(), 2u);
}

TEST(oauth_schema, a_database_newer_than_this_binary_is_refused) {
    temp_dir tmp;
    { account_repository repo(tmp.data(), cheap); }
    {
        sqlite_database db(tmp.data() / "mailgate.db");
        db.exec("PRAGMA user_version = " + std::to_string(schema_version() + 1));
    }
    try {
        account_repository repo(tmp.data(), cheap);
        FAIL() << "a database from a newer mailgate must be refused";
    } catch (const store_error& e) {
        EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    }
    EXPECT_EQ(user_version(tmp.data() / "mailgate.db"), schema_version() + 1); // untouched
}
