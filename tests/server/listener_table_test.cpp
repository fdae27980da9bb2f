// The listener table: every listener is configurable under its name, with a default address that parses.
#include "server/app/config.hpp"
#include "server/app/listener_table.hpp"
#include "server/net/host_port.hpp"

#include <boost/program_options/parsers.hpp>
#include <gtest/gtest.h>

#include <set>

namespace po = boost::program_options;
using namespace mailgate::app;

TEST(listener_table, names_are_unique_and_found) {
    std::set<std::string_view> names;
    for (const auto& l : listener_table()) {
        EXPECT_TRUE(names.insert(l.name).second) << l.name;
        EXPECT_EQ(find_listener(l.name), &l);
    }
    EXPECT_EQ(names.size(), 7u);
    EXPECT_EQ(find_listener("bogus"), nullptr);
}

TEST(listener_table, defaults_are_the_configuration_defaults) {
    po::variables_map vm;
    po::store(po::command_line_parser(std::vector<std::string>{}).options(config_options(true)).run(), vm);
    auto c = load_config(vm);
    ASSERT_EQ(c.listen.size(), listener_table().size());
    for (const auto& l : listener_table()) {
        auto parsed = mailgate::net::parse_host_port(l.default_address);
        ASSERT_TRUE(parsed) << l.name;
        EXPECT_EQ(c.listen.at(std::string(l.name)).to_string(), parsed->to_string()) << l.name;
    }
}

TEST(listener_table, implicit_tls_and_banner_wording) {
    EXPECT_TRUE(find_listener("pop3s")->implicit_tls);
    EXPECT_TRUE(find_listener("imaps")->implicit_tls);
    EXPECT_TRUE(find_listener("smtps")->implicit_tls);
    EXPECT_FALSE(find_listener("smtp")->implicit_tls);
    EXPECT_EQ(find_listener("imap")->service, listener_service::imap);
    EXPECT_EQ(find_listener("admin")->service, listener_service::admin);
    EXPECT_EQ(describe_tls(*find_listener("pop3")), "plaintext, STLS offered");
    EXPECT_EQ(describe_tls(*find_listener("smtp")), "plaintext, STARTTLS offered");
    EXPECT_EQ(describe_tls(*find_listener("imaps")), "implicit TLS");
}
