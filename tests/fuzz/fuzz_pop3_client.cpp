// Fuzzes the POP3 client codec (pop3::client) toward a hostile provider: greeting, CAPA, STLS, AUTH PLAIN,
// XOAUTH2 or OAUTHBEARER (inline or after "+ ", with the provider's error report) or USER/PASS and QUIT, with
// the provider's bytes in fuzz-sized reads and fuzz-chosen stored credentials (passwords or OAuth2 tokens).
#include "protocols/pop3/client.hpp"
#include "tests/fuzz/upstream_driver.hpp"

namespace {

using namespace mailgate::fuzz;
namespace pop3 = mailgate::protocols::pop3;

struct pop3_client_hooks {
    bool logging_out = false;

    static bool plain_command(std::string_view bytes) {
        return bytes == "CAPA\r\n" || bytes == "STLS\r\n" || bytes == "QUIT\r\n";
    }

    void on_write(std::string_view bytes, const upstream_state& state) {
        check_lines(bytes, line_bytes::no_cr_lf_nul, "pop3 client");
        FUZZ_CHECK(bytes.find("\r\n") == bytes.size() - 2, "more than one command in a write");
        // RFC 5034 §4: an AUTH command with its initial response fits in 255 octets, or the response waits.
        if (bytes.starts_with("AUTH ")) FUZZ_CHECK(bytes.size() <= 255, "AUTH line over 255 octets");
        if (bytes == "QUIT\r\n") FUZZ_CHECK(state.logged_in && logging_out, "QUIT before logout()");
    }
    bool is_login(std::string_view bytes, const upstream_state&) { return !plain_command(bytes); }
    void after_tls(pop3::client& c) { FUZZ_CHECK(c.capabilities().empty(), "pre-TLS capabilities kept"); }
    bool after_done(pop3::client& c, live_source& src, upstream_state&) {
        if (logging_out) return false;
        if ((src.choose() & 1) == 0) return false;
        logging_out = true;
        c.logout();
        return true;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz_upstream_client<pop3_client_hooks>(
        data, size, [](auto m, const auto& c, auto l) { return pop3::client(m, c, l); });
}
