// Bounds on what a provider may send the client codecs in one multi-line reply: SMTP replies (EHLO above
// all), POP3's CAPA list, IMAP's untagged lines before a tagged completion. Past the line or byte limit the
// codec fails with reply_too_large and a sanitized diagnostic; each transcript runs whole, split and byte by
// byte.
#include "protocols/imap/client.hpp"
#include "protocols/pop3/client.hpp"
#include "protocols/smtp/client.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mailgate::protocols {
namespace {

using namespace mailgate::test;

const upstream_credentials alice{"alice", "s3cret"};
// Three lines or 40 octets (CRLF included) per reply.
const upstream_limits small{.max_line = 64, .max_reply_lines = 3, .max_reply_bytes = 40};

template <class Codec, class... Extra> codec_factory make(upstream_limits limits, Extra... extra) {
    return [=] { return std::make_unique<Codec>(upstream_tls::implicit, alice, extra..., limits); };
}

std::string repeat_lines(const std::string& prefix, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += prefix + std::to_string(i) + "\r\n";
    return out;
}

TEST(upstream_limits, defaults_are_100_lines_and_64_kib) {
    upstream_limits defaults;
    EXPECT_EQ(defaults.max_line, 64u * 1024);
    EXPECT_EQ(defaults.max_reply_lines, 100u);
    EXPECT_EQ(defaults.max_reply_bytes, 64u * 1024);
    EXPECT_EQ(make_error_code(upstream_errc::reply_too_large).message(),
              "provider sent a reply with too many lines or bytes");
    EXPECT_EQ(classify(upstream_errc::reply_too_large), upstream_failure_class::protocol);
}

// ---- SMTP ----

TEST(upstream_limits, smtp_reply_at_the_limits_is_accepted) {
    // Three lines, 40 octets: "250-mx\r\n" (8) + "250-AUTH PLAIN\r\n" (16) + "250 SIZE 10000\r\n" (16).
    EXPECT_TRUE(run_transcript(make<smtp::client>(small, std::string("gw")),
                               {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"),
                                feed("250-mx\r\n250-AUTH PLAIN\r\n250 SIZE 10000\r\n"),
                                expect_write("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"), feed("235 ok\r\n"),
                                expect_done()}));
}

TEST(upstream_limits, smtp_reply_with_too_many_lines_is_reply_too_large) {
    EXPECT_TRUE(run_transcript(make<smtp::client>(small, std::string("gw")),
                               {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"),
                                feed("250-a\r\n250-b\r\n250-c\r\n250 d\r\n"),
                                expect_close(upstream_errc::reply_too_large, "250 d")}));
    // The greeting counts too, and the count starts afresh with every reply.
    EXPECT_TRUE(run_transcript(make<smtp::client>(small, std::string("gw")),
                               {feed("220-a\r\n220-b\r\n220 c\r\n"), expect_write("EHLO gw\r\n"),
                                feed("250-a\r\n250-b\r\n250-c\r\n250-d\r\n"),
                                expect_close(upstream_errc::reply_too_large, "250-d")}));
}

TEST(upstream_limits, smtp_reply_with_too_many_bytes_is_reply_too_large) {
    EXPECT_TRUE(run_transcript(make<smtp::client>(small, std::string("gw")),
                               {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"),
                                feed("250-" + std::string(30, 'x') + "\r\n250 \x01yz\r\n"),
                                expect_close(upstream_errc::reply_too_large, "250 ?yz")}));
}

TEST(upstream_limits, smtp_transaction_replies_are_bounded_too) {
    EXPECT_TRUE(
        run_transcript(make<smtp::client>(small, std::string("gw")),
                       {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"), feed("250-mx\r\n250 AUTH PLAIN\r\n"),
                        expect_write("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"), feed("235 ok\r\n"),
                        expect_done(), check<smtp::client>([](smtp::client& c) { c.transact("NOOP\r\n"); }),
                        expect_write("NOOP\r\n"), feed("250-1\r\n250-2\r\n250-3\r\n250 4\r\n"),
                        expect_close(upstream_errc::reply_too_large, "250 4")}));
}

TEST(upstream_limits, smtp_default_limits) {
    std::string lines = repeat_lines("250-X", 99);
    EXPECT_TRUE(run_transcript(make<smtp::client>(upstream_limits{}, std::string("gw")),
                               {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"),
                                feed_whole(lines + "250 AUTH PLAIN\r\n"),
                                expect_write("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n")}));
    EXPECT_TRUE(run_transcript(make<smtp::client>(upstream_limits{}, std::string("gw")),
                               {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"),
                                feed_whole(lines + "250-Y\r\n250 AUTH PLAIN\r\n"),
                                expect_close(upstream_errc::reply_too_large, "250 AUTH PLAIN")}));
    // Two lines under the line limit that together pass 64 KiB.
    std::string half(40000, 'x');
    EXPECT_TRUE(
        run_transcript(make<smtp::client>(upstream_limits{}, std::string("gw")),
                       {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"),
                        feed_whole("250-" + half + "\r\n250 " + half + "\r\n"),
                        expect_close(upstream_errc::reply_too_large, "250 " + half.substr(0, 196) + "...")}));
}

// ---- POP3 ----

TEST(upstream_limits, pop3_capa_list_is_bounded) {
    // Three capability lines pass (the "." terminator is not one of them) ...
    EXPECT_TRUE(run_transcript(make<pop3::client>(small), {feed("+OK ready\r\n"), expect_write("CAPA\r\n"),
                                                           feed("+OK\r\nTOP\r\nUSER\r\nUIDL\r\n.\r\n"),
                                                           expect_write("USER alice\r\n")}));
    // ... a fourth does not ...
    EXPECT_TRUE(run_transcript(make<pop3::client>(small),
                               {feed("+OK ready\r\n"), expect_write("CAPA\r\n"),
                                feed("+OK\r\nTOP\r\nUSER\r\nUIDL\r\nSASL PLAIN\r\n"),
                                expect_close(upstream_errc::reply_too_large, "SASL PLAIN")}));
    // ... nor do more than 40 octets.
    EXPECT_TRUE(run_transcript(make<pop3::client>(small),
                               {feed("+OK ready\r\n"), expect_write("CAPA\r\n"),
                                feed("+OK\r\nX-" + std::string(30, 'a') + "\r\nX-LONGER\r\n"),
                                expect_close(upstream_errc::reply_too_large, "X-LONGER")}));
}

TEST(upstream_limits, pop3_capa_count_starts_afresh_after_stls) {
    EXPECT_TRUE(run_transcript(
        [] { return std::make_unique<pop3::client>(upstream_tls::starttls, alice, small); },
        {feed("+OK ready\r\n"), expect_write("CAPA\r\n"), feed("+OK\r\nSTLS\r\nUSER\r\nTOP\r\n.\r\n"),
         expect_write("STLS\r\n"), feed("+OK go\r\n"), expect_start_tls(), expect_write("CAPA\r\n"),
         feed("+OK\r\nUSER\r\nTOP\r\nUIDL\r\n.\r\n"), expect_write("USER alice\r\n")}));
}

TEST(upstream_limits, pop3_default_limits) {
    EXPECT_TRUE(run_transcript(make<pop3::client>(upstream_limits{}),
                               {feed("+OK ready\r\n"), expect_write("CAPA\r\n"),
                                feed_whole("+OK\r\n" + repeat_lines("X-", 100) + ".\r\n"),
                                expect_write("USER alice\r\n")}));
    EXPECT_TRUE(run_transcript(make<pop3::client>(upstream_limits{}),
                               {feed("+OK ready\r\n"), expect_write("CAPA\r\n"),
                                feed_whole("+OK\r\n" + repeat_lines("X-", 101) + ".\r\n"),
                                expect_close(upstream_errc::reply_too_large, "X-100")}));
}

// ---- IMAP ----

TEST(upstream_limits, imap_untagged_lines_before_the_completion_are_bounded) {
    // The greeting and two untagged lines make three; the count starts again with each command.
    EXPECT_TRUE(run_transcript(make<imap::client>(small),
                               {feed("* OK hi\r\n"), expect_write("a1 CAPABILITY\r\n"),
                                feed("* CAPABILITY IMAP4rev1\r\n* OK x\r\n* OK y\r\na1 OK done\r\n"),
                                expect_write("a2 LOGIN \"alice\" \"s3cret\"\r\n"),
                                feed("* OK 1\r\n* OK 2\r\n* OK 3\r\na2 OK [CAPABILITY IMAP4rev1] in\r\n"),
                                expect_done()}));
    EXPECT_TRUE(run_transcript(make<imap::client>(small),
                               {feed("* OK hi\r\n"), expect_write("a1 CAPABILITY\r\n"),
                                feed("* CAPABILITY IMAP4rev1\r\n* OK x\r\n* OK y\r\n* OK \x7fz\r\n"),
                                expect_close(upstream_errc::reply_too_large, "* OK ?z")}));
    // Bytes: 40 octets of untagged lines at most.
    EXPECT_TRUE(run_transcript(make<imap::client>(small),
                               {feed("* OK hi\r\n"), expect_write("a1 CAPABILITY\r\n"),
                                feed("* CAPABILITY " + std::string(20, 'A') + "\r\n* OK y\r\n"),
                                expect_close(upstream_errc::reply_too_large, "* OK y")}));
}

TEST(upstream_limits, imap_default_limits) {
    EXPECT_TRUE(run_transcript(make<imap::client>(upstream_limits{}),
                               {feed("* OK hi\r\n"), expect_write("a1 CAPABILITY\r\n"),
                                feed_whole(repeat_lines("* OK ", 100) + "a1 OK done\r\n"),
                                expect_write("a2 LOGIN \"alice\" \"s3cret\"\r\n")}));
    EXPECT_TRUE(run_transcript(make<imap::client>(upstream_limits{}),
                               {feed("* OK hi\r\n"), expect_write("a1 CAPABILITY\r\n"),
                                feed_whole(repeat_lines("* OK ", 101)),
                                expect_close(upstream_errc::reply_too_large, "* OK 100")}));
}

TEST(upstream_limits, a_single_line_keeps_its_own_limit) {
    // max_line (64 here) still ends a line that is too long, before any reply limit is reached.
    EXPECT_TRUE(run_transcript(
        make<smtp::client>(small, std::string("gw")),
        {feed("220 " + std::string(60, 'x')), expect_close(upstream_errc::line_too_long, "")}));
}

} // namespace
} // namespace mailgate::protocols
