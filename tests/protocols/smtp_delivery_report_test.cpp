#include "protocols/smtp/delivery_report.hpp"
#include "protocols/smtp/dot_stuff.hpp"
#include "protocols/smtp/dot_unstuffer.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols::smtp {
namespace {

delivery_report_input sample() {
    delivery_report_input in;
    in.reporting_host = "gw.lan";
    in.from_address = "scanner@office.test";
    in.to_address = "scanner@office.test";
    in.date = "Wed, 02 Dec 2026 20:00:00 +0000";
    in.arrival_date = "Wed, 02 Dec 2026 19:00:00 +0000";
    in.message_id = "<report.1@gw.lan>";
    in.boundary = "b-123";
    in.original_headers = "Subject: scan\r\nMessage-ID: <scan@office.test>\r\n";
    in.recipients = {{"nobody@example.test", "550 5.1.1 <nobody@example.test>: User unknown", false},
                     {"slow@example.test", "expired: 451 4.3.0 try later", true}};
    return in;
}

TEST(smtp_delivery_report, is_a_multipart_report_with_one_block_per_recipient) {
    auto text = compose_delivery_report(sample());
    EXPECT_NE(
        text.find("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"b-123\""),
        std::string::npos);
    EXPECT_NE(text.find("Auto-Submitted: auto-replied\r\n"), std::string::npos);
    EXPECT_NE(
        text.find(
            "--b-123\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; gw.lan\r\n"
            "Arrival-Date: Wed, 02 Dec 2026 19:00:00 +0000\r\n\r\nFinal-Recipient: rfc822; "
            "nobody@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1"),
        std::string::npos);
    EXPECT_NE(text.find("Final-Recipient: rfc822; slow@example.test\r\nAction: failed\r\nStatus: 4.4.7\r\n"),
              std::string::npos);
    EXPECT_NE(
        text.find("Content-Type: text/rfc822-headers\r\n\r\nSubject: scan\r\nMessage-ID: <scan@office.test>"),
        std::string::npos);
    EXPECT_TRUE(text.ends_with("--b-123--\r\n"));
    // Only CRLF line ends, no bare CR or LF.
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n') EXPECT_TRUE(i > 0 && text[i - 1] == '\r') << i;
        if (text[i] == '\r') EXPECT_TRUE(i + 1 < text.size() && text[i + 1] == '\n') << i;
    }
}

TEST(smtp_delivery_report, provider_text_cannot_inject_lines) {
    auto in = sample();
    in.recipients = {{"x@example.test\r\nBcc: evil@example.test", "550 bad\r\nX-Injected: 1", false}};
    auto text = compose_delivery_report(in);
    EXPECT_EQ(text.find("\r\nBcc:"), std::string::npos);
    EXPECT_EQ(text.find("\r\nX-Injected:"), std::string::npos);
}

TEST(smtp_delivery_report, status_from_the_enhanced_code_or_the_reply_class) {
    EXPECT_EQ(status_of({"a", "550 5.7.1 relay denied", false}), "5.7.1");
    EXPECT_EQ(status_of({"a", "554 no enhanced code", false}), "5.0.0");
    EXPECT_EQ(status_of({"a", "452 4.2.2 mailbox full", false}), "4.2.2");
    EXPECT_EQ(status_of({"a", "550 5.1.1x not a code", false}), "5.0.0");
    EXPECT_EQ(status_of({"a", "451 4.3.0 later", true}), "4.4.7");
}

TEST(smtp_dot_stuff, round_trips_through_the_unstuffer) {
    for (std::string message :
         {"", "a\r\n", ".\r\n", "..\r\n.x\r\nend", "Subject: s\r\n\r\n.\r\n.\r\nx\r\n"}) {
        auto wire = dot_stuff(message);
        EXPECT_TRUE(wire.ends_with("\r\n.\r\n") || wire == ".\r\n") << message;
        dot_unstuffer u;
        std::string back;
        u.feed(wire, back);
        EXPECT_TRUE(u.ended());
        auto expected = message;
        if (!expected.empty() && !expected.ends_with("\r\n")) expected += "\r\n";
        EXPECT_EQ(back, expected);
    }
}

} // namespace
} // namespace mailgate::protocols::smtp
