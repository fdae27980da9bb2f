// The POP3 UIDL map (server/store/pop3_uidls.hpp) over a real store: assignment, stability, pruning, and the
// UIDVALIDITY-change rule; plus migration 3 of a version-2 database.
#include "server/store/account_repository.hpp"
#include "server/store/schema.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <set>

namespace mailgate::store {
namespace {

const password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});

struct fixture : ::testing::Test {
    temp_dir tmp;
    account_repository repo{tmp.data(), cheap};
    std::int64_t id = 0;

    void SetUp() override {
        new_account a;
        a.name = "icloud";
        a.local_user = "me";
        a.local_password = "pw";
        a.remote_user = "me@icloud.com";
        a.remote_secret = "app";
        a.provider = "icloud";
        a.endpoints = {*domain::parse_upstream_url("imaps://imap.mail.me.com")};
        a.mailbox = domain::default_mailbox_options("icloud");
        auto created = repo.create(a);
        ASSERT_TRUE(created) << created.error().message;
        id = created->id;
    }
    std::vector<std::string> assign(std::uint32_t validity, const std::vector<folder_message>& m,
                                    const std::string& folder = "INBOX") {
        return repo.uidls().assign(id, folder, validity, m);
    }
};

using pop3_uidls = fixture;

TEST_F(pop3_uidls, first_assignment_is_uidvalidity_dot_uid_and_stable) {
    std::vector<folder_message> m{{3, 100, "<a@x>"}, {7, 200, "<b@x>"}};
    EXPECT_EQ(repo.uidls().unmapped(id, "INBOX", 41, {3, 7}), (std::vector<std::uint32_t>{3, 7}));
    EXPECT_EQ(assign(41, m), (std::vector<std::string>{"41.3", "41.7"}));
    EXPECT_TRUE(repo.uidls().unmapped(id, "INBOX", 41, {3, 7}).empty());
    EXPECT_EQ(repo.uidls().unmapped(id, "INBOX", 41, {3, 7, 9}), (std::vector<std::uint32_t>{9}));
    // Later sessions without Message-IDs (already mapped) and with new mail.
    EXPECT_EQ(assign(41, {{3, 100, ""}, {7, 200, ""}, {9, 50, "<c@x>"}}),
              (std::vector<std::string>{"41.3", "41.7", "41.9"}));
}

TEST_F(pop3_uidls, gone_messages_are_forgotten) {
    assign(41, {{3, 100, "<a@x>"}, {7, 200, "<b@x>"}});
    assign(41, {{7, 200, ""}});
    EXPECT_EQ(repo.uidls().unmapped(id, "INBOX", 41, {3, 7}), (std::vector<std::uint32_t>{3}));
}

TEST_F(pop3_uidls, a_new_uidvalidity_inherits_by_message_id_and_size_once) {
    assign(41,
           {{3, 100, "<a@x>"}, {7, 200, "<b@x>"}, {8, 300, ""}, {9, 400, "<dup@x>"}, {10, 400, "<dup@x>"}});
    auto uidls = assign(50, {{1, 100, "<a@x>"},   // same id and size: inherits 41.3
                             {2, 201, "<b@x>"},   // size differs: new
                             {3, 300, ""},        // no Message-ID: new
                             {4, 400, "<dup@x>"}, // two old ones match: ambiguous, new
                             {5, 100, "<a@x>"}}); // a second match for one old message: both ambiguous
    EXPECT_EQ(uidls[0], "50.1");
    EXPECT_EQ(uidls[1], "50.2");
    EXPECT_EQ(uidls[2], "50.3");
    EXPECT_EQ(uidls[3], "50.4");
    EXPECT_EQ(uidls[4], "50.5");
    uidls = assign(60, {{1, 100, "<a@x>"}, {2, 201, "<b@x>"}});
    // <b@x>/201 has one old match now: inherited. <a@x>/100 had two under 50: still ambiguous, new.
    EXPECT_EQ(uidls, (std::vector<std::string>{"60.1", "50.2"}));
    // The old uidvalidity's rows are gone.
    EXPECT_EQ(repo.uidls().unmapped(id, "INBOX", 50, {1}), (std::vector<std::uint32_t>{1}));
}

TEST_F(pop3_uidls, inherited_and_new_uidls_never_collide) {
    assign(5, {{17, 10, "<x@y>"}});             // "5.17"
    auto uidls = assign(6, {{1, 10, "<x@y>"}}); // inherits "5.17"
    EXPECT_EQ(uidls, (std::vector<std::string>{"5.17"}));
    uidls = assign(5, {{1, 10, ""}, {17, 99, "<z@y>"}}); // back to 5 (a broken server): "5.17" is taken
    std::set<std::string> unique(uidls.begin(), uidls.end());
    EXPECT_EQ(unique.size(), 2u);
    EXPECT_EQ(uidls[0], "5.1");
    EXPECT_EQ(uidls[1], "5.17-2"); // "5.17" was another message's (inherited under 6)
}

TEST_F(pop3_uidls, folders_and_accounts_are_separate_and_removal_cascades) {
    assign(41, {{3, 100, "<a@x>"}});
    EXPECT_EQ(repo.uidls().unmapped(id, "Archive", 41, {3}), (std::vector<std::uint32_t>{3}));
    ASSERT_TRUE(repo.remove("icloud"));
    sqlite_database db(tmp.data() / "mailgate.db");
    auto q = db.prepare("SELECT count(*) FROM pop3_uidls");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.column_int64(0), 0);
}

TEST_F(pop3_uidls, mailbox_options_round_trip_and_validate) {
    auto a = repo.find("icloud");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->mailbox.pop3, domain::pop3_source::imap);
    EXPECT_EQ(a->mailbox.sent_folder, "Sent Messages");
    EXPECT_TRUE(domain::saves_sent_copy(a->mailbox, a->provider));
    auto m = a->mailbox;
    m.pop3_folder = "Archive";
    m.pop3_mark_seen = true;
    m.sent = domain::save_sent::never;
    auto updated = repo.update("icloud", {.mailbox = m});
    ASSERT_TRUE(updated) << updated.error().message;
    EXPECT_EQ(updated->mailbox.pop3_folder, "Archive");
    EXPECT_TRUE(updated->mailbox.pop3_mark_seen);
    EXPECT_FALSE(domain::saves_sent_copy(updated->mailbox, updated->provider));
    m.sent_folder = "Gesendete Objekte\xc3\xa4";
    EXPECT_FALSE(repo.update("icloud", {.mailbox = m}));
    m.sent_folder = "";
    EXPECT_FALSE(repo.update("icloud", {.mailbox = m}));
    m.sent_folder = "Sent";
    // POP3 from IMAP without an IMAP endpoint is refused.
    EXPECT_FALSE(
        repo.update("icloud", {.endpoints = std::vector{*domain::parse_upstream_url("pop3s://pop.x.test")}}));
    EXPECT_FALSE(domain::saves_sent_copy({}, "gmail"));
    EXPECT_TRUE(domain::saves_sent_copy({}, "yahoo"));
    EXPECT_TRUE(domain::saves_sent_copy({}, "custom"));
    EXPECT_EQ(domain::default_mailbox_options("gmail").pop3, domain::pop3_source::native);
}

} // namespace
} // namespace mailgate::store
