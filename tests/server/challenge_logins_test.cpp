// APOP and CRAM-MD5 in the store: the digests (RFC 1939 and RFC 2195 examples), the reversible local secret kept
// sealed only for accounts that allow them (AAD bound to the account and the field), and the login check.
#include "server/store/challenge_digest.hpp"
#include "server/store/crypto.hpp"
#include "server/store/store_service.hpp"

#include "server/store/open_database.hpp"
#include "temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

using namespace mailgate;
using namespace mailgate::store;
using protocols::login_proof;
using protocols::proof_kind;

namespace {

const password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});

const login_proof rfc1939_apop{proof_kind::apop, "<1896.697170952@dbc.mtview.ca.us>"};
const login_proof rfc2195_cram{proof_kind::cram_md5, "<1896.697170952@postoffice.reston.mci.net>"};

new_account sample(std::string name, std::string local, std::string password, bool challenge_logins) {
    new_account a;
    a.name = std::move(name);
    a.local_user = std::move(local);
    a.local_password = std::move(password);
    a.remote_user = "office@example.com";
    a.remote_secret = "remote-app-password";
    a.provider = "custom";
    a.endpoints = {*domain::parse_upstream_url("pop3s://pop.example.com")};
    a.challenge_logins = challenge_logins;
    return a;
}

std::string sealed_column(temp_dir& tmp, const std::string& column, const std::string& name) {
    auto owned = open_database(tmp.data(), tmp.store());
    auto& db = *owned;
    auto q = db.prepare("SELECT " + column + " FROM accounts WHERE name = ?1");
    q.bind(1, name);
    if (!q.step() || q.column_is_null(0)) return {};
    return q.column_blob(0);
}

} // namespace

TEST(challenge_digest, the_rfc_examples_match) {
    EXPECT_TRUE(challenge_answer_matches(rfc1939_apop, "tanstaaf", "c4c9334bac560ecc979e58001b3e22fb"));
    EXPECT_TRUE(
        challenge_answer_matches(rfc2195_cram, "tanstaaftanstaaf", "b913a602c7eda7a495b4e6e7334d3890"));
}

TEST(challenge_digest, wrong_secret_other_challenge_other_kind_or_a_password_proof_do_not) {
    EXPECT_FALSE(challenge_answer_matches(rfc1939_apop, "tanstaaF", "c4c9334bac560ecc979e58001b3e22fb"));
    EXPECT_FALSE(challenge_answer_matches({proof_kind::apop, "<1897.697170952@dbc.mtview.ca.us>"}, "tanstaaf",
                                          "c4c9334bac560ecc979e58001b3e22fb"));
    EXPECT_FALSE(challenge_answer_matches({proof_kind::cram_md5, rfc1939_apop.challenge}, "tanstaaf",
                                          "c4c9334bac560ecc979e58001b3e22fb"));
    EXPECT_FALSE(challenge_answer_matches({}, "tanstaaf", "tanstaaf"));
    EXPECT_FALSE(challenge_answer_matches(rfc1939_apop, "tanstaaf", ""));
}

TEST(challenge_logins_store, off_unless_asked_and_then_sealed_under_the_master_key) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto plain = *repo.create(sample("plain", "pu", "local-pw", false));
    EXPECT_FALSE(plain.challenge_logins);
    EXPECT_FALSE(repo.challenge_logins_in_use());
    EXPECT_EQ(repo.challenge_secret(plain), std::nullopt);
    EXPECT_EQ(sealed_column(tmp, "challenge_secret", "plain"), "");

    auto legacy = *repo.create(sample("legacy", "lu", "tanstaaf", true));
    EXPECT_TRUE(legacy.challenge_logins);
    EXPECT_TRUE(repo.challenge_logins_in_use());
    EXPECT_EQ(repo.challenge_secret(legacy), "tanstaaf");
    auto sealed = sealed_column(tmp, "challenge_secret", "legacy");
    EXPECT_FALSE(sealed.empty());
    EXPECT_EQ(sealed.find("tanstaaf"), std::string::npos);
    EXPECT_TRUE(repo.verify_local("lu", "tanstaaf")); // the password login keeps working alongside
}

TEST(challenge_logins_store, a_secret_moved_to_another_account_or_field_is_refused) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto a = *repo.create(sample("a", "ua", "pw-a", true));
    auto b = *repo.create(sample("b", "ub", "pw-b", true));
    {
        auto owned = open_database(tmp.data(), tmp.store());
        auto& db = *owned;
        db.exec(
            "UPDATE accounts SET challenge_secret = (SELECT challenge_secret FROM accounts WHERE name = 'a') "
            "WHERE name = 'b'");
        db.exec(
            "UPDATE accounts SET challenge_secret = remote_secret WHERE name = 'a'"); // same account, other field
    }
    for (const auto& acct : {a, b}) {
        try {
            repo.challenge_secret(acct);
            FAIL() << "expected secret_error for " << acct.name;
        } catch (const secret_error& e) {
            std::string what = e.what();
            EXPECT_NE(what.find("failed authentication"), std::string::npos) << what;
            EXPECT_NE(what.find("account passwd " + acct.name), std::string::npos) << what;
            EXPECT_EQ(what.find("pw-"), std::string::npos);
            EXPECT_EQ(what.find("remote-app-password"), std::string::npos);
        }
    }
}

TEST(challenge_logins_store, password_changes_keep_drop_or_start_the_reversible_copy) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.create(sample("acct", "u", "first", true)));
    ASSERT_TRUE(repo.set_local_password("acct", "second")); // kept, following the new password
    EXPECT_EQ(repo.challenge_secret(*repo.find("acct")), "second");
    EXPECT_TRUE(repo.verify_local("u", "second"));

    ASSERT_TRUE(repo.set_local_password("acct", "third", false));
    EXPECT_FALSE(repo.find("acct")->challenge_logins);
    EXPECT_EQ(sealed_column(tmp, "challenge_secret", "acct"), "");
    EXPECT_FALSE(repo.challenge_logins_in_use());

    ASSERT_TRUE(repo.set_local_password("acct", "fourth", true));
    EXPECT_EQ(repo.challenge_secret(*repo.find("acct")), "fourth");
    EXPECT_TRUE(repo.challenge_logins_in_use());

    ASSERT_TRUE(repo.disable_challenge_logins("acct"));
    EXPECT_EQ(repo.challenge_secret(*repo.find("acct")), std::nullopt);
    EXPECT_FALSE(repo.challenge_logins_in_use());
    EXPECT_TRUE(repo.verify_local("u", "fourth")); // only the reversible copy went

    EXPECT_FALSE(repo.set_local_password("ghost", "x", true));
    EXPECT_FALSE(repo.disable_challenge_logins("ghost"));
}

TEST(challenge_logins_store, in_use_follows_removal_and_another_process_after_a_refresh) {
    temp_dir tmp;
    account_repository server(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(server.create(sample("legacy", "lu", "pw", true)));
    ASSERT_TRUE(server.remove("legacy"));
    EXPECT_FALSE(server.challenge_logins_in_use());
    {
        account_repository cli(tmp.data(), tmp.store(),
                               cheap); // `mailgate account add --challenge-logins` meanwhile
        ASSERT_TRUE(cli.create(sample("legacy", "lu", "pw", true)));
    }
    EXPECT_FALSE(server.challenge_logins_in_use());
    server.refresh_challenge_logins_in_use();
    EXPECT_TRUE(server.challenge_logins_in_use());
}

TEST(challenge_logins_store, the_login_check_resolves_typed_names_and_says_when_not_allowed) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.create(sample("legacy", "mrose", "tanstaaf", true)));
    ASSERT_TRUE(repo.create(sample("plain", "tim", "tanstaaftanstaaf", false)));
    boost::asio::thread_pool pool(1);
    store_service service(repo, pool);
    EXPECT_TRUE(service.challenge_logins_enabled());
    boost::asio::io_context io;
    std::vector<local_login> results;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            const std::string good = "c4c9334bac560ecc979e58001b3e22fb";
            results.push_back(co_await service.check_challenge("mrose", good, rfc1939_apop));
            results.push_back(co_await service.check_challenge("LAN\\mrose", good, rfc1939_apop));
            results.push_back(
                co_await service.check_challenge("mrose", "00000000000000000000000000000000", rfc1939_apop));
            results.push_back(
                co_await service.check_challenge("tim", "b913a602c7eda7a495b4e6e7334d3890", rfc2195_cram));
            results.push_back(co_await service.check_challenge("ghost", good, rfc1939_apop));
        },
        boost::asio::detached);
    io.run();
    pool.join();
    ASSERT_EQ(results.size(), 5u);
    EXPECT_EQ(results[0].verdict, local_check::ok);
    EXPECT_EQ(results[0].record->name, "legacy");
    EXPECT_EQ(results[1].verdict, local_check::ok);
    EXPECT_EQ(results[2].verdict, local_check::wrong);
    EXPECT_TRUE(results[2].known_user);
    EXPECT_FALSE(results[2].record);
    EXPECT_FALSE(results[2].challenge_not_allowed);
    // The right digest for an account that does not allow challenge logins still fails, and says why.
    EXPECT_EQ(results[3].verdict, local_check::wrong);
    EXPECT_TRUE(results[3].challenge_not_allowed);
    EXPECT_FALSE(results[4].known_user);
    EXPECT_EQ(results[4].verdict, local_check::wrong);
}
