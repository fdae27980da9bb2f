// Assembles one IMAP command from lines and literals (RFC 9051 §4.3, RFC 7888 LITERAL+) and splits it into
// tag, command name and arguments (atoms, quoted strings with escapes, literals). Enforces a size limit.
#pragma once

#include "protocols/common/line_buffer.hpp"
#include "protocols/common/secret.hpp"

#include <string>
#include <vector>

namespace mailgate::protocols::imap {

struct command {
    std::string tag;
    std::string name;              // upper-cased
    std::vector<std::string> args; // astring values; parenthesized lists are kept as raw text tokens
    bool args_valid = true;        // false: a malformed quoted string or stray character
};

class command_reader {
public:
    enum class status {
        need_more,
        complete,          // command() holds the command
        send_continuation, // a synchronizing literal {n}: the codec sends "+ ..." and calls next() again
        too_long,          // over the limit (line or literal); the client must be cut off
        bad_literal,       // literal length that is not a number or overflows
        nul_in_literal, // a literal is CHAR8 (RFC 9051 §9): NUL travels only in literal8, which we do not take
        bare_lf,
    };

    explicit command_reader(std::size_t max_command) : max_command_(max_command) {}

    status next(line_buffer& input);
    const command& current() const { return command_; }
    // Tag and upper-cased command name of the command being assembled (before its literals have arrived).
    std::pair<std::string, std::string> head() const;
    // After `send_continuation`: the command as far as it has arrived - the arguments before the literal
    // being announced, which will be one more - so that a command bound to be refused is refused before the
    // client sends its literal. May hold a password: the caller wipes the arguments.
    command partial() const;
    // Forgets the command being assembled and the last one, wiping both (they may hold a password).
    void reset();

private:
    status finish();
    command assemble(std::size_t literal_count) const;

    std::size_t max_command_;
    std::size_t size_ = 0;
    std::size_t literal_left_ = 0;
    bool in_literal_ = false;
    bool nul_in_literal_ = false;
    secret_strings segments_; // text between literals
    secret_strings literals_;
    command command_;
};

// Tokenizes `text` (no CR/LF) into astrings; false on malformed input.
bool tokenize(std::string_view text, std::vector<std::string>& out);

} // namespace mailgate::protocols::imap
