// SMTP command parsing (RFC 5321 §4.1): verb/argument split, MAIL FROM / RCPT TO paths with ESMTP
// parameters, and the re-serialization sent to the provider.
#include "protocols/smtp/command.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailgate::protocols::smtp {
namespace {

using params = std::vector<path_parameter>;

bool operator==(const path_parameter& a, const path_parameter& b) {
    return a.keyword == b.keyword && a.value == b.value && a.has_value == b.has_value;
}

void expect_parameters(const mail_path& path, const params& expected) {
    ASSERT_EQ(path.parameters.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_TRUE(path.parameters[i] == expected[i])
            << i << ": " << path.parameters[i].keyword << "=" << path.parameters[i].value << " ("
            << path.parameters[i].has_value << ")";
    }
}

TEST(smtp_command, verb_is_upper_cased_and_the_argument_is_the_rest_of_the_line) {
    auto c = parse_command("mail FROM:<a@b> SIZE=1");
    EXPECT_EQ(c.verb, "MAIL");
    EXPECT_EQ(c.argument, "FROM:<a@b> SIZE=1");
    c = parse_command("NoOp");
    EXPECT_EQ(c.verb, "NOOP");
    EXPECT_EQ(c.argument, "");
    c = parse_command("EHLO  two spaces ");
    EXPECT_EQ(c.verb, "EHLO");
    EXPECT_EQ(c.argument, " two spaces ");
    c = parse_command("QUIT ");
    EXPECT_EQ(c.verb, "QUIT");
    EXPECT_EQ(c.argument, "");
    c = parse_command("");
    EXPECT_EQ(c.verb, "");
    EXPECT_EQ(c.argument, "");
}

TEST(smtp_command, plain_paths) {
    auto p = parse_path("FROM:<alice@example.org>", "FROM:");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, "alice@example.org");
    EXPECT_TRUE(p->parameters.empty());
    p = parse_path("to:<Bob@Example.ORG>", "TO:");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, "Bob@Example.ORG") << "the address keeps its case";
}

TEST(smtp_command, one_space_after_the_colon_is_accepted) {
    auto p = parse_path("FROM: <a@b>", "FROM:");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, "a@b");
    EXPECT_FALSE(parse_path("FROM:  <a@b>", "FROM:"));
    EXPECT_FALSE(parse_path("FROM :<a@b>", "FROM:"));
}

TEST(smtp_command, null_reverse_path) {
    auto p = parse_path("FROM:<>", "FROM:");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, "");
    EXPECT_EQ(serialize(*p), "<>");
}

TEST(smtp_command, source_routes_are_dropped_to_the_mailbox) {
    auto p = parse_path("TO:<@relay1.example,@relay2.example:user@c.example>", "TO:");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, "user@c.example");
    EXPECT_FALSE(parse_path("TO:<@relay1.example>", "TO:"));
    EXPECT_FALSE(parse_path("TO:<@relay1.example:a b@c>", "TO:"));
    // Found by the fuzzer: a route must lead to a mailbox (these used to become "<@b>" and the null path "<>").
    EXPECT_FALSE(parse_path("TO:<@a:@b>", "TO:"));
    EXPECT_FALSE(parse_path("FROM:<@a:>", "FROM:"));
}

TEST(smtp_command, malformed_paths_are_refused) {
    for (std::string_view bad : {
             "FROM:a@b",              // no angle brackets
             "FROM:<a@b",             // unclosed
             "FROM:<a b@c>",          // space
             "FROM:<\"a b\"@c>",      // quoted local part
             "FROM:<a\\b@c>",         // backslash
             "FROM:<a,b@c>",          // list
             "FROM:<a<b@c>",          // bracket
             "FROM:<a\x7f@c>",        // DEL
             "FROM:<a\t@c>",          // control
             "FROM:<a@b>>",           // stray bracket
             "FROM:<a@b>SIZE=1",      // parameter without a space
             "FROM:<a@b>  SIZE=1",    // two spaces
             "FROM:<a@b> SIZE=1=2",   // '=' in a value
             "FROM:<a@b> SI_ZE=1",    // bad keyword
             "FROM:<a@b> =1",         // empty keyword
             "FROM:<a@b> SIZE=1\x01", // control in a value
             "FROM:<a@b> ENVID=\x7f", // DEL in a value
             "TO:<a@b>",              // wrong prefix
             "FR",                    // shorter than the prefix
             "",                      //
         }) {
        EXPECT_FALSE(parse_path(bad, "FROM:")) << bad;
    }
}

TEST(smtp_command, address_length_is_capped) {
    std::string local(64, 'a');
    std::string domain(254 - 65, 'd');
    ASSERT_EQ((local + "@" + domain).size(), 254u);
    EXPECT_TRUE(parse_path("FROM:<" + local + "@" + domain + ">", "FROM:"));
    EXPECT_FALSE(parse_path("FROM:<" + local + "@" + domain + "d>", "FROM:"));
}

TEST(smtp_command, utf8_addresses_parse) {
    auto p = parse_path("FROM:<j\xc3\xb6rg@b\xc3\xbc"
                        "cher.example> SMTPUTF8",
                        "FROM:");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, "j\xc3\xb6rg@b\xc3\xbc"
                          "cher.example");
}

TEST(smtp_command, parameters_keywords_upper_cased_values_kept) {
    auto p = parse_path("FROM:<a@b> size=1000 Body=8bitMIME smtputf8 ENVID=QQ314159 ", "FROM:");
    ASSERT_TRUE(p);
    expect_parameters(*p, {{"SIZE", "1000", true},
                           {"BODY", "8bitMIME", true},
                           {"SMTPUTF8", "", false},
                           {"ENVID", "QQ314159", true}});
    p = parse_path("TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c", "TO:");
    ASSERT_TRUE(p);
    expect_parameters(*p, {{"NOTIFY", "SUCCESS,FAILURE", true}, {"ORCPT", "rfc822;a+2Bb@c", true}});
    p = parse_path("FROM:<a@b> AUTH=<>", "FROM:");
    ASSERT_TRUE(p);
    expect_parameters(*p, {{"AUTH", "<>", true}});
    p = parse_path("FROM:<a@b> X-EMPTY=", "FROM:");
    ASSERT_TRUE(p);
    expect_parameters(*p, {{"X-EMPTY", "", true}});
}

TEST(smtp_command, serialize_is_canonical) {
    EXPECT_EQ(serialize({"a@b", {}}), "<a@b>");
    EXPECT_EQ(serialize({"a@b", {{"SIZE", "10", true}, {"SMTPUTF8", "", false}, {"X", "", true}}}),
              "<a@b> SIZE=10 SMTPUTF8 X=");
    // Client habits are normalized on the way through.
    for (auto [in, out] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
             {"FROM: <a@b>", "<a@b>"},
             {"from:<a@b> body=8BITMIME size=7 ", "<a@b> BODY=8BITMIME SIZE=7"},
             {"FROM:<@x,@y:a@b>", "<a@b>"},
         }) {
        auto p = parse_path(in, "FROM:");
        ASSERT_TRUE(p) << in;
        EXPECT_EQ(serialize(*p), out) << in;
    }
}

TEST(smtp_command, nothing_parsed_can_break_the_upstream_line) {
    // Whatever parses re-serializes without CR, LF, NUL or a second command.
    for (std::string_view in : {"FROM:<a@b\r\nRSET>", "FROM:<a@b> X=\r\nRSET", "FROM:<a@b> X=a\nRSET"}) {
        auto p = parse_path(in, "FROM:");
        if (!p) continue;
        auto line = serialize(*p);
        EXPECT_EQ(line.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << line;
    }
    EXPECT_FALSE(parse_path(std::string_view("FROM:<a@b\0c>", 12), "FROM:"));
}

} // namespace
} // namespace mailgate::protocols::smtp
