// Fuzzes the IMAP server codec (imap::server) as the session driver runs it: client bytes in fuzz-sized reads,
// fuzz-chosen login outcomes and provider capabilities, and the codec's promises on responses, capabilities,
// STARTTLS, logins, close and relay.
#include "protocols/common/ascii.hpp"
#include "protocols/imap/server.hpp"
#include "tests/fuzz/pre_login_driver.hpp"

#include <algorithm>
#include <array>

namespace {

using namespace mailgate::fuzz;
namespace imap = mailgate::protocols::imap;
using mailgate::protocols::ascii_upper;

// Post-login capability lists as providers send them (the imap::client's capability_atoms()).
const std::array<std::vector<std::string>, 4> provider_capabilities = {{
    {},
    {"IMAP4rev1", "LITERAL+", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT", "MOVE"},
    {"IMAP4rev1", "UNSELECT", "IDLE", "NAMESPACE", "QUOTA", "ID", "XLIST", "CHILDREN", "X-GM-EXT-1",
     "UIDPLUS", "COMPRESS=DEFLATE", "ENABLE", "MOVE", "CONDSTORE", "ESEARCH", "UTF8=ACCEPT", "LIST-EXTENDED"},
    {"imap4rev1", "starttls", "auth=plain", "AUTH=XOAUTH2", "sasl-ir", "LoginDisabled", "IDLE"},
}};

bool valid_tag_char(char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && std::string_view("(){%*\"\\+").find(c) == std::string_view::npos;
}

std::vector<std::string> atoms_of(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        auto space = text.find(' ');
        if (space != 0) out.push_back(ascii_upper(text.substr(0, space)));
        if (space == std::string_view::npos) break;
        text.remove_prefix(space + 1);
    }
    return out;
}

bool gateway_only(const std::string& upper_atom) {
    return upper_atom == "STARTTLS" || upper_atom == "LOGINDISABLED" || upper_atom == "SASL-IR" ||
           upper_atom.starts_with("AUTH=");
}

struct imap_hooks {
    std::string_view greeting_prefix = "* OK [CAPABILITY ";
    pre_login_setup setup;

    // RFC 9051 §6.2.3 / RFC 2595 §3.1: what the gateway advertises before login follows from the connection.
    void check_gateway_capabilities(std::string_view atoms_text, const pre_login_state& state) {
        auto atoms = atoms_of(atoms_text);
        auto has = [&](std::string_view a) {
            return std::find(atoms.begin(), atoms.end(), a) != atoms.end();
        };
        bool permitted = state.tls || setup.plaintext_login;
        FUZZ_CHECK(has("IMAP4REV1"), std::string(atoms_text));
        FUZZ_CHECK(has("LOGINDISABLED") == !permitted, "LOGINDISABLED wrong: " + std::string(atoms_text));
        FUZZ_CHECK(has("AUTH=PLAIN") == permitted, "AUTH= wrong: " + std::string(atoms_text));
        FUZZ_CHECK(has("STARTTLS") == (setup.tls_offered && !state.tls),
                   "STARTTLS wrong: " + std::string(atoms_text));
    }

    void on_write(std::string_view bytes, const pre_login_state& state) {
        check_lines(bytes, line_bytes::printable, "imap server");
        while (!bytes.empty()) {
            auto end = bytes.find("\r\n");
            auto line = bytes.substr(0, end);
            bytes.remove_prefix(end + 2);
            auto space = line.find(' ');
            FUZZ_CHECK(space != std::string_view::npos && space > 0,
                       "response without a tag: " + std::string(line));
            auto tag = line.substr(0, space);
            auto rest = line.substr(space + 1);
            if (tag == "+") continue;
            FUZZ_CHECK(tag == "*" || std::all_of(tag.begin(), tag.end(), valid_tag_char),
                       "response with an invalid tag: " + std::string(line));
            if (tag == "*" && rest.starts_with("OK [CAPABILITY ")) {
                auto close = rest.find(']');
                FUZZ_CHECK(close != std::string_view::npos, std::string(line));
                check_gateway_capabilities(rest.substr(15, close - 15), state);
            } else if (tag == "*" && rest.starts_with("CAPABILITY ")) {
                check_gateway_capabilities(rest.substr(11), state);
            } else if (tag != "*" && state.logged_in) {
                // The provider's own capabilities reach the client, minus what only the gateway answers for.
                FUZZ_CHECK(rest.starts_with("OK"), "the login reply is not OK: " + std::string(line));
                if (rest.starts_with("OK [CAPABILITY ")) {
                    auto close = rest.find(']');
                    FUZZ_CHECK(close != std::string_view::npos, std::string(line));
                    for (const auto& atom : atoms_of(rest.substr(15, close - 15)))
                        FUZZ_CHECK(!gateway_only(atom),
                                   "a gateway-only capability passed on: " + std::string(line));
                }
            }
        }
    }

    bool report(imap::server& codec, std::uint8_t choice) {
        auto outcome = static_cast<mailgate::protocols::login_outcome>(choice % 4);
        codec.login_result(outcome, provider_capabilities[(choice >> 2) % provider_capabilities.size()]);
        return outcome == mailgate::protocols::login_outcome::ok;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    auto bits = fdp.ConsumeIntegral<std::uint8_t>();
    imap_hooks hooks;
    hooks.setup = {
        .tls_active = (bits & 1) != 0, .tls_offered = (bits & 2) != 0, .plaintext_login = (bits & 4) != 0};
    imap::server_options options{.starttls_offered = hooks.setup.tls_offered,
                                 .plaintext_login_allowed = hooks.setup.plaintext_login,
                                 .tls_active = hooks.setup.tls_active,
                                 .max_failures = 1u + ((bits >> 3) & 3u)};
    if (bits & 0x20)
        options.max_command = 64; // small limit: over-long commands and literals with little input
    if (bits & 0x40) // APOP / CRAM-MD5 on (some account allows them), also advertised over TLS with 0x80
        options.challenges = {
            .enabled = true, .advertise_over_tls = (bits & 0x80) != 0, .nonce = "f1.2", .host = "gw"};
    run_live_and_whole(fdp, [&](source& src) {
        imap::server codec(options);
        return drive_pre_login(codec, src, hooks, hooks.setup, size);
    });
    return 0;
}
