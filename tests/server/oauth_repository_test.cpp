// OAuth2 rows in the account store: client registrations (secret sealed, config-file clients pinned),
// per-account grants (consent, refresh, rotation, failures), the cross-process refresh lease, and tokens
// sealed on disk.
#include "server/store/account_repository.hpp"

#include "server/store/open_database.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

using namespace mailgate;
using namespace mailgate::store;

namespace {

const password_hasher cheap({.log2_n = 10, .r = 8, .p = 1});

const std::string access_1 = "ya29.ACCESS-one-Zq8sLx0pWm3nVb7cRt5yKd2hGf9jEa4u";
const std::string access_2 = "ya29.ACCESS-two-Hs6Tq1wXe8rYu3iOp0aSd5fGh7jKl2zX";
const std::string refresh_1 = "1//REFRESH-one-Mn4bV7cX1zLk9jH2gF5dS8aQ3wE6rT0y";
const std::string refresh_2 = "1//REFRESH-two-Pl0oK9iJ8uH7yG6tF5rD4eS3wA2qZ1xC";
const std::string client_secret = "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5Ke2Tj8Yh4";

domain::oauth_client client(std::string name = "corp") {
    domain::oauth_client c;
    c.name = std::move(name);
    c.preset = "microsoft";
    c.client_id = "11111111-2222-3333-4444-555555555555";
    c.tenant = "contoso";
    c.authorize_url = "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize";
    c.token_url = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token";
    c.device_url = "https://login.microsoftonline.com/contoso/oauth2/v2.0/devicecode";
    c.scope = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";
    return c;
}

new_account oauth_account(std::string name = "office", std::string local = "scanner",
                          std::string client = "corp") {
    new_account a;
    a.name = std::move(name);
    a.local_user = std::move(local);
    a.local_password = "local-pw";
    a.remote_user = "office@contoso.com";
    a.provider = "microsoft";
    a.endpoints = {*domain::parse_upstream_url("imaps://outlook.office365.com")};
    a.credential = credential_kind::oauth2;
    a.oauth_client = std::move(client);
    return a;
}

new_account password_account(std::string name = "legacy", std::string local = "printer") {
    new_account a;
    a.name = std::move(name);
    a.local_user = std::move(local);
    a.local_password = "local-pw";
    a.remote_user = "legacy@example.com";
    a.remote_secret = "app-password";
    a.provider = "custom";
    a.endpoints = {*domain::parse_upstream_url("imaps://imap.example.com")};
    return a;
}

oauth_token_update consent(std::string access, std::string refresh, std::int64_t expires_at = 2'000'000'000) {
    oauth_token_update u;
    u.access_token = std::move(access);
    u.refresh_token = std::move(refresh);
    u.access_expires_at = expires_at;
    u.identity = "office@contoso.com";
    u.scopes = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";
    u.consent = true;
    return u;
}

oauth_token_update refreshed(std::string access, std::string refresh,
                             std::int64_t expires_at = 2'000'003'600) {
    oauth_token_update u;
    u.access_token = std::move(access);
    u.refresh_token = std::move(refresh);
    u.access_expires_at = expires_at;
    return u;
}

// Every byte the store has on disk: the database, its WAL and shared-memory files, the key.
// Every byte the store has written: the data dir's files (SQLite's database and WAL), and on PostgreSQL the
// cluster's files (MAILGATE_TEST_POSTGRES_DATA: its tables and WAL).
std::string all_bytes_of(const std::filesystem::path& dir) {
    std::string out;
    auto read_tree = [&](const std::filesystem::path& root) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
            if (!entry.is_regular_file()) continue;
            std::ifstream in(entry.path(), std::ios::binary);
            out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
    };
    read_tree(dir);
    if (const char* cluster = std::getenv("MAILGATE_TEST_POSTGRES_DATA"); cluster && *cluster)
        read_tree(cluster);
    return out;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

} // namespace

// ---- clients
// -----------------------------------------------------------------------------------------------------

TEST(oauth_repository, save_list_and_read_a_client) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    EXPECT_TRUE(repo.oauth().clients().empty());
    EXPECT_FALSE(repo.oauth().client("corp"));

    auto c = client();
    c.client_secret = client_secret;
    c.revoke_url = "https://example.com/revoke";
    ASSERT_TRUE(repo.oauth().save_client(c));
    auto pub = client("public");
    pub.mechanism = domain::sasl_mechanism::oauthbearer;
    pub.preset = "custom";
    ASSERT_TRUE(repo.oauth().save_client(pub));

    auto listed = repo.oauth().clients();
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].name, "corp"); // by name
    EXPECT_EQ(listed[1].name, "public");
    for (const auto& l : listed) EXPECT_FALSE(contains(l.client_secret, client_secret)) << l.name;
    EXPECT_EQ(listed[0].client_secret, "(set)"); // the listing says a secret exists, never what it is
    EXPECT_EQ(listed[1].client_secret, "");
    EXPECT_EQ(listed[1].mechanism, domain::sasl_mechanism::oauthbearer);

    auto read = repo.oauth().client("corp");
    ASSERT_TRUE(read);
    EXPECT_EQ(read->client_secret, client_secret); // only client() opens it (the token service needs it)
    EXPECT_EQ(read->preset, "microsoft");
    EXPECT_EQ(read->client_id, c.client_id);
    EXPECT_EQ(read->tenant, "contoso");
    EXPECT_EQ(read->authorize_url, c.authorize_url);
    EXPECT_EQ(read->token_url, c.token_url);
    EXPECT_EQ(read->device_url, c.device_url);
    EXPECT_EQ(read->revoke_url, "https://example.com/revoke");
    EXPECT_EQ(read->scope, c.scope);
    EXPECT_EQ(read->mechanism, domain::sasl_mechanism::xoauth2);
    EXPECT_FALSE(read->from_config);
    EXPECT_EQ(repo.oauth().client("public")->client_secret, "");
}

TEST(oauth_repository, save_client_replaces_an_editable_client) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto c = client();
    c.client_secret = client_secret;
    ASSERT_TRUE(repo.oauth().save_client(c));
    c.client_id = "changed-id";
    c.client_secret.clear(); // a public client now
    ASSERT_TRUE(repo.oauth().save_client(c));
    auto read = repo.oauth().client("corp");
    ASSERT_TRUE(read);
    EXPECT_EQ(read->client_id, "changed-id");
    EXPECT_EQ(read->client_secret, "");
    EXPECT_EQ(repo.oauth().clients().size(), 1u);
}

TEST(oauth_repository, the_client_secret_is_sealed_on_disk_and_bound_to_its_name) {
    temp_dir tmp;
    {
        account_repository repo(tmp.data(), tmp.store(), cheap);
        auto c = client();
        c.client_secret = client_secret;
        ASSERT_TRUE(repo.oauth().save_client(c));
        auto other = client("other");
        other.client_secret = "another-secret-value-1234567890";
        ASSERT_TRUE(repo.oauth().save_client(other));
    }
    auto bytes = all_bytes_of(tmp.data());
    EXPECT_TRUE(contains(bytes, "11111111-2222-3333-4444-555555555555")); // the search sees the rows at all
    EXPECT_FALSE(contains(bytes, client_secret));
    {
        auto owned = open_database(tmp.data(), tmp.store());
        auto& db = *owned;
        db.exec(
            "UPDATE oauth_clients SET client_secret = (SELECT client_secret FROM oauth_clients WHERE name = "
            "'corp') WHERE name = 'other'");
    }
    account_repository repo(tmp.data(), tmp.store(), cheap);
    EXPECT_EQ(repo.oauth().client("corp")->client_secret, client_secret); // survives a reopen
    try {
        repo.oauth().client("other");
        FAIL() << "a secret moved from another client must not open";
    } catch (const std::runtime_error& e) {
        EXPECT_TRUE(contains(e.what(), "other")) << e.what();
        EXPECT_FALSE(contains(e.what(), client_secret));
    }
}

TEST(oauth_repository, config_clients_cannot_be_changed_or_removed_elsewhere) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto c = client();
    c.from_config = true;
    c.client_secret = client_secret;
    repo.oauth().sync_config_clients({c});
    auto read = repo.oauth().client("corp");
    ASSERT_TRUE(read);
    EXPECT_TRUE(read->from_config);
    EXPECT_EQ(read->client_secret, client_secret);

    auto edited = client();
    edited.client_id = "hijacked";
    auto saved = repo.oauth().save_client(edited);
    ASSERT_FALSE(saved);
    EXPECT_TRUE(contains(saved.error().message, "config")) << saved.error().message;
    EXPECT_EQ(repo.oauth().client("corp")->client_id, c.client_id); // unchanged

    auto removed = repo.oauth().remove_client("corp");
    ASSERT_FALSE(removed);
    EXPECT_TRUE(contains(removed.error().message, "config")) << removed.error().message;
    EXPECT_TRUE(repo.oauth().client("corp"));
}

TEST(oauth_repository, sync_config_clients_writes_over_and_unpins_removed_sections) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client("corp"))); // made on the admin page first
    ASSERT_TRUE(repo.oauth().save_client(client("keep")));

    auto from_file = client("corp");
    from_file.client_id = "from-the-file";
    from_file.from_config = true;
    repo.oauth().sync_config_clients({from_file});
    EXPECT_EQ(repo.oauth().client("corp")->client_id, "from-the-file"); // the file wins over the store
    EXPECT_TRUE(repo.oauth().client("corp")->from_config);
    EXPECT_FALSE(repo.oauth().client("keep")->from_config);

    auto again = from_file;
    again.scope = "changed-in-file";
    repo.oauth().sync_config_clients({again}); // a restart after editing the file
    EXPECT_EQ(repo.oauth().client("corp")->scope, "changed-in-file");

    repo.oauth().sync_config_clients({}); // the section was removed from the file
    auto unpinned = repo.oauth().client("corp");
    ASSERT_TRUE(unpinned); // kept: accounts may use it
    EXPECT_FALSE(unpinned->from_config);
    auto edited = *unpinned;
    edited.client_id = "edited-on-the-page";
    EXPECT_TRUE(repo.oauth().save_client(edited));
    EXPECT_TRUE(repo.oauth().remove_client("corp"));
    EXPECT_FALSE(repo.oauth().client("corp"));
}

TEST(oauth_repository, a_client_in_use_cannot_be_removed) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    ASSERT_TRUE(repo.create(oauth_account()));
    auto refused = repo.oauth().remove_client("corp");
    ASSERT_FALSE(refused);
    EXPECT_TRUE(contains(refused.error().message, "1 account")) << refused.error().message;
    EXPECT_TRUE(repo.oauth().client("corp"));

    ASSERT_TRUE(repo.remove("office")); // the grant goes with the account (ON DELETE CASCADE)
    EXPECT_TRUE(repo.oauth().remove_client("corp"));
    EXPECT_FALSE(repo.oauth().client("corp"));

    auto unknown = repo.oauth().remove_client("nope");
    ASSERT_FALSE(unknown);
    EXPECT_TRUE(contains(unknown.error().message, "nope")) << unknown.error().message;
}

// ---- accounts and grants
// -----------------------------------------------------------------------------------------

TEST(oauth_repository, an_oauth2_account_starts_with_a_grant_needing_consent) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto created = repo.create(oauth_account());
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_EQ(created->credential, credential_kind::oauth2);
    EXPECT_EQ(created->oauth_client, "corp");
    ASSERT_TRUE(created->oauth);
    EXPECT_EQ(created->oauth->state, oauth_state::needs_consent);

    auto g = repo.oauth().grant(created->id);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->account_id, created->id);
    EXPECT_EQ(g->client, "corp");
    EXPECT_EQ(g->state, oauth_state::needs_consent);
    EXPECT_EQ(g->generation, 0);
    EXPECT_FALSE(g->has_refresh_token);
    EXPECT_FALSE(g->consented_at);
    EXPECT_FALSE(g->access_expires_at);
    EXPECT_TRUE(g->last_error.error.empty());
    auto t = repo.oauth().tokens(created->id);
    EXPECT_TRUE(t.access_token.empty());
    EXPECT_TRUE(t.refresh_token.empty());

    // find() and list() load the grant with the account; a password account has none.
    ASSERT_TRUE(repo.create(password_account()));
    auto found = repo.find("office");
    ASSERT_TRUE(found);
    ASSERT_TRUE(found->oauth);
    EXPECT_EQ(found->oauth->client, "corp");
    EXPECT_EQ(found->oauth->state, oauth_state::needs_consent);
    auto legacy = repo.find("legacy");
    ASSERT_TRUE(legacy);
    EXPECT_EQ(legacy->credential, credential_kind::password);
    EXPECT_FALSE(legacy->oauth);
    EXPECT_TRUE(legacy->oauth_client.empty());
    EXPECT_FALSE(repo.oauth().grant(legacy->id));
    auto all = repo.list();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_TRUE(all[1].oauth); // "office" sorts after "legacy"
    EXPECT_TRUE(repo.find_by_local_user("scanner")->oauth);
}

TEST(oauth_repository, an_oauth2_account_needs_a_known_client) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    auto unknown = repo.create(oauth_account("office", "scanner", "nope"));
    ASSERT_FALSE(unknown);
    EXPECT_TRUE(contains(unknown.error().message, "nope")) << unknown.error().message;
    auto none = repo.create(oauth_account("office", "scanner", ""));
    ASSERT_FALSE(none);
    EXPECT_TRUE(contains(none.error().message, "OAuth client")) << none.error().message;
    EXPECT_TRUE(repo.list().empty()); // nothing half-written
}

TEST(oauth_repository, the_provider_password_of_an_oauth2_account_cannot_be_set) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    ASSERT_TRUE(repo.create(oauth_account()));
    auto r = repo.set_remote_secret("office", "a-password");
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "OAuth2")) << r.error().message;
}

TEST(oauth_repository, consent_stores_tokens_identity_and_scopes) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto id = repo.create(oauth_account())->id;

    auto generation = repo.oauth().store_tokens(id, consent(access_1, refresh_1, 2'000'000'000));
    EXPECT_EQ(generation, 1);
    auto t = repo.oauth().tokens(id);
    EXPECT_EQ(t.access_token, access_1);
    EXPECT_EQ(t.refresh_token, refresh_1);
    EXPECT_EQ(t.access_expires_at, 2'000'000'000);
    EXPECT_EQ(t.generation, 1);

    auto g = repo.oauth().grant(id);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->state, oauth_state::ok);
    EXPECT_EQ(g->identity, "office@contoso.com");
    EXPECT_EQ(g->scopes, "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
    EXPECT_TRUE(g->has_refresh_token);
    ASSERT_TRUE(g->consented_at);
    EXPECT_GT(*g->consented_at, 0);
    EXPECT_EQ(g->access_expires_at, 2'000'000'000);
    EXPECT_FALSE(g->last_refresh_at);
    EXPECT_EQ(g->refresh_count, 0);
    EXPECT_EQ(repo.find("office")->oauth->state, oauth_state::ok);
}

TEST(oauth_repository, a_refresh_without_a_refresh_token_keeps_the_old_one) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto id = repo.create(oauth_account())->id;
    repo.oauth().store_tokens(id, consent(access_1, refresh_1));

    auto generation = repo.oauth().store_tokens(id, refreshed(access_2, "", 2'000'003'600));
    EXPECT_EQ(generation, 2);
    auto t = repo.oauth().tokens(id);
    EXPECT_EQ(t.access_token, access_2);
    EXPECT_EQ(t.refresh_token, refresh_1); // not rotated: kept
    EXPECT_EQ(t.access_expires_at, 2'000'003'600);
    auto g = repo.oauth().grant(id);
    EXPECT_EQ(g->state, oauth_state::ok);
    EXPECT_EQ(g->refresh_count, 1);
    EXPECT_TRUE(g->last_refresh_at);
    EXPECT_TRUE(g->has_refresh_token);
    EXPECT_EQ(g->identity, "office@contoso.com"); // a refresh keeps what the consent said
    EXPECT_EQ(g->scopes, "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
}

TEST(oauth_repository, a_refresh_with_a_refresh_token_rotates_it) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto id = repo.create(oauth_account())->id;
    repo.oauth().store_tokens(id, consent(access_1, refresh_1));

    auto update = refreshed(access_2, refresh_2);
    update.scopes = "narrower";
    EXPECT_EQ(repo.oauth().store_tokens(id, std::move(update)), 2);
    auto t = repo.oauth().tokens(id);
    EXPECT_EQ(t.access_token, access_2);
    EXPECT_EQ(t.refresh_token, refresh_2);
    EXPECT_EQ(t.generation, 2);
    auto g = repo.oauth().grant(id);
    EXPECT_EQ(g->scopes, "narrower"); // what the refresh reply granted
    EXPECT_EQ(g->identity, "office@contoso.com");
    EXPECT_EQ(repo.oauth().store_tokens(id, refreshed(access_1, "")), 3); // every change bumps the generation
    EXPECT_EQ(repo.oauth().tokens(id).refresh_token, refresh_2);
}

TEST(oauth_repository, a_failure_keeps_the_tokens_and_records_the_error) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto id = repo.create(oauth_account())->id;
    repo.oauth().store_tokens(id, consent(access_1, refresh_1));

    oauth_error_record e{"temporarily_unavailable", "try later", 503, 1'900'000'000};
    repo.oauth().record_failure(id, oauth_state::degraded, e);
    auto g = repo.oauth().grant(id);
    EXPECT_EQ(g->state, oauth_state::degraded);
    EXPECT_EQ(g->last_error.error, "temporarily_unavailable");
    EXPECT_EQ(g->last_error.description, "try later");
    EXPECT_EQ(g->last_error.http_status, 503);
    EXPECT_EQ(g->last_error.at, 1'900'000'000);
    EXPECT_EQ(g->refresh_failures, 1);
    EXPECT_EQ(g->generation, 1); // the tokens did not change
    auto t = repo.oauth().tokens(id);
    EXPECT_EQ(t.access_token, access_1);
    EXPECT_EQ(t.refresh_token, refresh_1);

    repo.oauth().record_failure(id, oauth_state::needs_consent,
                                {"invalid_grant", "AADSTS70008: expired", 400, 0});
    g = repo.oauth().grant(id);
    EXPECT_EQ(g->state, oauth_state::needs_consent);
    EXPECT_EQ(g->last_error.description, "AADSTS70008: expired");
    EXPECT_GT(g->last_error.at, 0); // no time given: now
    EXPECT_EQ(g->refresh_failures, 2);
    EXPECT_EQ(repo.oauth().tokens(id).refresh_token, refresh_1);

    // A later success clears the error.
    repo.oauth().store_tokens(id, refreshed(access_2, ""));
    g = repo.oauth().grant(id);
    EXPECT_EQ(g->state, oauth_state::ok);
    EXPECT_TRUE(g->last_error.error.empty());
    EXPECT_TRUE(g->last_error.description.empty());
    EXPECT_EQ(g->last_error.http_status, 0);
}

TEST(oauth_repository, set_state_and_states_round_trip) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto id = repo.create(oauth_account())->id;
    for (auto s : {oauth_state::ok, oauth_state::refreshing, oauth_state::degraded, oauth_state::config_error,
                   oauth_state::needs_consent}) {
        repo.oauth().set_state(id, s);
        EXPECT_EQ(repo.oauth().grant(id)->state, s) << to_string(s);
        EXPECT_EQ(oauth_state_from_string(to_string(s)), s);
    }
    EXPECT_EQ(oauth_state_from_string("garbage"), oauth_state::needs_consent);
}

TEST(oauth_repository, another_client_drops_the_tokens_and_needs_consent) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client("corp")));
    ASSERT_TRUE(repo.oauth().save_client(client("other")));
    auto id = repo.create(oauth_account())->id;
    repo.oauth().store_tokens(id, consent(access_1, refresh_1));

    ASSERT_TRUE(repo.oauth().set_grant_client(id, "corp")); // the same client: nothing changes
    EXPECT_EQ(repo.oauth().grant(id)->state, oauth_state::ok);
    EXPECT_EQ(repo.oauth().tokens(id).refresh_token, refresh_1);

    ASSERT_TRUE(repo.oauth().set_grant_client(id, "other"));
    auto g = repo.oauth().grant(id);
    EXPECT_EQ(g->client, "other");
    EXPECT_EQ(g->state, oauth_state::needs_consent);
    EXPECT_FALSE(g->has_refresh_token);
    EXPECT_EQ(g->generation, 2);
    auto t = repo.oauth().tokens(id);
    EXPECT_TRUE(t.access_token.empty());
    EXPECT_TRUE(t.refresh_token.empty());
    EXPECT_EQ(repo.find("office")->oauth_client, "other");
}

TEST(oauth_repository, the_refresh_lease_is_held_by_one_caller_until_released_or_expired) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto id = repo.create(oauth_account())->id;
    auto& o = repo.oauth();

    EXPECT_TRUE(o.take_lease(id, 1000, 1060));
    EXPECT_FALSE(o.take_lease(id, 1001, 1061)); // held
    EXPECT_FALSE(o.take_lease(id, 1059, 1119));
    EXPECT_TRUE(o.take_lease(id, 1060, 1120)); // expired: taken over
    EXPECT_FALSE(o.take_lease(id, 1100, 1160));
    o.release_lease(id);
    EXPECT_TRUE(o.take_lease(id, 1100, 1160)); // released
    EXPECT_FALSE(o.take_lease(id, 1101, 1161));

    // Storing tokens and recording a failure both end the lease.
    o.store_tokens(id, consent(access_1, refresh_1));
    EXPECT_TRUE(o.take_lease(id, 1102, 1162));
    o.record_failure(id, oauth_state::degraded, {"server_error", "", 500, 1103});
    EXPECT_TRUE(o.take_lease(id, 1104, 1164));

    EXPECT_FALSE(o.take_lease(id + 1000, 1000, 1060)); // no grant: no lease
    auto legacy = repo.create(password_account());
    ASSERT_TRUE(legacy);
    EXPECT_FALSE(o.take_lease(legacy->id, 1000, 1060));
}

TEST(oauth_repository, the_refresh_lease_is_shared_by_processes_using_one_database) {
    temp_dir tmp;
    account_repository first(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(first.oauth().save_client(client()));
    auto id = first.create(oauth_account())->id;
    account_repository second(tmp.data(), tmp.store(), cheap); // the CLI beside a running serve
    EXPECT_TRUE(first.oauth().take_lease(id, 1000, 1060));
    EXPECT_FALSE(second.oauth().take_lease(id, 1001, 1061));
    first.oauth().store_tokens(id, consent(access_1, refresh_1));
    auto g = second.oauth().grant(id);
    EXPECT_EQ(g->generation, 1); // the other process sees the tokens changed
    EXPECT_EQ(second.oauth().tokens(id).access_token, access_1);
    EXPECT_TRUE(second.oauth().take_lease(id, 1002, 1062));
}

TEST(oauth_repository, tokens_are_sealed_on_disk) {
    temp_dir tmp;
    std::int64_t id = 0;
    {
        account_repository repo(tmp.data(), tmp.store(), cheap);
        auto c = client();
        c.client_secret = client_secret;
        ASSERT_TRUE(repo.oauth().save_client(c));
        id = repo.create(oauth_account())->id;
        repo.oauth().store_tokens(id, consent(access_1, refresh_1));
        // Still open: the newest rows may sit in the WAL file, which all_bytes_of() reads too.
        auto live = all_bytes_of(tmp.data());
        EXPECT_TRUE(contains(live, "office@contoso.com")); // clear columns are found, so the search works
        EXPECT_FALSE(contains(live, access_1));
        EXPECT_FALSE(contains(live, refresh_1));
        EXPECT_FALSE(contains(live, client_secret));
        repo.oauth().store_tokens(id, refreshed(access_2, refresh_2));
    }
    auto bytes = all_bytes_of(tmp.data());
    EXPECT_TRUE(contains(bytes, "office@contoso.com"));
    for (const auto& secret : {access_1, access_2, refresh_1, refresh_2, client_secret})
        EXPECT_FALSE(contains(bytes, secret)) << secret;
    // Even a fragment of a token (what a partial page might hold) is absent.
    EXPECT_FALSE(contains(bytes, "REFRESH-two"));
    EXPECT_FALSE(contains(bytes, "ACCESS-two"));

    account_repository reopened(tmp.data(), tmp.store(), cheap);
    auto t = reopened.oauth().tokens(id);
    EXPECT_EQ(t.access_token, access_2);
    EXPECT_EQ(t.refresh_token, refresh_2);
}

TEST(oauth_repository, tokens_moved_to_another_account_do_not_open) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto a = repo.create(oauth_account("a", "ua"))->id;
    auto b = repo.create(oauth_account("b", "ub"))->id;
    repo.oauth().store_tokens(a, consent(access_1, refresh_1));
    {
        auto owned = open_database(tmp.data(), tmp.store());
        auto& db = *owned;
        db.prepare("UPDATE oauth_grants SET refresh_token = (SELECT refresh_token FROM oauth_grants WHERE "
                   "account_id = ?1), access_token = (SELECT access_token FROM oauth_grants WHERE account_id "
                   "= ?1) "
                   "WHERE account_id = ?2")
            .bind(1, a)
            .bind(2, b)
            .run();
    }
    try {
        repo.oauth().tokens(b);
        FAIL() << "tokens sealed for account a must not open for account b";
    } catch (const std::runtime_error& e) {
        EXPECT_TRUE(contains(e.what(), "failed authentication")) << e.what();
        EXPECT_FALSE(contains(e.what(), refresh_1));
        EXPECT_FALSE(contains(e.what(), access_1));
    }
    EXPECT_EQ(repo.oauth().tokens(a).refresh_token, refresh_1); // the original still opens
}

TEST(oauth_repository, removing_the_account_removes_its_grant) {
    temp_dir tmp;
    account_repository repo(tmp.data(), tmp.store(), cheap);
    ASSERT_TRUE(repo.oauth().save_client(client()));
    auto id = repo.create(oauth_account())->id;
    repo.oauth().store_tokens(id, consent(access_1, refresh_1));
    ASSERT_TRUE(repo.remove("office"));
    EXPECT_FALSE(repo.oauth().grant(id));
    auto t = repo.oauth().tokens(id);
    EXPECT_TRUE(t.access_token.empty());
    EXPECT_TRUE(t.refresh_token.empty());
    // A new account that reuses the id (SQLite may hand it out again) starts without the old tokens.
    auto again = repo.create(oauth_account());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->oauth->state, oauth_state::needs_consent);
    EXPECT_TRUE(repo.oauth().tokens(again->id).refresh_token.empty());
}
