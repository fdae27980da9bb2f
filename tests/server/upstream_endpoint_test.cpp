// Provider endpoint URLs.
#include "server/domain/endpoint.hpp"

#include <gtest/gtest.h>

using namespace mailgate::domain;
using mailgate::protocols::upstream_tls;

TEST(upstream_endpoint, schemes_and_default_ports) {
    struct case_t {
        const char* url;
        mail_protocol protocol;
        upstream_tls tls;
        std::uint16_t port;
    };
    for (auto c :
         {case_t{"imaps://imap.gmail.com", mail_protocol::imap, upstream_tls::implicit, 993},
          case_t{"imap+starttls://mail.example.com", mail_protocol::imap, upstream_tls::starttls, 143},
          case_t{"pop3s://pop.gmail.com", mail_protocol::pop3, upstream_tls::implicit, 995},
          case_t{"pop3+starttls://mail.example.com", mail_protocol::pop3, upstream_tls::starttls, 110},
          case_t{"smtps://smtp.gmail.com", mail_protocol::smtp, upstream_tls::implicit, 465},
          case_t{"smtp+starttls://smtp.office365.com", mail_protocol::smtp, upstream_tls::starttls, 587}}) {
        auto e = parse_upstream_url(c.url);
        ASSERT_TRUE(e) << c.url;
        EXPECT_EQ(e->protocol, c.protocol);
        EXPECT_EQ(e->tls, c.tls);
        EXPECT_EQ(e->port, c.port);
    }
}

TEST(upstream_endpoint, explicit_port_case_and_canonical_form) {
    auto e = parse_upstream_url("IMAPS://Mail.Example.COM:10993/");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->host, "mail.example.com");
    EXPECT_EQ(e->port, 10993);
    EXPECT_EQ(e->url(), "imaps://mail.example.com:10993");
    auto v6 = parse_upstream_url("smtps://[2001:db8::1]:465");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "2001:db8::1");
    EXPECT_EQ(v6->url(), "smtps://[2001:db8::1]:465");
    EXPECT_EQ(parse_upstream_url("pop3s://127.0.0.1:2995")->host, "127.0.0.1");
}

TEST(upstream_endpoint, plaintext_schemes_refused_with_the_reason) {
    for (const char* url :
         {"imap://mail.example.com", "pop3://mail.example.com", "smtp://mail.example.com:25"}) {
        auto e = parse_upstream_url(url);
        ASSERT_FALSE(e) << url;
        EXPECT_NE(e.error().message.find("no TLS"), std::string::npos) << e.error().message;
    }
}

TEST(upstream_endpoint, rejects_what_does_not_belong) {
    for (const char* url :
         {"", "mail.example.com", "https://mail.example.com", "imaps://user:pw@mail.example.com",
          "imaps://mail.example.com/INBOX", "imaps://mail.example.com?x=1", "imaps://",
          "imaps://mail.example.com:0", "imaps://mail.example.com:99999"}) {
        auto e = parse_upstream_url(url);
        EXPECT_FALSE(e) << url;
    }
    auto creds = parse_upstream_url("imaps://user:secret@mail.example.com");
    EXPECT_EQ(creds.error().message.find("secret"), std::string::npos);
}
