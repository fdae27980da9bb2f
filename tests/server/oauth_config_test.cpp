// [oauth.NAME] sections of the config file: completed with their preset, unknown keys and invalid sections
// refused naming the key or section, and other unknown keys still errors.
#include "server/app/config.hpp"

#include "temp_dir.hpp"

#include <boost/program_options/parsers.hpp>
#include <gtest/gtest.h>

#include <fstream>

namespace po = boost::program_options;
using namespace mailgate;
using namespace mailgate::app;

namespace {

config load_file(const temp_dir& tmp, const std::string& text) {
    auto path = tmp.path / "mailgate.conf";
    std::ofstream(path) << text;
    std::vector<std::string> args{"--config", path.string()};
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(config_options(true)).run(), vm);
    return load_config(vm);
}

std::string error_of(const std::string& text) {
    temp_dir tmp;
    try {
        load_file(tmp, text);
    } catch (const config_error& e) {
        return e.what();
    }
    return "no error";
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

} // namespace

TEST(oauth_config, microsoft_section_is_completed_with_its_preset) {
    temp_dir tmp;
    auto c = load_file(tmp, "data_dir = /srv/mail\n"
                            "[oauth.corp]\n"
                            "preset = microsoft\n"
                            "client_id = 11111111-2222-3333-4444-555555555555\n"
                            "tenant = contoso\n"
                            "token_url = https://login.example.test/contoso/token\n");
    EXPECT_EQ(c.data_dir, "/srv/mail");
    ASSERT_EQ(c.oauth_clients.size(), 1u);
    const auto& o = c.oauth_clients.front();
    EXPECT_EQ(o.name, "corp");
    EXPECT_TRUE(o.from_config);
    EXPECT_EQ(o.preset, "microsoft");
    EXPECT_EQ(o.client_id, "11111111-2222-3333-4444-555555555555");
    EXPECT_EQ(o.tenant, "contoso");
    EXPECT_EQ(o.token_url, "https://login.example.test/contoso/token"); // the override wins
    EXPECT_EQ(o.authorize_url, "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize");
    EXPECT_EQ(o.device_url, "https://login.microsoftonline.com/contoso/oauth2/v2.0/devicecode");
    EXPECT_TRUE(contains(o.scope, "offline_access"));
    EXPECT_TRUE(o.client_secret.empty());
    EXPECT_EQ(o.mechanism, domain::sasl_mechanism::xoauth2);
}

TEST(oauth_config, several_sections_and_no_section) {
    temp_dir tmp;
    auto none = load_file(tmp, "[listen]\nsmtp = 0.0.0.0:587\n");
    EXPECT_TRUE(none.oauth_clients.empty());

    auto c = load_file(
        tmp, "[oauth.gmail]\npreset = google\nclient_id = g-id\nclient_secret = g-secret\n"
             "[listen]\nsmtp = 0.0.0.0:587\n"
             "[oauth.own]\nclient_id = own-id\ntoken_url = https://idp.lan/token\n"
             "device_url = https://idp.lan/device\nscope = mail offline_access\nmechanism = oauthbearer\n");
    ASSERT_EQ(c.oauth_clients.size(), 2u);
    EXPECT_EQ(c.listen.at("smtp").to_string(), "0.0.0.0:587"); // other sections still apply
    const domain::oauth_client* gmail = nullptr;
    const domain::oauth_client* own = nullptr;
    for (const auto& o : c.oauth_clients) (o.name == "gmail" ? gmail : own) = &o;
    ASSERT_TRUE(gmail && own);
    EXPECT_EQ(gmail->token_url, "https://oauth2.googleapis.com/token");
    EXPECT_EQ(gmail->client_secret, "g-secret");
    EXPECT_EQ(gmail->scope, "https://mail.google.com/");
    EXPECT_TRUE(gmail->from_config);
    EXPECT_EQ(own->name, "own");
    EXPECT_EQ(own->preset, "custom");
    EXPECT_EQ(own->mechanism, domain::sasl_mechanism::oauthbearer);
    EXPECT_EQ(own->scope, "mail offline_access");
    EXPECT_TRUE(own->from_config);
}

TEST(oauth_config, unknown_key_in_an_oauth_section_names_it) {
    auto e = error_of("[oauth.corp]\npreset = microsoft\nclient_id = x\nbogus = 1\n");
    EXPECT_TRUE(contains(e, "oauth.corp.bogus")) << e;
}

TEST(oauth_config, bad_values_in_an_oauth_section_name_the_key) {
    auto mech = error_of("[oauth.corp]\nclient_id = x\nmechanism = plain\n");
    EXPECT_TRUE(contains(mech, "oauth.corp.mechanism")) << mech;
    auto preset = error_of("[oauth.corp]\npreset = yahoo\nclient_id = x\n");
    EXPECT_TRUE(contains(preset, "oauth.corp.preset")) << preset;
}

TEST(oauth_config, other_unknown_keys_are_still_errors) {
    auto listen = error_of("[listen]\nsmtp = 0.0.0.0:587\ntypo = 1\n");
    EXPECT_TRUE(contains(listen, "listen.typo")) << listen;
    auto top = error_of("no_such_key = 1\n");
    EXPECT_TRUE(contains(top, "no_such_key")) << top;
    // [oauth] without a client name, and look-alike sections, are not client sections.
    auto bare = error_of("[oauth]\nclient_id = x\n");
    EXPECT_TRUE(contains(bare, "oauth.client_id")) << bare;
    auto lookalike = error_of("[oauthx.corp]\nclient_id = x\n");
    EXPECT_TRUE(contains(lookalike, "oauthx.corp.client_id")) << lookalike;
}

TEST(oauth_config, an_invalid_section_names_the_section) {
    auto http = error_of(
        "[oauth.corp]\npreset = microsoft\nclient_id = x\ntoken_url = http://login.example.test/token\n");
    EXPECT_TRUE(contains(http, "oauth.corp")) << http;
    EXPECT_TRUE(contains(http, "token_url")) << http;
    auto no_id = error_of("[oauth.corp]\npreset = google\n");
    EXPECT_TRUE(contains(no_id, "oauth.corp")) << no_id;
    EXPECT_TRUE(contains(no_id, "client_id")) << no_id;
    auto bad_name = error_of("[oauth.my client]\npreset = google\nclient_id = x\n");
    EXPECT_TRUE(contains(bad_name, "oauth.my client")) << bad_name;
    auto ms_bearer = error_of("[oauth.corp]\npreset = microsoft\nclient_id = x\nmechanism = oauthbearer\n");
    EXPECT_TRUE(contains(ms_bearer, "oauth.corp")) << ms_bearer;
}
