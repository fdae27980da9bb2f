// Fuzzes the POP3 server codec (pop3::server) as the session driver runs it: client bytes in fuzz-sized reads,
// fuzz-chosen login outcomes, and the codec's promises on replies, STLS, logins, close and relay.
#include "protocols/pop3/server.hpp"
#include "tests/fuzz/pre_login_driver.hpp"

namespace {

using namespace mailgate::fuzz;
namespace pop3 = mailgate::protocols::pop3;

struct pop3_hooks {
    std::string_view greeting_prefix = "+OK ";
    pre_login_setup setup;

    void on_write(std::string_view bytes, const pre_login_state& state) {
        check_lines(bytes, line_bytes::printable, "pop3 server");
        // One reply per write: a status line, or a multi-line list (CAPA, AUTH) ending in "." (RFC 1939 §3).
        auto first_end = bytes.find("\r\n");
        auto status = bytes.substr(0, first_end);
        FUZZ_CHECK(status == "+OK" || status.starts_with("+OK ") || status.starts_with("-ERR") ||
                       status.starts_with("+ "),
                   "not a POP3 status line: " + std::string(bytes));
        if (first_end + 2 < bytes.size()) {
            FUZZ_CHECK(status.starts_with("+OK") && bytes.ends_with("\r\n.\r\n"),
                       "more than one line but not a multi-line list: " + std::string(bytes));
            auto body = bytes.substr(first_end + 2, bytes.size() - first_end - 2 - 3);
            FUZZ_CHECK(body.find("\r\n.") == std::string_view::npos && !body.starts_with("."),
                       "a list line that needs dot-stuffing: " + std::string(bytes));
        }
        // RFC 2595 §4: STLS is offered only where it can start, never once TLS is up.
        if (state.tls || !setup.tls_offered)
            FUZZ_CHECK(bytes.find("\r\nSTLS\r\n") == std::string_view::npos,
                       "STLS offered: " + std::string(bytes));
        if (bytes.starts_with("+OK Begin TLS")) FUZZ_CHECK(!state.tls && setup.tls_offered);
    }

    bool report(pop3::server& codec, std::uint8_t choice) {
        auto outcome = static_cast<mailgate::protocols::login_outcome>(choice % 4);
        codec.login_result(outcome);
        return outcome == mailgate::protocols::login_outcome::ok;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    auto bits = fdp.ConsumeIntegral<std::uint8_t>();
    pop3_hooks hooks;
    hooks.setup = {
        .tls_active = (bits & 1) != 0, .tls_offered = (bits & 2) != 0, .plaintext_login = (bits & 4) != 0};
    pop3::server_options options{.stls_offered = hooks.setup.tls_offered,
                                 .plaintext_login_allowed = hooks.setup.plaintext_login,
                                 .tls_active = hooks.setup.tls_active,
                                 .max_failures = 1u + ((bits >> 3) & 3u)};
    if (bits & 0x20) options.max_line = 24; // short limit: over-long lines with little input
    if (bits & 0x40) // APOP / CRAM-MD5 on (some account allows them), also advertised over TLS with 0x80
        options.challenges = {
            .enabled = true, .advertise_over_tls = (bits & 0x80) != 0, .nonce = "f1.2", .host = "gw"};
    run_live_and_whole(fdp, [&](source& src) {
        pop3::server codec(options);
        return drive_pre_login(codec, src, hooks, hooks.setup, size);
    });
    return 0;
}
