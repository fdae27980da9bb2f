// The shared spool's rows (server/store/spool_ledger.hpp) with two instances on one store: the copy of a message
// byte for byte, ownership and the claim, the take-over of a silent instance's messages, and the administrator's
// requests. Leases are given as negative lengths to stand for an instance gone silent, without waiting. Runs on
// SQLite here and on a real PostgreSQL in integration.store_postgresql.
#include "server/store/account_repository.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

namespace mailgate::store {
namespace {

const password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});
using claim = spool_ledger::claim_result;

const std::string id1 = "000000000001-00000000000000a1", id2 = "000000000002-00000000000000a2";
const std::string envelope = "mailgate-spool 1\nid x\n\n";
const std::string data = std::string("Subject: hi\r\n\r\n\0\xff\x80 binary\r\n.\r\n", 31);

struct shared_spool : ::testing::Test {
    temp_dir tmp;
    account_repository a_repo{tmp.data(), tmp.store(), cheap};
    account_repository b_repo{tmp.data(), tmp.store(), cheap};
    spool_ledger& a = a_repo.spool();
    spool_ledger& b = b_repo.spool();
};

TEST_F(shared_spool, a_message_is_kept_byte_for_byte_and_owned_by_the_instance_that_queued_it) {
    a.add("A", 60, id1, envelope, data);
    auto copy = a.copy_of("A", id1);
    ASSERT_TRUE(copy);
    EXPECT_EQ(copy->envelope, envelope);
    EXPECT_EQ(copy->data, data);
    EXPECT_EQ(copy->state, "");
    EXPECT_FALSE(b.copy_of("B", id1)) << "only the owner reads its copy back";
    auto all = b.list();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].id, id1);
    EXPECT_EQ(all[0].owner, "A");
    EXPECT_EQ(all[0].size, data.size());
    EXPECT_EQ(b.data_prefix(id1, 11), data.substr(0, 11));
    ASSERT_EQ(a.owned_by("A").size(), 1u);
    EXPECT_TRUE(b.owned_by("B").empty());
    EXPECT_THROW(b.add("B", 60, id1, envelope, data), store_error) << "an id is queued once";
}

TEST_F(shared_spool, only_the_owner_claims_saves_and_removes_its_message) {
    a.add("A", 60, id1, envelope, data);
    b.renew("B", 60, "b1");
    EXPECT_EQ(b.claim("B", 60, id1, "attempts 1\n"), claim::lost);
    EXPECT_FALSE(b.save_state("B", id1, "attempts 9\n"));
    EXPECT_FALSE(b.remove("B", id1));
    EXPECT_EQ(a.claim("A", 60, id1, "attempts 1\n"), claim::mine);
    EXPECT_EQ(a.copy_of("A", id1)->state, "attempts 1\n");
    EXPECT_TRUE(a.save_state("A", id1, "attempts 2\n"));
    EXPECT_EQ(a.copy_of("A", id1)->state, "attempts 2\n");
    EXPECT_TRUE(a.remove("A", id1));
    EXPECT_TRUE(b.list().empty());
    EXPECT_EQ(a.claim("A", 60, id1, ""), claim::lost);
}

TEST_F(shared_spool, a_live_instances_messages_are_never_taken_over) {
    a.add("A", 60, id1, envelope, data);
    EXPECT_TRUE(b.take_over("B", 60).empty());
    EXPECT_EQ(a.claim("A", 60, id1, ""), claim::mine);
}

TEST_F(shared_spool, a_silent_instances_messages_go_to_the_instance_that_looks_first) {
    a.add("A", 60, id1, envelope, data);
    a.add("A", 60, id2, envelope, data);
    a.renew("A", -5, "a1"); // A's lease ran out five seconds ago
    auto taken = b.take_over("B", 60);
    ASSERT_EQ(taken.size(), 2u);
    EXPECT_EQ(taken[0].second, "A");
    EXPECT_TRUE(b_repo.spool().take_over("C", 60).empty()) << "taken once";
    EXPECT_EQ(b.owned_by("B").size(), 2u);
    EXPECT_EQ(b.copy_of("B", id2)->data, data);
    // A comes back: its claim says its lease lapsed; once renewed, the messages are no longer its own.
    EXPECT_EQ(a.claim("A", 60, id1, ""), claim::lapsed);
    a.renew("A", 60, "a1");
    EXPECT_EQ(a.claim("A", 60, id1, ""), claim::lost);
    EXPECT_TRUE(a.owned_by("A").empty());
    EXPECT_FALSE(a.remove("A", id1));
    EXPECT_EQ(b.list().size(), 2u);
}

TEST_F(shared_spool, a_lapsed_lease_delivers_nothing_until_renewed_and_keeps_what_nobody_took) {
    a.add("A", 60, id1, envelope, data);
    a.renew("A", -5, "a1");
    EXPECT_EQ(a.claim("A", 60, id1, ""), claim::lapsed);
    a.renew("A", 60, "a1");
    EXPECT_EQ(a.claim("A", 60, id1, ""), claim::mine);
    EXPECT_TRUE(b.take_over("B", 60).empty());
}

TEST_F(shared_spool, a_second_gateway_renewing_the_same_instance_id_shows_in_the_lease) {
    EXPECT_EQ(a.renew("A", 60, "run1"), "") << "nobody held it";
    EXPECT_EQ(a.renew("A", 60, "run1"), "run1");
    EXPECT_EQ(b.renew("A", 60, "run2"), "run1") << "a copied data dir: another run holds our lease";
    EXPECT_EQ(a.renew("A", 60, "run1"), "run2");
    a.renew("A", -5, "run1");
    EXPECT_EQ(b.renew("A", 60, "run3"), "") << "a lease that ran out is nobody's (a restart after a crash)";
}

TEST_F(shared_spool, the_administrators_requests_reach_the_owner) {
    a.add("A", 60, id1, envelope, data);
    EXPECT_THROW(b.request(id1, "deliver twice"), store_error);
    EXPECT_TRUE(b.request(id1, "delete"));
    EXPECT_FALSE(b.request(id2, "delete"));
    auto owned = a.owned_by("A");
    ASSERT_EQ(owned.size(), 1u);
    EXPECT_EQ(owned[0].request, "delete");
    EXPECT_EQ(b.list()[0].request, "delete");
    a.clear_request("A", id1, "retry");
    EXPECT_EQ(a.owned_by("A")[0].request, "delete") << "only the request seen is cleared";
    a.clear_request("A", id1, "delete");
    EXPECT_EQ(a.owned_by("A")[0].request, "");
    EXPECT_TRUE(b.request(id1, "retry"));
    EXPECT_TRUE(b.request(id1, "delete"));
    EXPECT_TRUE(b.request(id1, "retry"));
    EXPECT_EQ(a.owned_by("A")[0].request, "delete") << "a later retry does not undo a delete";
}

} // namespace
} // namespace mailgate::store
