// Credential wiping: the shared helpers (wipe, secret_string, wiping_allocator), the line buffer's wipe of
// spent input, the SASL exchange, the server codecs' password once handed out, and the client codecs' output
// once written. Where a test looks at a buffer after it was emptied it reads the string's own capacity, which
// a wiped string keeps.
#include "protocols/common/line_buffer.hpp"
#include "protocols/common/secret.hpp"
#include "protocols/pop3/client.hpp"
#include "protocols/pop3/server.hpp"
#include "protocols/sasl/server_exchange.hpp"
#include "tests/protocols/server_transcript.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace mailgate::protocols {
namespace {

// True when every byte of `s`'s buffer, up to its capacity, is zero.
bool buffer_is_zero(const std::string& s) {
    std::string_view all(s.data(), s.capacity());
    return std::all_of(all.begin(), all.end(), [](char c) { return c == '\0'; });
}

TEST(secret, secure_wipe_zeroes_bytes) {
    char bytes[] = "s3cret";
    secure_wipe(bytes, sizeof bytes);
    EXPECT_TRUE(std::all_of(std::begin(bytes), std::end(bytes), [](char c) { return c == '\0'; }));
    secure_wipe(nullptr, 0); // nothing to do, no crash
}

TEST(secret, wipe_clears_the_whole_capacity_short_and_long) {
    for (std::string s : {std::string("s3cret"), std::string(100, 'p')}) {
        s.reserve(200);
        wipe(s);
        EXPECT_TRUE(s.empty());
        EXPECT_GE(s.capacity(), 200u); // kept: refilling it frees nothing with old bytes in it
        EXPECT_TRUE(buffer_is_zero(s));
    }
}

TEST(secret, wipe_clears_what_a_short_string_keeps_after_a_move) {
    std::string a = "s3cret";
    std::string b = std::move(a);
    EXPECT_EQ(b, "s3cret");
    wipe(a);
    EXPECT_TRUE(buffer_is_zero(a));
}

TEST(secret, wipe_of_a_vector_wipes_every_element) {
    secret_strings v{"one secret", std::string(50, 'x')};
    const std::string& first = v[0];
    wipe(v[0]);
    EXPECT_TRUE(buffer_is_zero(first));
    wipe(v);
    EXPECT_TRUE(v.empty());
}

TEST(secret, append_wiping_appends_and_grows) {
    std::string out = "PASS ";
    std::string expected = out;
    for (int i = 0; i < 10; ++i) {
        append_wiping(out, "0123456789");
        expected += "0123456789";
    }
    EXPECT_EQ(out, expected);
}

TEST(secret, secret_string_wipes_when_replaced_cleared_or_moved_from) {
    secret_string s("first password");
    const std::string& buffer = s.str();
    s.clear();
    EXPECT_TRUE(s.empty());
    EXPECT_TRUE(buffer_is_zero(buffer));

    s.assign("short");
    EXPECT_EQ(s.str(), "short");
    s.assign("a much longer password than the first");
    EXPECT_EQ(s.str(), "a much longer password than the first");

    secret_string moved(std::move(s));
    EXPECT_EQ(moved.str(), "a much longer password than the first");
    EXPECT_TRUE(s.empty());
    EXPECT_TRUE(buffer_is_zero(s.str()));

    secret_string other("s3cret");
    other = std::move(moved);
    EXPECT_EQ(other.str(), "a much longer password than the first");
    EXPECT_TRUE(buffer_is_zero(moved.str()));
    EXPECT_EQ(std::string_view(other).size(), other.size());
}

TEST(secret, line_buffer_wipe_spent_keeps_only_what_is_unread) {
    line_buffer lines(64);
    lines.append("PASS s3cret\r\nNOOP\r\n");
    std::string_view line;
    ASSERT_EQ(lines.next_line(line), line_buffer::result::line);
    const char* start = line.data();
    lines.wipe_spent();
    EXPECT_EQ(lines.rest(), "NOOP\r\n");
    EXPECT_TRUE(std::all_of(start, start + 13, [](char c) { return c == '\0'; }));
    // Compaction moves bytes down and leaves the old ones past the end: wiped too.
    ASSERT_EQ(lines.next_line(line), line_buffer::result::line);
    lines.append("PASS x\r\n");
    ASSERT_EQ(lines.next_line(line), line_buffer::result::line);
    EXPECT_EQ(line, "PASS x");
    const char* base = line.data(); // the buffer's start: compaction moved this line there
    lines.wipe_spent();
    EXPECT_EQ(lines.rest(), "");
    EXPECT_TRUE(std::all_of(base, base + 19, [](char c) { return c == '\0'; }));
}

TEST(secret, sasl_exchange_clear_wipes_the_password) {
    sasl::server_exchange x;
    ASSERT_EQ(x.start(sasl::mechanism::plain, "AGFsaWNlAGNvcnJlY3QgaG9yc2UgYmF0dGVyeQ=="),
              sasl::server_exchange::result::done);
    EXPECT_EQ(x.password(), "correct horse battery");
    const std::string& password = x.password();
    x.clear();
    EXPECT_EQ(x.password(), "");
    EXPECT_TRUE(buffer_is_zero(password));
    // LOGIN, and a restart over a finished exchange.
    ASSERT_EQ(x.start(sasl::mechanism::login, "YWxpY2U="), sasl::server_exchange::result::challenge);
    ASSERT_EQ(x.step("czNjcmV0"), sasl::server_exchange::result::done);
    EXPECT_EQ(x.password(), "s3cret");
    ASSERT_EQ(x.start(sasl::mechanism::plain, std::nullopt), sasl::server_exchange::result::challenge);
    EXPECT_TRUE(buffer_is_zero(x.password()));
}

TEST(secret, server_codec_wipes_the_password_after_the_outcome) {
    using namespace mailgate::test::server_transcript;
    EXPECT_TRUE(run_transcript(
        make_server_codec<pop3::server>(pop3::server_options{.tls_active = true}),
        {expect_write("+OK mailgate POP3 ready\r\n"), feed("USER alice\r\n"), expect_write("+OK\r\n"),
         feed("PASS correct horse battery\r\n"),
         expect_authenticate("alice", "correct horse battery", login_outcome::bad_credentials),
         check<pop3::server>([](pop3::server& s) { EXPECT_TRUE(buffer_is_zero(s.password())); }),
         expect_write("-ERR [AUTH] Authentication failed\r\n")}));
}

TEST(secret, client_codec_wipes_a_credential_line_once_written) {
    pop3::client c(upstream_tls::implicit, {"alice", "correct horse battery"});
    auto a = test::view_of(c.next());
    ASSERT_EQ(a.kind, "read");
    c.received("+OK\r\n");
    a = test::view_of(c.next());
    ASSERT_EQ(a.kind, "write");
    c.wrote();
    c.received("+OK\r\nUSER\r\n.\r\n");
    a = test::view_of(c.next());
    ASSERT_EQ(a.bytes, "USER alice\r\n");
    c.wrote();
    c.received("+OK\r\n");
    a = test::view_of(c.next());
    ASSERT_EQ(a.bytes, "PASS correct horse battery\r\n");
    const char* line = a.bytes.data();
    std::size_t size = a.bytes.size();
    c.wrote();
    // The codec's output buffer is still allocated (wiped strings keep their capacity): its bytes are gone.
    EXPECT_TRUE(std::all_of(line, line + size, [](char ch) { return ch == '\0'; }));
}

} // namespace
} // namespace mailgate::protocols
