// Schema migration 3 (mailbox options, POP3 UIDLs): a database made at schema version 2 keeps its accounts, which
// get the default options; iCloud accounts, which had no POP3, get POP3 from their IMAP folder.
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

struct v2_account {
    const char* name;
    const char* provider;
    std::vector<const char*> urls;
};

// A data dir as a schema-2 release left it, with these password accounts and one oauth2 account ("corp").
void make_v2_data_dir(const std::filesystem::path& dir, const std::vector<v2_account>& accounts) {
    { account_repository bootstrap(dir, cheap); } // creates the data dir and master.key
    for (auto suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(dir / (std::string("mailgate.db") + suffix));
    auto key = load_or_create_master_key(dir / "master.key", false);
    sqlite_database db(dir / "mailgate.db");
    db.exec(released_schema::v1);
    db.exec(released_schema::v2);
    db.exec("PRAGMA user_version = 2");
    std::string key_view(reinterpret_cast<const char*>(key.data()), key.size());
    db.prepare("INSERT INTO meta(key, value) VALUES ('key_check', ?1)")
        .bind_blob(1, hmac_sha256(key_view, "mailgate master key check v1"))
        .run();
    std::int64_t id = 0;
    for (const auto& a : accounts) {
        ++id;
        db.prepare(
              "INSERT INTO accounts(id, name, local_user, local_password_hash, remote_user, remote_secret, "
              "provider, created_at, updated_at) VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, 1700000000, 1700000000)")
            .bind(1, id)
            .bind(2, a.name)
            .bind(3, cheap.hash("local-pw"))
            .bind(4, std::string(a.name) + "@example.com")
            .bind_blob(5, seal(key, std::string("app-password-") + a.name,
                               "mailgate remote secret v1; account " + std::to_string(id)))
            .bind(6, a.provider)
            .run();
        for (auto url : a.urls)
            db.prepare("INSERT INTO endpoints(account_id, protocol, url) VALUES (?1, ?2, ?3)")
                .bind(1, id)
                .bind(2, std::string_view(url).substr(0, 4))
                .bind(3, url)
                .run();
    }
    db.exec("INSERT INTO oauth_clients(name, preset, client_id, token_url, scope, mechanism) VALUES "
            "('corp', 'custom', 'cid', 'https://idp.example.com/token', 'imap', 'xoauth2')");
    db.prepare("INSERT INTO accounts(id, name, local_user, local_password_hash, remote_user, remote_secret, "
               "provider, created_at, updated_at, credential) VALUES (?1, 'corp', 'corp', ?2, "
               "'corp@example.com', x'', 'custom', 1700000000, 1700000000, 'oauth2')")
        .bind(1, id + 1)
        .bind(2, cheap.hash("local-pw"))
        .run();
    db.prepare("INSERT INTO endpoints(account_id, protocol, url) VALUES (?1, 'imap', "
               "'imaps://imap.corp.test:993')")
        .bind(1, id + 1)
        .run();
    db.prepare("INSERT INTO oauth_grants(account_id, client, state) VALUES (?1, 'corp', 'ok')")
        .bind(1, id + 1)
        .run();
}

int user_version(const std::filesystem::path& db_file) {
    sqlite_database db(db_file);
    auto q = db.prepare("PRAGMA user_version");
    q.step();
    return static_cast<int>(q.column_int64(0));
}

const std::vector<v2_account> v2_accounts{
    {"office", "custom", {"imaps://imap.example.com:993", "smtps://smtp.example.com:465"}},
    {"gmail",
     "gmail",
     {"imaps://imap.gmail.com:993", "pop3s://pop.gmail.com:995", "smtps://smtp.gmail.com:465"}},
    {"phone", "icloud", {"imaps://imap.mail.me.com:993", "smtp+starttls://smtp.mail.me.com:587"}},
    // iCloud by name, but with a POP3 endpoint of its own, or without IMAP: their POP3 stays as it was.
    {"relabelled", "icloud", {"imaps://imap.mail.me.com:993", "pop3s://pop.example.com:995"}},
    {"sendonly", "icloud", {"smtp+starttls://smtp.mail.me.com:587"}},
};

} // namespace

TEST(mailbox_schema, a_new_database_has_the_latest_migration) {
    temp_dir tmp;
    { account_repository repo(tmp.data(), cheap); }
    EXPECT_EQ(schema_version(), 5);
    EXPECT_EQ(user_version(tmp.data() / "mailgate.db"), 5);
}

TEST(mailbox_schema, a_version_2_database_keeps_its_accounts_with_default_options) {
    temp_dir tmp;
    make_v2_data_dir(tmp.data(), v2_accounts);
    ASSERT_EQ(user_version(tmp.data() / "mailgate.db"), 2);

    account_repository repo(tmp.data(), cheap);
    EXPECT_EQ(user_version(tmp.data() / "mailgate.db"), 5);
    auto all = repo.list();
    ASSERT_EQ(all.size(), 6u);
    for (const auto& a : all) {
        SCOPED_TRACE(a.name);
        if (a.credential == credential_kind::password) {
            EXPECT_EQ(repo.remote_secret(a), "app-password-" + a.name);
        }
        EXPECT_EQ(a.mailbox.pop3_folder, "INBOX");
        EXPECT_FALSE(a.mailbox.pop3_mark_seen);
        EXPECT_EQ(a.mailbox.sent, domain::save_sent::automatic);
        EXPECT_EQ(a.mailbox.sent_folder,
                  a.name == "phone" ? "Sent Messages" : "Sent"); // iCloud's name for it
        auto expected = a.name == "phone" ? domain::pop3_source::imap : domain::pop3_source::native;
        EXPECT_EQ(a.mailbox.pop3, expected);
        EXPECT_EQ(a.created_at, 1700000000);
        EXPECT_FALSE(a.challenge_logins); // migration 4: off for every existing account
    }
    EXPECT_EQ(repo.find("gmail")->endpoints.size(), 3u);
    EXPECT_EQ(repo.find("corp")->credential, credential_kind::oauth2);
    EXPECT_EQ(repo.find("corp")->oauth->state, oauth_state::ok);
    EXPECT_TRUE(repo.verify_local("phone", "local-pw"));
}

TEST(mailbox_schema, the_new_columns_and_table_refuse_what_the_code_never_writes) {
    temp_dir tmp;
    make_v2_data_dir(tmp.data(), v2_accounts);
    { account_repository repo(tmp.data(), cheap); }
    sqlite_database db(tmp.data() / "mailgate.db");
    EXPECT_THROW(db.exec("UPDATE accounts SET pop3_source = 'pop' WHERE name = 'office'"), store_error);
    EXPECT_THROW(db.exec("UPDATE accounts SET pop3_mark_seen = 2 WHERE name = 'office'"), store_error);
    EXPECT_THROW(db.exec("UPDATE accounts SET save_sent = 'sometimes' WHERE name = 'office'"), store_error);
    db.exec("INSERT INTO pop3_uidls(account_id, folder, uidvalidity, uid, uidl, size) "
            "SELECT id, 'INBOX', 7, 1, '7.1', 100 FROM accounts WHERE name = 'phone'");
    EXPECT_THROW(db.exec("INSERT INTO pop3_uidls(account_id, folder, uidvalidity, uid, uidl, size) "
                         "SELECT id, 'INBOX', 7, 1, 'again', 100 FROM accounts WHERE name = 'phone'"),
                 store_error); // one row per (account, folder, UIDVALIDITY, UID)
    EXPECT_THROW(db.exec("INSERT INTO pop3_uidls(account_id, folder, uidvalidity, uid, uidl, size) "
                         "VALUES (999, 'INBOX', 7, 1, '7.1', 100)"),
                 store_error); // no such account
    db.exec("DELETE FROM accounts WHERE name = 'phone'");
    auto q = db.prepare("SELECT count(*) FROM pop3_uidls");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_int64(0), 0); // removed with the account
}

TEST(mailbox_schema, migrating_twice_is_a_no_op) {
    temp_dir tmp;
    make_v2_data_dir(tmp.data(), v2_accounts);
    {
        account_repository first(tmp.data(), cheap);
        store::account_repository::changes c;
        c.mailbox = first.find("office")->mailbox;
        c.mailbox->sent = domain::save_sent::never;
        ASSERT_TRUE(first.update("office", c));
    }
    account_repository again(tmp.data(), cheap);
    EXPECT_EQ(user_version(tmp.data() / "mailgate.db"), 5);
    EXPECT_EQ(again.find("office")->mailbox.sent, domain::save_sent::never);
    EXPECT_EQ(again.find("phone")->mailbox.pop3, domain::pop3_source::imap);
}
