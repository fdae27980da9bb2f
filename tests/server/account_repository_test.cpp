// Account store: CRUD, sealed secrets, key checks, status recording.
#include "server/store/account_repository.hpp"
#include "server/store/master_key_file.hpp"

#include "server/store/open_database.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

using namespace mailgate;
using namespace mailgate::store;

namespace {

const password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});

new_account sample(std::string name = "office", std::string local = "scanner") {
    new_account a;
    a.name = std::move(name);
    a.local_user = std::move(local);
    a.local_password = "local-pw";
    a.remote_user = "office@example.com";
    a.remote_secret = "remote-app-password";
    a.provider = "custom";
    a.endpoints = {*domain::parse_upstream_url("imaps://imap.example.com"),
                   *domain::parse_upstream_url("smtps://smtp.example.com")};
    a.senders = {"office@example.com", "scans@example.com"};
    return a;
}

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 07777;
}

} // namespace

TEST(account_repository, creates_data_dir_key_and_database_with_strict_modes) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    EXPECT_EQ(mode_of(tmp.data()), 0700u);
    EXPECT_EQ(mode_of(tmp.data() / "master.key"), 0600u);
    if (!temp_dir::on_postgresql()) {
        EXPECT_EQ(mode_of(tmp.data() / "mailgate.db"), 0600u);
    }
    EXPECT_EQ(std::filesystem::file_size(tmp.data() / "master.key"), 32u);
}

TEST(account_repository, create_find_list_and_secret_round_trip) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto created = repo.create(sample());
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ(created->name, "office");
    EXPECT_EQ(created->endpoints.size(), 2u);
    EXPECT_EQ(created->endpoints.at(domain::mail_protocol::imap).endpoint.url(),
              "imaps://imap.example.com:993");
    EXPECT_EQ(created->senders, (std::vector<std::string>{"office@example.com", "scans@example.com"}));
    EXPECT_EQ(repo.remote_secret(*created), "remote-app-password");
    EXPECT_EQ(repo.list().size(), 1u);
    EXPECT_FALSE(repo.find("nobody"));
    EXPECT_TRUE(repo.find_by_local_user("SCANNER")); // case-insensitive
}

TEST(account_repository, duplicates_are_user_errors) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.create(sample()));
    auto same_name = repo.create(sample("office", "other"));
    ASSERT_FALSE(same_name);
    EXPECT_NE(same_name.error().message.find("already exists"), std::string::npos);
    auto same_user = repo.create(sample("second", "Scanner"));
    ASSERT_FALSE(same_user);
    EXPECT_NE(same_user.error().message.find("local user"), std::string::npos);
    EXPECT_EQ(repo.list().size(), 1u); // nothing half-written
}

TEST(account_repository, local_verification) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.create(sample()));
    EXPECT_TRUE(repo.verify_local("scanner", "local-pw"));
    EXPECT_FALSE(repo.verify_local("scanner", "wrong"));
    EXPECT_FALSE(repo.verify_local("nobody", "local-pw"));
    ASSERT_TRUE(repo.set_local_password("office", "new-pw"));
    EXPECT_FALSE(repo.verify_local("scanner", "local-pw"));
    EXPECT_TRUE(repo.verify_local("scanner", "new-pw"));
}

TEST(account_repository, typed_user_name_forms_map_to_the_local_user) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.create(sample("office", "scanner")));
    ASSERT_TRUE(repo.create(sample("shop", "shop@office.lan")));
    for (std::string typed :
         {"scanner", "SCANNER", "scanner@office.lan", "OFFICE\\scanner", "LAN\\Scanner@x.example"}) {
        SCOPED_TRACE(typed);
        EXPECT_EQ(repo.resolve_local_user(typed), "scanner");
        EXPECT_TRUE(repo.verify_local(typed, "local-pw"));
    }
    // A local user that is itself an address is matched as a whole first.
    EXPECT_EQ(repo.resolve_local_user("shop@office.lan"), "shop@office.lan");
    EXPECT_EQ(repo.resolve_local_user("LAN\\shop@office.lan"), "shop@office.lan");
    EXPECT_EQ(repo.resolve_local_user("shop"), std::nullopt);
    for (std::string typed : {"", "nobody", "scanner\\", "@scanner", "scan\\ner@x"}) {
        SCOPED_TRACE(typed);
        EXPECT_EQ(repo.resolve_local_user(typed), std::nullopt);
        EXPECT_FALSE(repo.verify_local(typed, "local-pw"));
    }
}

TEST(account_repository, enable_disable_remove_and_status) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto a = *repo.create(sample());
    ASSERT_TRUE(repo.set_enabled("office", false));
    EXPECT_FALSE(repo.find("office")->enabled);
    repo.record_status(a.id, domain::mail_protocol::imap, upstream_status::auth_failed, "535 rejected");
    repo.record_login(a.id);
    auto again = *repo.find("office");
    const auto& imap = again.endpoints.at(domain::mail_protocol::imap);
    EXPECT_EQ(imap.status, upstream_status::auth_failed);
    EXPECT_EQ(imap.status_reason, "535 rejected");
    EXPECT_TRUE(imap.status_at);
    EXPECT_EQ(again.endpoints.at(domain::mail_protocol::smtp).status, upstream_status::unknown);
    EXPECT_TRUE(again.last_login_at);
    // A login writes its bookkeeping when this process has not written "ok" for the endpoint in the last minute.
    EXPECT_TRUE(repo.claim_login_record(a.id, domain::mail_protocol::imap));
    EXPECT_FALSE(repo.claim_login_record(a.id, domain::mail_protocol::imap));
    EXPECT_TRUE(repo.claim_login_record(a.id, domain::mail_protocol::smtp)); // per endpoint
    repo.record_status(a.id, domain::mail_protocol::imap, upstream_status::ok, "");
    EXPECT_EQ(repo.find("office")->endpoints.at(domain::mail_protocol::imap).status, upstream_status::ok);
    EXPECT_FALSE(repo.claim_login_record(a.id, domain::mail_protocol::imap));
    // A failure written by anyone in this process (a test from the admin page) makes the next success due at once.
    repo.record_status(a.id, domain::mail_protocol::imap, upstream_status::auth_failed, "535 again");
    EXPECT_EQ(repo.find("office")->endpoints.at(domain::mail_protocol::imap).status_reason, "535 again");
    EXPECT_TRUE(repo.claim_login_record(a.id, domain::mail_protocol::imap));
    ASSERT_TRUE(repo.remove("office"));
    EXPECT_FALSE(repo.find("office"));
    EXPECT_FALSE(repo.remove("office"));
    EXPECT_FALSE(repo.set_enabled("office", true));
}

TEST(account_repository, secrets_are_sealed_on_disk) {
    temp_dir tmp;
    {
        account_repository repo(tmp.data(), tmp.store(), cheap);
        ASSERT_TRUE(repo.create(sample()));
    }
    auto owned = open_database(tmp.data(), tmp.store());
    auto& db = *owned;
    auto q = db.prepare("SELECT remote_secret, local_password_hash FROM accounts");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_blob(0).find("remote-app-password"), std::string::npos);
    EXPECT_TRUE(q.column_text(1).starts_with("$scrypt$"));
}

TEST(account_repository, tampered_or_moved_ciphertext_is_a_clear_error) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto a = *repo.create(sample("a", "ua"));
    auto b = *repo.create(sample("b", "ub"));
    {
        auto owned = open_database(tmp.data(), tmp.store());
        auto& db = *owned;
        // Move a's sealed secret onto b: the AAD (account id) must reject it.
        db.exec("UPDATE accounts SET remote_secret = (SELECT remote_secret FROM accounts WHERE name = 'a') "
                "WHERE name = 'b'");
        // Flip one byte of a's ciphertext.
        auto q = db.prepare("SELECT remote_secret FROM accounts WHERE name = 'a'");
        ASSERT_TRUE(q.step());
        auto sealed = q.column_blob(0);
        sealed[20] = static_cast<char>(sealed[20] ^ 0x40);
        db.prepare("UPDATE accounts SET remote_secret = ?1 WHERE name = 'a'").bind_blob(1, sealed).run();
    }
    for (const auto& acct : {a, b}) {
        try {
            repo.remote_secret(acct);
            FAIL() << "expected secret_error for " << acct.name;
        } catch (const secret_error& e) {
            std::string what = e.what();
            EXPECT_NE(what.find("failed authentication"), std::string::npos) << what;
            EXPECT_NE(what.find(acct.name), std::string::npos);
            EXPECT_EQ(what.find("remote-app-password"), std::string::npos);
        }
    }
}

TEST(account_repository, wrong_missing_or_loose_master_key_is_refused) {
    temp_dir tmp;
    { account_repository repo(tmp.data(), tmp.store(), cheap); }
    auto key = tmp.data() / "master.key";

    ::chmod(key.c_str(), 0644);
    try {
        account_repository repo(tmp.data(), tmp.store(), cheap);
        FAIL() << "a group/world-readable key must be refused";
    } catch (const key_file_error& e) {
        EXPECT_NE(std::string(e.what()).find("readable by group or others"), std::string::npos);
    }
    ::chmod(key.c_str(), 0600);

    std::filesystem::rename(key, tmp.path / "key.bak");
    EXPECT_THROW(account_repository(tmp.data(), tmp.store(), cheap), key_file_error);
    EXPECT_FALSE(std::filesystem::exists(key)); // never silently replaced

    auto other = load_or_create_master_key(key, true); // a different random key
    (void)other;
    try {
        account_repository repo(tmp.data(), tmp.store(), cheap);
        FAIL() << "a key that does not belong to the database must be refused";
    } catch (const key_file_error& e) {
        EXPECT_NE(std::string(e.what()).find("does not belong"), std::string::npos);
    }
    std::filesystem::remove(key);
    std::filesystem::rename(tmp.path / "key.bak", key);
    EXPECT_NO_THROW(account_repository(tmp.data(), tmp.store(), cheap));
}

TEST(account_repository, rejects_incomplete_accounts) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto a = sample();
    a.endpoints.clear();
    EXPECT_FALSE(repo.create(a));
    a = sample();
    a.local_user.clear();
    EXPECT_FALSE(repo.create(a));
    a = sample();
    a.endpoints.push_back(a.endpoints.front());
    auto dup = repo.create(a);
    ASSERT_FALSE(dup);
    EXPECT_NE(dup.error().message.find("more than one imap"), std::string::npos);
    EXPECT_TRUE(repo.list().empty());
}

TEST(account_repository, mailbox_options_round_trip_through_create_load_and_update) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto fresh = repo.create(sample());
    ASSERT_TRUE(fresh) << fresh.error().message;
    EXPECT_EQ(fresh->mailbox.pop3, domain::pop3_source::native); // a new_account's defaults
    EXPECT_EQ(fresh->mailbox.pop3_folder, "INBOX");
    EXPECT_EQ(fresh->mailbox.sent_folder, "Sent");

    auto a = sample("chosen", "chosen-local");
    a.mailbox = {domain::pop3_source::imap, "Archive/2024", true, domain::save_sent::always, "Gesendet"};
    auto created = repo.create(a);
    ASSERT_TRUE(created) << created.error().message;
    auto loaded = *repo.find("chosen");
    for (const auto* m : {&created->mailbox, &loaded.mailbox}) {
        EXPECT_EQ(m->pop3, domain::pop3_source::imap);
        EXPECT_EQ(m->pop3_folder, "Archive/2024");
        EXPECT_TRUE(m->pop3_mark_seen);
        EXPECT_EQ(m->sent, domain::save_sent::always);
        EXPECT_EQ(m->sent_folder, "Gesendet");
    }

    account_repository::changes c;
    c.mailbox = domain::mailbox_options{domain::pop3_source::native, "INBOX", false, domain::save_sent::never,
                                        "Sent Items"};
    auto updated = repo.update("chosen", c);
    ASSERT_TRUE(updated) << updated.error().message;
    EXPECT_EQ(updated->mailbox.pop3, domain::pop3_source::native);
    EXPECT_FALSE(updated->mailbox.pop3_mark_seen);
    EXPECT_EQ(updated->mailbox.sent, domain::save_sent::never);
    EXPECT_EQ(repo.find("chosen")->mailbox.sent_folder, "Sent Items");
    EXPECT_EQ(repo.find_by_local_user("chosen-local")->mailbox.sent_folder, "Sent Items");

    // An update without mailbox options leaves them alone.
    account_repository::changes senders_only;
    senders_only.senders = std::vector<std::string>{"office@example.com"};
    ASSERT_TRUE(repo.update("chosen", senders_only));
    EXPECT_EQ(repo.find("chosen")->mailbox.sent, domain::save_sent::never);
    EXPECT_EQ(repo.find("office")->mailbox.sent, domain::save_sent::automatic); // the other account untouched
}

TEST(account_repository, mailbox_options_are_validated_on_create_and_update) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto expect_refused = [&](new_account a, const std::string& words) {
        auto r = repo.create(a);
        ASSERT_FALSE(r) << words;
        EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
    };
    auto a = sample();
    a.endpoints = {*domain::parse_upstream_url("smtps://smtp.example.com")};
    a.mailbox.pop3 = domain::pop3_source::imap;
    expect_refused(a, "pop3_source imap needs an IMAP endpoint");
    a = sample();
    a.mailbox.pop3_folder = "";
    expect_refused(a, "pop3_folder must not be empty");
    a.mailbox.pop3_folder = std::string(256, 'x');
    expect_refused(a, "pop3_folder is longer than 255 bytes");
    for (const auto& bad : {std::string("IN\rBOX"), std::string("IN\nBOX"), std::string("IN\0BOX", 6)}) {
        a.mailbox.pop3_folder = bad;
        expect_refused(a, "pop3_folder must not contain CR, LF or NUL");
    }
    a = sample();
    a.mailbox.sent_folder = "Sent\r\nA1 DELETE INBOX";
    expect_refused(a, "sent_folder must not contain CR, LF or NUL");
    EXPECT_TRUE(repo.list().empty());

    a = sample();
    a.mailbox.pop3_folder = std::string(255, 'x'); // the longest allowed
    ASSERT_TRUE(repo.create(a));
    // Native POP3 without a POP3 endpoint is fine (the account serves IMAP and SMTP only).
    EXPECT_FALSE(repo.find("office")->endpoints.contains(domain::mail_protocol::pop3));

    account_repository::changes c;
    c.mailbox = repo.find("office")->mailbox;
    c.mailbox->pop3 = domain::pop3_source::imap;
    ASSERT_TRUE(repo.update("office", c)); // it has an IMAP endpoint
    // Dropping the IMAP endpoint under POP3 from IMAP is refused, and so is an invalid folder.
    account_repository::changes drop_imap;
    drop_imap.endpoints = std::vector{*domain::parse_upstream_url("smtps://smtp.example.com")};
    auto refused = repo.update("office", drop_imap);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("needs an IMAP endpoint"), std::string::npos);
    EXPECT_TRUE(repo.find("office")->endpoints.contains(domain::mail_protocol::imap)); // nothing written
    c.mailbox->sent_folder = "";
    refused = repo.update("office", c);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("sent_folder must not be empty"), std::string::npos);
    EXPECT_EQ(repo.find("office")->mailbox.sent_folder, "Sent");
}

TEST(account_repository, a_relay_sender_finds_its_account_by_listed_sender_or_by_remote_user) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.create(sample("listed", "one")));
    auto own = sample("own", "two");
    own.remote_user = "Printer@Example.org";
    own.senders.clear();
    ASSERT_TRUE(repo.create(own));
    EXPECT_EQ(repo.find_by_sender("scans@example.com")->name, "listed");
    EXPECT_EQ(repo.find_by_sender("SCANS@example.com")->name, "listed") << "addresses compare without case";
    EXPECT_FALSE(repo.find_by_sender("office@example.org"));
    EXPECT_EQ(repo.find_by_sender("printer@example.org")->name, "own") << "no senders: its remote user";
    EXPECT_TRUE(repo.set_enabled("own", false));
    EXPECT_FALSE(repo.find_by_sender("printer@example.org")) << "a disabled account relays nothing";
}
