// OAuth2 client registrations: what the google/microsoft presets fill in, what the validation refuses, and
// the setter the config file and the admin API go through.
#include "server/domain/oauth_client.hpp"

#include <gtest/gtest.h>

using namespace mailgate;
using namespace mailgate::domain;

namespace {

oauth_client named(std::string preset, std::string name = "corp") {
    oauth_client c;
    c.name = std::move(name);
    c.preset = std::move(preset);
    c.client_id = "id-123";
    return c;
}

// A custom client that passes validation; tests break one field at a time.
oauth_client valid_custom() {
    auto c = named("custom");
    c.token_url = "https://auth.example.com/token";
    c.authorize_url = "https://auth.example.com/authorize";
    c.scope = "imap smtp offline_access";
    return c;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

} // namespace

TEST(oauth_client, google_preset_fills_google_urls_and_the_mail_scope) {
    auto r = complete_client(named("google"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->authorize_url, "https://accounts.google.com/o/oauth2/v2/auth");
    EXPECT_EQ(r->token_url, "https://oauth2.googleapis.com/token");
    EXPECT_EQ(r->revoke_url, "https://oauth2.googleapis.com/revoke");
    EXPECT_EQ(r->scope, "https://mail.google.com/");
    EXPECT_TRUE(r->device_url.empty()); // Google's device flow does not grant the mail scope
    EXPECT_EQ(r->mechanism, sasl_mechanism::xoauth2);
    EXPECT_EQ(r->client_id, "id-123");
}

TEST(oauth_client, microsoft_preset_defaults_to_the_common_tenant) {
    auto r = complete_client(named("microsoft"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->tenant, "common");
    EXPECT_EQ(r->authorize_url, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
    EXPECT_EQ(r->token_url, "https://login.microsoftonline.com/common/oauth2/v2.0/token");
    EXPECT_EQ(r->device_url, "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
    EXPECT_TRUE(contains(r->scope, "https://outlook.office.com/IMAP.AccessAsUser.All"));
    EXPECT_TRUE(contains(r->scope, "https://outlook.office.com/POP.AccessAsUser.All"));
    EXPECT_TRUE(contains(r->scope, "https://outlook.office.com/SMTP.Send"));
    EXPECT_TRUE(contains(r->scope, "offline_access"));
    for (const auto* url : {&r->authorize_url, &r->token_url, &r->device_url})
        EXPECT_FALSE(contains(*url, "{tenant}")) << *url;
}

TEST(oauth_client, microsoft_preset_puts_the_tenant_into_every_url) {
    auto c = named("microsoft");
    c.tenant = "contoso.onmicrosoft.com";
    auto r = complete_client(c);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->tenant, "contoso.onmicrosoft.com");
    EXPECT_EQ(r->authorize_url,
              "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
    EXPECT_EQ(r->token_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
    EXPECT_EQ(r->device_url,
              "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode");
}

TEST(oauth_client, microsoft_preset_replaces_tenant_in_overridden_urls_too) {
    auto c = named("microsoft");
    c.tenant = "organizations";
    c.token_url = "https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token"; // a sovereign cloud
    auto r = complete_client(c);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->token_url, "https://login.microsoftonline.us/organizations/oauth2/v2.0/token");
}

TEST(oauth_client, microsoft_preset_refuses_oauthbearer) {
    auto c = named("microsoft");
    c.mechanism = sasl_mechanism::oauthbearer;
    auto r = complete_client(c);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "mechanism")) << r.error().message;
}

TEST(oauth_client, preset_overrides_are_kept) {
    auto c = named("google");
    c.token_url = "https://127.0.0.1:9443/token";
    c.authorize_url = "https://127.0.0.1:9443/auth";
    c.scope = "custom-scope";
    c.client_secret = "shh";
    auto r = complete_client(c);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->token_url, "https://127.0.0.1:9443/token");
    EXPECT_EQ(r->authorize_url, "https://127.0.0.1:9443/auth");
    EXPECT_EQ(r->scope, "custom-scope");
    EXPECT_EQ(r->client_secret, "shh");
    EXPECT_EQ(r->revoke_url,
              "https://oauth2.googleapis.com/revoke"); // what was not overridden is still filled

    auto m = named("microsoft");
    m.tenant = "contoso";
    m.token_url = "https://login.example.test/contoso/token";
    m.scope = "only-imap";
    auto rm = complete_client(m);
    ASSERT_TRUE(rm) << rm.error().message;
    EXPECT_EQ(rm->token_url, "https://login.example.test/contoso/token");
    EXPECT_EQ(rm->scope, "only-imap");
    EXPECT_EQ(rm->authorize_url, "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize");
}

TEST(oauth_client, custom_client_is_accepted_as_given) {
    auto r = complete_client(valid_custom());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->token_url, "https://auth.example.com/token");
    EXPECT_TRUE(r->device_url.empty());
    EXPECT_TRUE(r->revoke_url.empty());
}

TEST(oauth_client, plain_http_urls_are_refused_naming_the_key) {
    for (std::string key : {"token_url", "authorize_url", "device_url", "revoke_url"}) {
        auto c = valid_custom();
        ASSERT_TRUE(set_client_field(c, key, "http://auth.example.com/x"));
        auto r = complete_client(c);
        ASSERT_FALSE(r) << key;
        EXPECT_TRUE(contains(r.error().message, key)) << r.error().message;
        EXPECT_TRUE(contains(r.error().message, "https")) << r.error().message;
    }
    // Also through a preset: an http override is not silently replaced by the preset's https URL.
    auto g = named("google");
    g.token_url = "http://oauth2.googleapis.com/token";
    auto r = complete_client(g);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "token_url")) << r.error().message;
}

TEST(oauth_client, urls_that_are_not_absolute_https_are_refused) {
    for (std::string url : {"oauth2.example.com/token", "https://", "ftp://auth.example.com/token", "/token",
                            "https:///token"}) {
        auto c = valid_custom();
        c.token_url = url;
        auto r = complete_client(c);
        EXPECT_FALSE(r) << url;
        if (!r) {
            EXPECT_TRUE(contains(r.error().message, "token_url")) << r.error().message;
        }
    }
}

TEST(oauth_client, missing_client_id_scope_or_token_url_is_refused) {
    {
        auto c = valid_custom();
        c.client_id.clear();
        auto r = complete_client(c);
        ASSERT_FALSE(r);
        EXPECT_TRUE(contains(r.error().message, "client_id")) << r.error().message;
    }
    {
        auto c = valid_custom();
        c.scope.clear();
        auto r = complete_client(c);
        ASSERT_FALSE(r);
        EXPECT_TRUE(contains(r.error().message, "scope")) << r.error().message;
    }
    {
        auto c = valid_custom();
        c.token_url.clear();
        auto r = complete_client(c);
        ASSERT_FALSE(r);
        EXPECT_TRUE(contains(r.error().message, "token_url")) << r.error().message;
    }
    {
        auto g = named("google");
        g.client_id.clear(); // a preset fills URLs, never the client id
        EXPECT_FALSE(complete_client(g));
    }
}

TEST(oauth_client, a_custom_client_needs_a_consent_endpoint) {
    auto c = valid_custom();
    c.authorize_url.clear();
    auto r = complete_client(c);
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "authorize_url")) << r.error().message;
    c.device_url = "https://auth.example.com/device";
    EXPECT_TRUE(complete_client(c)); // the device flow alone is enough
}

TEST(oauth_client, names_are_checked) {
    for (std::string good : {"corp", "Corp-2", "a.b_c", "x"}) {
        auto c = valid_custom();
        c.name = good;
        EXPECT_TRUE(complete_client(c)) << good;
    }
    for (std::string bad :
         {"", "two words", "slash/name", "semi;colon", "quote'", "ünï", "tab\tname", "new\nline"}) {
        auto c = valid_custom();
        c.name = bad;
        auto r = complete_client(c);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_TRUE(contains(r.error().message, "name")) << r.error().message;
        }
    }
}

TEST(oauth_client, set_client_field_sets_every_known_key) {
    oauth_client c;
    for (auto [key, value] :
         std::initializer_list<std::pair<const char*, const char*>>{{"preset", "microsoft"},
                                                                    {"client_id", "cid"},
                                                                    {"client_secret", "cs"},
                                                                    {"authorize_url", "https://a"},
                                                                    {"token_url", "https://t"},
                                                                    {"device_url", "https://d"},
                                                                    {"revoke_url", "https://r"},
                                                                    {"scope", "s1 s2"},
                                                                    {"tenant", "contoso"},
                                                                    {"mechanism", "oauthbearer"}}) {
        auto r = set_client_field(c, key, value);
        EXPECT_TRUE(r) << key << ": " << (r ? "" : r.error().message);
    }
    EXPECT_EQ(c.preset, "microsoft");
    EXPECT_EQ(c.client_id, "cid");
    EXPECT_EQ(c.client_secret, "cs");
    EXPECT_EQ(c.authorize_url, "https://a");
    EXPECT_EQ(c.token_url, "https://t");
    EXPECT_EQ(c.device_url, "https://d");
    EXPECT_EQ(c.revoke_url, "https://r");
    EXPECT_EQ(c.scope, "s1 s2");
    EXPECT_EQ(c.tenant, "contoso");
    EXPECT_EQ(c.mechanism, sasl_mechanism::oauthbearer);
    ASSERT_TRUE(set_client_field(c, "mechanism", "xoauth2"));
    EXPECT_EQ(c.mechanism, sasl_mechanism::xoauth2);
}

TEST(oauth_client, set_client_field_refuses_unknown_keys_and_bad_values) {
    oauth_client c;
    auto unknown = set_client_field(c, "bogus", "1");
    ASSERT_FALSE(unknown);
    EXPECT_TRUE(contains(unknown.error().message, "bogus")) << unknown.error().message;
    EXPECT_FALSE(set_client_field(c, "name", "x")); // the name comes from the section, not a key
    EXPECT_FALSE(set_client_field(c, "from_config", "1"));

    auto mech = set_client_field(c, "mechanism", "plain");
    ASSERT_FALSE(mech);
    EXPECT_TRUE(contains(mech.error().message, "mechanism")) << mech.error().message;
    EXPECT_FALSE(set_client_field(c, "mechanism", "XOAUTH2")); // exact spelling only
    EXPECT_EQ(c.mechanism, sasl_mechanism::xoauth2);           // unchanged after a refusal

    auto preset = set_client_field(c, "preset", "yahoo");
    ASSERT_FALSE(preset);
    EXPECT_TRUE(contains(preset.error().message, "preset")) << preset.error().message;
    EXPECT_EQ(c.preset, "custom");
}

TEST(oauth_client, names_and_checklists) {
    EXPECT_EQ(preset_names(), (std::vector<std::string>{"google", "microsoft", "custom"}));
    EXPECT_EQ(to_string(sasl_mechanism::xoauth2), "xoauth2");
    EXPECT_EQ(to_string(sasl_mechanism::oauthbearer), "oauthbearer");
    for (const auto& p : preset_names()) EXPECT_FALSE(registration_checklist(p).empty()) << p;
}
