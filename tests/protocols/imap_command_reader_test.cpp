// imap::command_reader and imap::tokenize: command assembly from lines and literals ({n} and LITERAL+ {n+}),
// the size limit, and astring tokenizing; every reader case runs whole, split at every offset, byte by byte.
#include "protocols/imap/command_reader.hpp"
#include "tests/protocols/deliveries.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace mailgate::protocols::imap {
namespace {

using mailgate::test::escape_bytes;
using status = command_reader::status;

// One line per event: "+" for a continuation request, "<tag> <NAME> [arg]... (invalid)" for a command, or the
// name of the fatal status that stopped the reader.
std::string describe(const command& c) {
    std::string out = c.tag + " " + c.name;
    for (const auto& a : c.args) out += " [" + escape_bytes(a) + "]";
    if (!c.args_valid) out += " (invalid)";
    return out;
}

// Feeds `pieces` one by one the way imap::server does (line buffer two octets over the command limit, reset
// after each command) and records every event until the first fatal one.
std::vector<std::string> read_events(const std::vector<std::string_view>& pieces, std::size_t max_command) {
    line_buffer input(max_command + 2);
    command_reader reader(max_command);
    std::vector<std::string> events;
    for (auto piece : pieces) {
        input.append(piece);
        for (;;) {
            status s = reader.next(input);
            if (s == status::need_more) break;
            if (s == status::complete) {
                events.push_back(describe(reader.current()));
                reader.reset();
                continue;
            }
            if (s == status::send_continuation) {
                events.emplace_back("+");
                continue;
            }
            events.emplace_back(s == status::too_long         ? "too_long"
                                : s == status::bad_literal    ? "bad_literal"
                                : s == status::nul_in_literal ? "nul_in_literal"
                                                              : "bare_lf");
            return events;
        }
    }
    return events;
}

// `input` whole, split in two at every offset, and one byte at a time must all give `want`.
void expect_events(std::string_view input, const std::vector<std::string>& want,
                   std::size_t max_command = 64 * 1024) {
    for (const auto& d : test::every_delivery(input)) {
        auto got = read_events(d.pieces, max_command);
        if (got != want) {
            EXPECT_EQ(got, want) << d.name;
            return;
        }
    }
}

std::optional<std::vector<std::string>> tokens_of(std::string_view text) {
    std::vector<std::string> out;
    if (!tokenize(text, out)) return std::nullopt;
    return out;
}

using tokens = std::vector<std::string>;

// ---- tokenize ----

TEST(imap_tokenize, splits_atoms_on_spaces) {
    EXPECT_EQ(tokens_of("a1 LOGIN alice s3cret"), (tokens{"a1", "LOGIN", "alice", "s3cret"}));
    EXPECT_EQ(tokens_of("  x   y "), (tokens{"x", "y"}));
    EXPECT_EQ(tokens_of(""), tokens{});
}

TEST(imap_tokenize, astring_characters) {
    // "]" is an ASTRING-CHAR (resp-specials), "}" and "+" are ATOM-CHARs; 8-bit bytes pass for UTF-8 names.
    EXPECT_EQ(tokens_of("a]b c}d e+f user@example.org"), (tokens{"a]b", "c}d", "e+f", "user@example.org"}));
    EXPECT_EQ(tokens_of("j\xc3\xb6rg"), tokens{"j\xc3\xb6rg"});
    // A backslash inside an atom, as Dovecot allows: the Windows "DOMAIN\user" form Outlook sends unquoted.
    EXPECT_EQ(tokens_of("LAN\\alice \\x"), (tokens{"LAN\\alice", "\\x"}));
}

TEST(imap_tokenize, atom_specials_and_controls_are_malformed) {
    for (std::string_view text : {"a%b", "a*", "{5}", "a\tb", "a\x01", "a\x7f", "a\rb"}) {
        SCOPED_TRACE(escape_bytes(text));
        EXPECT_EQ(tokens_of(text), std::nullopt);
    }
    EXPECT_EQ(tokens_of(std::string_view("a\0b", 3)), std::nullopt);
}

TEST(imap_tokenize, quoted_strings_with_escapes) {
    EXPECT_EQ(tokens_of(R"("al ice" "p\"w\\d")"), (tokens{"al ice", R"(p"w\d)"}));
    EXPECT_EQ(tokens_of(R"("" "\\" "\"")"), (tokens{"", "\\", "\""}));
    // Specials lose their meaning inside quotes.
    EXPECT_EQ(tokens_of(R"("(a {5} *%]")"), tokens{"(a {5} *%]"});
    EXPECT_EQ(tokens_of("\"p\xc3\xa4ss\""), tokens{"p\xc3\xa4ss"});
}

TEST(imap_tokenize, quoted_string_with_an_invalid_escape_is_malformed) {
    // RFC 9051 §9: only quoted-specials (DQUOTE and backslash) may follow a backslash.
    for (std::string_view text : {R"("a\b")", R"("\n")", R"("a\ ")", R"("\x41")"}) {
        SCOPED_TRACE(text);
        EXPECT_EQ(tokens_of(text), std::nullopt);
    }
}

TEST(imap_tokenize, unterminated_quoted_string_is_malformed) {
    for (std::string_view text : {R"(")", R"("abc)", R"(a "b c)", R"("abc\")", R"("abc\)"}) {
        SCOPED_TRACE(text);
        EXPECT_EQ(tokens_of(text), std::nullopt);
    }
}

TEST(imap_tokenize, nul_and_cr_in_quoted_strings_are_malformed) {
    // QUOTED-CHAR is a TEXT-CHAR (no NUL, CR or LF): such bytes only travel in literals.
    EXPECT_EQ(tokens_of(std::string_view("\"a\0b\"", 5)), std::nullopt);
    EXPECT_EQ(tokens_of("\"a\rb\""), std::nullopt);
    EXPECT_EQ(tokens_of("\"a\nb\""), std::nullopt);
    // Other TEXT-CHARs are allowed.
    EXPECT_EQ(tokens_of("\"a\tb\""), tokens{"a\tb"});
}

TEST(imap_tokenize, parentheses_are_tokens_of_their_own) {
    EXPECT_EQ(tokens_of(R"(ID ("name" "Thunderbird" "version" NIL))"),
              (tokens{"ID", "(", "name", "Thunderbird", "version", "NIL", ")"}));
    EXPECT_EQ(tokens_of("()"), (tokens{"(", ")"}));
}

// ---- command_reader: plain lines ----

TEST(imap_command_reader, a_line_is_a_command) {
    expect_events("a1 NOOP\r\n", {"a1 NOOP"});
    expect_events("A0001 login Alice \"s3 cret\"\r\n", {"A0001 LOGIN [Alice] [s3 cret]"});
}

TEST(imap_command_reader, pipelined_commands_come_one_at_a_time) {
    expect_events("a NOOP\r\nb CAPABILITY\r\nc LOGIN u p\r\n", {"a NOOP", "b CAPABILITY", "c LOGIN [u] [p]"});
}

TEST(imap_command_reader, a_line_without_name_or_tag) {
    expect_events("a\r\n", {"a "});
    expect_events("\r\n", {" "});
}

TEST(imap_command_reader, malformed_arguments_still_complete_the_command) {
    // The codec answers BAD and reads on: the framing is intact.
    expect_events("a LOGIN \"al\\ice\" p\r\nb NOOP\r\n", {"a LOGIN (invalid)", "b NOOP"});
    expect_events("a LOGIN \"alice p\r\nb NOOP\r\n", {"a LOGIN (invalid)", "b NOOP"});
    expect_events("a LOGIN al*ce p\r\n", {"a LOGIN [al] (invalid)"});
}

TEST(imap_command_reader, bare_lf_is_fatal) {
    expect_events("a NOOP\n", {"bare_lf"});
    expect_events("a NOOP\r\nb NOOP\n", {"a NOOP", "bare_lf"});
    expect_events("\n", {"bare_lf"});
    // Also on the line after a literal.
    expect_events("a LOGIN {1+}\r\nu p\n", {"bare_lf"});
}

// ---- command_reader: literals ----

TEST(imap_command_reader, synchronizing_literals_ask_for_continuation) {
    expect_events("a LOGIN {5}\r\nalice {6}\r\ns3cret\r\n", {"+", "+", "a LOGIN [alice] [s3cret]"});
}

TEST(imap_command_reader, non_synchronizing_literals_do_not) {
    expect_events("a LOGIN {5+}\r\nalice {6+}\r\ns3cret\r\n", {"a LOGIN [alice] [s3cret]"});
    expect_events("a LOGIN {5}\r\nalice {6+}\r\ns3cret\r\n", {"+", "a LOGIN [alice] [s3cret]"});
}

TEST(imap_command_reader, empty_literal) {
    // RFC 9051 §4.3: {0} still gets its continuation; the argument is the empty string.
    expect_events("a LOGIN alice {0}\r\n\r\n", {"+", "a LOGIN [alice] []"});
    expect_events("a LOGIN {0+}\r\n {0+}\r\n\r\nb NOOP\r\n", {"a LOGIN [] []", "b NOOP"});
}

TEST(imap_command_reader, literal_bytes_are_opaque) {
    // CRLF, "}", a literal marker, quotes, 8-bit bytes and bare LF inside a literal are data, not syntax.
    const std::string first = "x\r\n} {3}\n"; // 9 octets
    const std::string second("\"\\\x01\xc3\xa9", 5);
    expect_events("a LOGIN {9+}\r\n" + first + " {5+}\r\n" + second + "\r\n",
                  {"a LOGIN [" + escape_bytes(first) + "] [" + escape_bytes(second) + "]"});
    // NUL is not CHAR8 (RFC 9051 §9): only literal8 may carry it, and we take none.
    expect_events(std::string("a LOGIN {3+}\r\na\0b p\r\n", 21), {"nul_in_literal"});
    // A literal whose content ends in something that looks like a literal marker.
    expect_events("a LOGIN {3+}\r\n{1} p\r\n", {"a LOGIN [{1}] [p]"});
}

TEST(imap_command_reader, literal_at_the_end_of_a_line_followed_by_more_arguments) {
    expect_events("a LOGIN {5+}\r\nalice s3cret\r\n", {"a LOGIN [alice] [s3cret]"});
    expect_events("a LOGIN {5}\r\nalice \"p w\"\r\n", {"+", "a LOGIN [alice] [p w]"});
    expect_events("a LOGIN \"al ice\" {2+}\r\npw\r\n", {"a LOGIN [al ice] [pw]"});
    expect_events("a ID ({4+}\r\nname NIL)\r\n", {"a ID [(] [name] [NIL] [)]"});
}

TEST(imap_command_reader, a_quoted_marker_is_not_a_literal) {
    expect_events("a LOGIN u \"{5}\"\r\n", {"a LOGIN [u] [{5}]"});
}

TEST(imap_command_reader, literal_lengths_that_are_not_numbers_are_fatal) {
    for (std::string_view marker : {"{1a}", "{}", "{+}", "{-1}", "{ 5}", "{5 }", "{0x5}", "{5++}"}) {
        SCOPED_TRACE(marker);
        expect_events("a LOGIN u " + std::string(marker) + "\r\n", {"bad_literal"});
    }
}

TEST(imap_command_reader, literal_lengths_that_overflow_are_fatal) {
    expect_events("a LOGIN u {99999999999999999999999}\r\n", {"bad_literal"});
    expect_events("a LOGIN u {18446744073709551616+}\r\n", {"bad_literal"});
    // A length that fits in size_t but not in the limit.
    expect_events("a LOGIN u {9999999999999999999+}\r\n", {"too_long"});
}

// ---- command_reader: the limit (lines and literals together, CRLFs included) ----

TEST(imap_command_reader, a_line_up_to_the_limit_is_accepted) {
    // 32 octets with CRLF.
    expect_events("a LOGIN u " + std::string(20, 'p') + "\r\n",
                  {"a LOGIN [u] [" + std::string(20, 'p') + "]"}, 32);
    expect_events("a LOGIN u " + std::string(21, 'p') + "\r\n", {"too_long"}, 32);
    // Without a CRLF in sight.
    expect_events(std::string(40, 'x'), {"too_long"}, 32);
    expect_events(std::string(33, 'x'), {}, 32);
}

TEST(imap_command_reader, the_limit_is_per_command) {
    const std::string line = "a LOGIN u " + std::string(20, 'p') + "\r\n";
    expect_events(line + line + line,
                  {"a LOGIN [u] [" + std::string(20, 'p') + "]", "a LOGIN [u] [" + std::string(20, 'p') + "]",
                   "a LOGIN [u] [" + std::string(20, 'p') + "]"},
                  32);
}

TEST(imap_command_reader, literals_count_toward_the_limit) {
    // "a LOGIN {5+}\r\n" (14) + 5 + " {9+}\r\n" (7) + 9 + "\r\n" (2) = 37.
    const std::string command = "a LOGIN {5+}\r\nalice {9+}\r\n123456789\r\n";
    expect_events(command, {"a LOGIN [alice] [123456789]"}, 37);
    expect_events(command, {"too_long"}, 36);
    // Refused at the marker, before any continuation is sent for it.
    expect_events("a LOGIN {5}\r\nalice {100}\r\n", {"+", "too_long"}, 37);
    expect_events("a LOGIN u {24}\r\n", {"too_long"}, 32);
    expect_events("a LOGIN u {14}\r\n" + std::string(14, 'x') + "\r\n",
                  {"+", "a LOGIN [u] [" + std::string(14, 'x') + "]"}, 32);
}

TEST(imap_command_reader, the_default_limit_is_64_kib) {
    // Whole only: splitting a 64 KiB command at every offset adds nothing the small limits above do not
    // cover.
    const std::string head = "a LOGIN u {65514+}\r\n"; // 20 + 65514 + 2 = 65536
    ASSERT_EQ(head.size(), 20u);
    EXPECT_EQ(read_events({head + std::string(65514, 'p') + "\r\n"}, 64 * 1024),
              std::vector<std::string>{"a LOGIN [u] [" + std::string(65514, 'p') + "]"});
    EXPECT_EQ(read_events({"a LOGIN u {65517+}\r\n"}, 64 * 1024), std::vector<std::string>{"too_long"});
    const std::string line = "a NOOP " + std::string(65536 - 9, 'x') + "\r\n";
    ASSERT_EQ(line.size(), 65536u);
    EXPECT_EQ(read_events({line}, 64 * 1024).size(), 1u);
    EXPECT_EQ(read_events({"a NOOP " + std::string(65536 - 8, 'x') + "\r\n"}, 64 * 1024),
              std::vector<std::string>{"too_long"});
}

TEST(imap_command_reader, reset_forgets_a_partial_command) {
    line_buffer input(66);
    command_reader reader(64);
    input.append("a LOGIN {5+}\r\nal");
    EXPECT_EQ(reader.next(input), status::need_more);
    // imap::server drops buffered input and resets the reader when TLS starts.
    input.clear();
    reader.reset();
    input.append("b NOOP\r\n");
    ASSERT_EQ(reader.next(input), status::complete);
    EXPECT_EQ(describe(reader.current()), "b NOOP");
}

} // namespace
} // namespace mailgate::protocols::imap
