// Query string decoding shared by the OAuth2 redirect and the autoconfig endpoint.
#include "server/common/query_string.hpp"

#include "server/admin/client_setup.hpp"

#include <gtest/gtest.h>

namespace mailgate {
namespace {

TEST(query_string, form_decoding) {
    EXPECT_EQ(form_decode("a+b%40c%2Fd"), "a b@c/d");
    EXPECT_EQ(form_decode("%4a%4A"), "JJ");
    EXPECT_EQ(form_decode("100%"), "100%"); // a broken escape stays
    EXPECT_EQ(form_decode("%zz%4"), "%zz%4");
}

TEST(query_string, parameters_of_a_target) {
    EXPECT_EQ(query_parameter("/mail/config-v1.1.xml?emailaddress=alice%40example.org", "emailaddress"),
              "alice@example.org");
    EXPECT_EQ(query_parameter("/x?a=1&emailaddress=b&emailaddress=c#frag", "emailaddress"), "b");
    EXPECT_EQ(query_parameter("/x?a&b=", "b"), "");
    EXPECT_EQ(query_parameter("/x?a", "a"), "");
    EXPECT_EQ(query_parameter("/x", "a"), std::nullopt);
    EXPECT_EQ(query_parameter("/x?&&", "a"), std::nullopt);
    auto pairs = parse_query("code=a%2Bb&state=s+t&&x");
    ASSERT_EQ(pairs.size(), 3u);
    EXPECT_EQ(pairs[0], (std::pair<std::string, std::string>{"code", "a+b"}));
    EXPECT_EQ(pairs[1].second, "s t");
    EXPECT_EQ(pairs[2], (std::pair<std::string, std::string>{"x", ""}));
}

TEST(client_setup, autodiscover_request_address) {
    using admin::autodiscover_request_address;
    EXPECT_EQ(
        autodiscover_request_address("<Request><EMailAddress> a@b.example\r\n</EMailAddress></Request>"),
        "a@b.example");
    EXPECT_EQ(autodiscover_request_address("<Request></Request>"), std::nullopt);
    EXPECT_EQ(autodiscover_request_address("<EMailAddress>a@b"), std::nullopt);
    EXPECT_EQ(autodiscover_request_address("<EMailAddress></EMailAddress>"), std::nullopt);
    EXPECT_EQ(autodiscover_request_address("<EMailAddress><x>a@b</x></EMailAddress>"), std::nullopt);
    EXPECT_EQ(autodiscover_request_address("<EMailAddress>" + std::string(400, 'a') + "</EMailAddress>"),
              std::nullopt);
}

} // namespace
} // namespace mailgate
