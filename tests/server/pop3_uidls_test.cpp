// POP3 UIDLs for POP3 served from IMAP: first assignment, stability, new and gone mail, a UIDVALIDITY change
// (inheriting by Message-ID and size, never ambiguously), and unique UIDLs within one answer.
#include "server/store/account_repository.hpp"
#include "server/store/pop3_uidls.hpp"
#include "server/store/sqlite.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace mailgate;
using namespace mailgate::store;

namespace {

const password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});

using uidls = std::vector<std::string>;
using uids = std::vector<std::uint32_t>;

struct uidl_fixture : ::testing::Test {
    temp_dir tmp;
    account_repository repo{tmp.data(), cheap};
    std::int64_t id = add("phone");

    std::int64_t add(const std::string& name) {
        new_account a;
        a.name = name;
        a.local_user = name;
        a.local_password = "pw";
        a.remote_user = name + "@icloud.test";
        a.provider = "icloud";
        a.endpoints = {*domain::parse_upstream_url("imaps://imap.mail.me.com")};
        a.mailbox.pop3 = domain::pop3_source::imap;
        return repo.create(a).value().id;
    }
    uidls assign(std::uint32_t uidvalidity, const std::vector<folder_message>& messages,
                 const std::string& folder = "INBOX") {
        return repo.uidls().assign(id, folder, uidvalidity, messages);
    }
    uids unmapped(std::uint32_t uidvalidity, const uids& all, const std::string& folder = "INBOX") {
        return repo.uidls().unmapped(id, folder, uidvalidity, all);
    }
    std::int64_t rows() {
        database db(tmp.data() / "mailgate.db");
        auto q = db.prepare("SELECT count(*) FROM pop3_uidls");
        q.step();
        return q.column_int64(0);
    }
};

} // namespace

TEST_F(uidl_fixture, first_assignment_is_uidvalidity_dot_uid) {
    EXPECT_EQ(unmapped(7, {1, 2, 5}), (uids{1, 2, 5}));
    EXPECT_EQ(assign(7, {{1, 100, "<a@x>"}, {2, 200, "<b@x>"}, {5, 300, ""}}), (uidls{"7.1", "7.2", "7.5"}));
    EXPECT_EQ(unmapped(7, {1, 2, 5}), uids{});
    EXPECT_EQ(unmapped(8, {1, 2}), (uids{1, 2})); // another UIDVALIDITY: not mapped there
    EXPECT_EQ(assign(7, {}), uidls{});
    EXPECT_EQ(rows(), 0);
}

TEST_F(uidl_fixture, stable_across_calls_with_new_mail_and_gone_mail) {
    assign(7, {{1, 100, "<a@x>"}, {2, 200, "<b@x>"}, {3, 300, "<c@x>"}});
    // The next session knows the Message-IDs only of what is unmapped: empty for the rest.
    EXPECT_EQ(unmapped(7, {1, 2, 3, 4}), uids{4});
    EXPECT_EQ(assign(7, {{1, 100, ""}, {2, 200, ""}, {3, 300, ""}, {4, 400, "<d@x>"}}),
              (uidls{"7.1", "7.2", "7.3", "7.4"}));
    EXPECT_EQ(rows(), 4);
    // 2 was deleted (by this client or another): its row goes, the others keep their UIDLs.
    EXPECT_EQ(assign(7, {{1, 100, ""}, {3, 300, ""}, {4, 400, ""}}), (uidls{"7.1", "7.3", "7.4"}));
    EXPECT_EQ(rows(), 3);
    EXPECT_EQ(unmapped(7, {1, 2, 3, 4}), uids{2});
}

TEST_F(uidl_fixture, a_uidvalidity_change_inherits_by_message_id_and_size) {
    assign(7, {{1, 100, "<a@x>"}, {2, 200, "<b@x>"}, {3, 300, ""}, {4, 400, "<d@x>"}, {5, 500, "<gone@x>"}});
    EXPECT_EQ(unmapped(9, {10, 11, 12, 13, 14}), (uids{10, 11, 12, 13, 14}));
    auto got = assign(9, {{10, 100, "<a@x>"},
                          {11, 999, "<b@x>"}, // same Message-ID, another size: another message
                          {12, 300, ""},      // no Message-ID: not recognisable
                          {13, 400, "<d@x>"},
                          {14, 50, "<new@x>"}});
    EXPECT_EQ(got, (uidls{"7.1", "9.11", "9.12", "7.4", "9.14"}));
    EXPECT_EQ(rows(), 5); // the old UIDVALIDITY's rows are gone, <gone@x> with them
    EXPECT_EQ(unmapped(7, {1, 2}), (uids{1, 2}));
    // And stable from now on under the new UIDVALIDITY.
    EXPECT_EQ(assign(9, {{10, 100, ""}, {11, 999, ""}, {12, 300, ""}, {13, 400, ""}, {14, 50, ""}}), got);
}

TEST_F(uidl_fixture, a_stored_message_id_survives_sessions_that_did_not_fetch_it) {
    assign(7, {{1, 100, "<a@x>"}});
    assign(7, {{1, 100, ""}});
    EXPECT_EQ(assign(8, {{3, 100, "<a@x>"}}), uidls{"7.1"});
}

TEST_F(uidl_fixture, each_old_uidl_is_inherited_at_most_once_and_never_ambiguously) {
    // One old message, two new ones alike: which one is it? Neither inherits (a download too many, not a loss).
    assign(1, {{1, 10, "<dup@x>"}, {2, 20, "<solo@x>"}});
    EXPECT_EQ(assign(2, {{5, 10, "<dup@x>"}, {6, 10, "<dup@x>"}, {7, 20, "<solo@x>"}}),
              (uidls{"2.5", "2.6", "1.2"}));
    // Two old messages alike, one new one: likewise.
    assign(3, {{1, 10, "<twin@x>"}, {2, 10, "<twin@x>"}});
    EXPECT_EQ(assign(4, {{9, 10, "<twin@x>"}}), uidls{"4.9"});
}

TEST_F(uidl_fixture, uidls_are_unique_even_when_an_inherited_one_spells_a_new_one) {
    // A provider that goes back to an earlier UIDVALIDITY (RFC 3501 says it must not): "1.1" is inherited by
    // UID 2, and the new message that now has UID 1 gets "1.1-2".
    assign(1, {{1, 100, "<a@x>"}});
    EXPECT_EQ(assign(2, {{5, 100, "<a@x>"}}), uidls{"1.1"});
    auto got = assign(1, {{1, 50, ""}, {2, 100, "<a@x>"}});
    EXPECT_EQ(got, (uidls{"1.1-2", "1.1"}));
    EXPECT_EQ(assign(1, {{1, 50, ""}, {2, 100, ""}}), got); // and stays so
    auto more = assign(1, {{1, 50, ""}, {2, 100, ""}, {3, 1, ""}, {4, 2, ""}});
    EXPECT_EQ(more, (uidls{"1.1-2", "1.1", "1.3", "1.4"}));
    EXPECT_EQ(std::set<std::string>(more.begin(), more.end()).size(), more.size());
}

TEST_F(uidl_fixture, a_hand_edited_duplicate_is_not_served_twice) {
    assign(7, {{1, 100, "<a@x>"}, {2, 200, "<b@x>"}});
    {
        database db(tmp.data() / "mailgate.db");
        db.exec("UPDATE pop3_uidls SET uidl = '7.1' WHERE uid = 2");
    }
    EXPECT_EQ(assign(7, {{1, 100, ""}, {2, 200, ""}}), (uidls{"7.1", "7.2"}));
    EXPECT_EQ(assign(7, {{1, 100, ""}, {2, 200, ""}}), (uidls{"7.1", "7.2"})); // repaired in the table
}

TEST_F(uidl_fixture, folders_and_accounts_are_separate) {
    auto other = add("tablet");
    assign(7, {{1, 100, "<a@x>"}});
    EXPECT_EQ(assign(3, {{1, 100, "<a@x>"}}, "Archive"), uidls{"3.1"}); // not inherited across folders
    EXPECT_EQ(repo.uidls().assign(other, "INBOX", 9, {{1, 100, "<a@x>"}}), uidls{"9.1"});
    EXPECT_EQ(rows(), 3);
    EXPECT_EQ(unmapped(7, {1}), uids{}); // INBOX untouched by the others
    ASSERT_TRUE(repo.remove("tablet"));
    EXPECT_EQ(rows(), 2);
}

TEST_F(uidl_fixture, a_snapshot_that_repeats_a_uid_is_refused) {
    EXPECT_THROW(assign(7, {{1, 100, ""}, {1, 100, ""}}), std::invalid_argument);
    EXPECT_EQ(rows(), 0);
}
