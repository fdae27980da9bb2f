// Fuzzes the IMAP client codec (imap::client) toward a hostile provider: greeting, CAPABILITY, STARTTLS,
// AUTHENTICATE PLAIN, XOAUTH2 or OAUTHBEARER (with or without SASL-IR, with the provider's error report) or
// LOGIN with quoted strings and literals, post-login capabilities and LOGOUT, with the provider's bytes in
// fuzz-sized reads and fuzz-chosen stored credentials (passwords or OAuth2 tokens).
#include "protocols/common/ascii.hpp"
#include "protocols/imap/client.hpp"
#include "tests/fuzz/upstream_driver.hpp"

#include <charconv>
#include <set>

namespace {

using namespace mailgate::fuzz;
namespace imap = mailgate::protocols::imap;

// "aN " followed by `rest`, N the codec's tag counter.
bool tagged(std::string_view line, std::string_view rest) {
    if (!line.starts_with('a')) return false;
    std::size_t i = 1;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
    return i > 1 && line.substr(i) == rest;
}

struct imap_client_hooks {
    bool logging_out = false;
    std::size_t literal_left = 0; // bytes of a literal still to come in the command stream
    bool in_command = false;      // the next line continues a command after a literal

    // The command stream: lines without CR, LF or NUL, except inside literals announced by "{n}" / "{n+}".
    void on_write(std::string_view bytes, const upstream_state& state) {
        FUZZ_CHECK(bytes.find('\0') == std::string_view::npos, "NUL sent to the provider");
        while (!bytes.empty()) {
            if (literal_left > 0) {
                auto n = std::min(literal_left, bytes.size());
                literal_left -= n;
                bytes.remove_prefix(n);
                continue;
            }
            auto end = bytes.find("\r\n");
            FUZZ_CHECK(end != std::string_view::npos, "a write that ends inside a line");
            auto line = bytes.substr(0, end);
            bytes.remove_prefix(end + 2);
            FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos,
                       "bare CR or LF in a command line");
            bool continuation = in_command;
            in_command = false;
            if (!state.tls) {
                FUZZ_CHECK(tagged(line, " CAPABILITY") || tagged(line, " STARTTLS"),
                           "before TLS only CAPABILITY and STARTTLS: " + std::string(line));
            }
            if (tagged(line, " LOGOUT")) FUZZ_CHECK(logging_out, "LOGOUT before logout()");
            if (!continuation && !line.starts_with('a')) {
                // A SASL response line after the provider's "+".
                FUZZ_CHECK(line.find_first_not_of(
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
                               std::string_view::npos,
                           "an untagged line that is not a SASL response: " + std::string(line));
            }
            if (line.ends_with('}')) {
                auto open = line.rfind('{');
                FUZZ_CHECK(open != std::string_view::npos, std::string(line));
                auto digits = line.substr(open + 1, line.size() - open - 2);
                if (digits.ends_with('+')) digits.remove_suffix(1);
                std::size_t n = 0;
                auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
                FUZZ_CHECK(ec == std::errc{} && p == digits.data() + digits.size(),
                           "bad literal: " + std::string(line));
                literal_left = n;
                in_command = true;
            }
        }
    }
    bool is_login(std::string_view bytes, const upstream_state&) {
        auto line = bytes.substr(0, bytes.find("\r\n"));
        return !(tagged(line, " CAPABILITY") || tagged(line, " STARTTLS") || tagged(line, " LOGOUT"));
    }
    void after_tls(imap::client& c) { FUZZ_CHECK(c.capabilities().empty(), "pre-TLS capabilities kept"); }
    bool after_done(imap::client& c, live_source& src, upstream_state&) {
        // What the client will be shown after login must be the set the codec itself goes by.
        std::set<std::string> upper;
        for (const auto& a : c.capability_atoms()) upper.insert(mailgate::protocols::ascii_upper(a));
        FUZZ_CHECK(upper == c.capabilities(), "capability_atoms() and capabilities() disagree");
        if (logging_out) return false;
        if ((src.choose() & 1) == 0) return false;
        logging_out = true;
        c.logout();
        return true;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz_upstream_client<imap_client_hooks>(
        data, size, [](auto m, const auto& c, auto l) { return imap::client(m, c, l); });
}
