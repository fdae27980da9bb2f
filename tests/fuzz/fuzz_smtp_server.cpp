// Fuzzes the SMTP submission server codec (smtp::server, with its DATA decoder) as server/proxy/smtp_session.cpp
// drives it: client bytes in fuzz-sized reads; fuzz-chosen login, account and provider outcomes (replies with
// any text, failed connections). A model of the provider's side of the transaction checks that nothing reaches
// the provider out of place: no command inside DATA, no bare CR/LF or early end of data in the message (SMTP
// smuggling, CVE-2023-51764), no parameter the provider did not offer, no client reply while it sits in DATA.
#include "protocols/common/ascii.hpp"
#include "protocols/smtp/server.hpp"
#include "tests/fuzz/fuzz_common.hpp"

#include <array>
#include <set>

namespace {

using namespace mailgate::fuzz;
namespace smtp = mailgate::protocols::smtp;
using mailgate::fuzz::action_kind;

// EHLO keyword sets a provider may offer (as smtp::client::extensions() reports them).
const std::array<std::set<std::string>, 5> provider_extensions = {{
    {},
    {"PIPELINING", "SIZE 35882577", "8BITMIME", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"},
    {"AUTH PLAIN"},
    {"SIZE", "8BITMIME", "AUTH LOGIN"},
    {"DSN", "SMTPUTF8", "SIZE 1000"},
}};

enum class command { mail, rcpt, data, rset, verdict };

// The provider's view of the transaction, as the gateway's upstream commands and our replies shape it.
struct provider_model {
    bool session = false; // logged in (AUTH) or account selected (relay) since the connection or TLS began
    enum class phase { idle, mail, data } at = phase::idle;
    unsigned recipients = 0;
    std::string message; // DATA bytes sent so far
    std::set<std::string> extensions;

    // After RSET, a verdict, or a dropped connection: no transaction in progress.
    void end_transaction() {
        at = phase::idle;
        recipients = 0;
        message.clear();
    }
    bool offers(std::string_view keyword) const {
        for (const auto& e : extensions)
            if (e == keyword ||
                (e.starts_with(keyword) && e.size() > keyword.size() && e[keyword.size()] == ' '))
                return true;
        return false;
    }
};

// MAIL/RCPT parameters may only carry what the provider announced; AUTH= is the gateway's own business.
void check_parameters(std::string_view line, const provider_model& p) {
    auto close = line.find('>');
    FUZZ_CHECK(close != std::string_view::npos, std::string(line));
    auto params = line.substr(close + 1, line.size() - close - 3);
    while (!params.empty()) {
        FUZZ_CHECK(params.front() == ' ', "parameters not separated by one space: " + std::string(line));
        params.remove_prefix(1);
        auto item = params.substr(0, params.find(' '));
        params.remove_prefix(item.size());
        auto keyword = item.substr(0, item.find('='));
        auto value = item.substr(keyword.size() == item.size() ? item.size() : keyword.size() + 1);
        FUZZ_CHECK(keyword != "AUTH", "AUTH= forwarded: " + std::string(line));
        if (keyword == "SIZE") FUZZ_CHECK(p.offers("SIZE"), std::string(line));
        if (keyword == "SMTPUTF8") FUZZ_CHECK(p.offers("SMTPUTF8"), std::string(line));
        // BODY=7BIT goes out without 8BITMIME too (the codec's choice; strictly RFC 6152 adds BODY with 8BITMIME).
        // (The value is case-insensitive: "7bit" is 7BIT too.)
        if (keyword == "BODY" && mailgate::protocols::ascii_upper(value) != "7BIT")
            FUZZ_CHECK(p.offers("8BITMIME"), std::string(line));
        if (keyword == "RET" || keyword == "ENVID" || keyword == "NOTIFY" || keyword == "ORCPT")
            FUZZ_CHECK(p.offers("DSN"), std::string(line));
    }
}

// Client replies: lines "NNN-text" continued by the same code, ended by "NNN text".
void check_replies(std::string_view bytes) {
    check_lines(bytes, line_bytes::printable, "smtp server");
    std::string_view continued;
    while (!bytes.empty()) {
        auto line = bytes.substr(0, bytes.find("\r\n"));
        bytes.remove_prefix(line.size() + 2);
        FUZZ_CHECK(line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '9' &&
                       line[2] >= '0' && line[2] <= '9' &&
                       (line.size() == 3 || line[3] == ' ' || line[3] == '-'),
                   "not an SMTP reply line: " + std::string(line));
        if (!continued.empty())
            FUZZ_CHECK(line.substr(0, 3) == continued, "multi-line reply changes its code");
        continued = line.size() > 3 && line[3] == '-' ? line.substr(0, 3) : std::string_view{};
    }
    FUZZ_CHECK(continued.empty(), "a multi-line reply without its last line");
}

smtp::reply provider_reply(command c, live_source& src) {
    static constexpr int mail_codes[] = {250, 250, 451, 550, 552, 421, 250, 553};
    static constexpr int rcpt_codes[] = {250, 251, 450, 550, 553, 250, 452, 250};
    static constexpr int data_codes[] = {354, 354, 354, 554, 451, 503, 354, 250};
    static constexpr int verdict_codes[] = {250, 250, 554, 451, 552, 250, 550, 421};
    static constexpr int rset_codes[] = {250, 250, 500, 421, 250, 250, 250, 250};
    const int* codes[] = {mail_codes, rcpt_codes, data_codes, rset_codes, verdict_codes};
    auto choice = src.choose();
    smtp::reply r;
    r.code = (choice & 0x40) ? 200 + choice % 100 * 4 : codes[static_cast<int>(c)][choice & 7];
    int lines = 1 + ((choice >> 3) & 3) % 3;
    for (int i = 0; i < lines; ++i) {
        // The provider's text reaches the client; a hostile provider's may hold anything a line can.
        r.lines.push_back((choice & 0x80) ? src.take_text(40) : "2.0.0 provider text");
    }
    return r;
}

struct smtp_run {
    smtp::server_options options;
    live_source& src;
    std::size_t input_size;

    provider_model provider;
    bool tls = false;
    bool authenticated = false;
    bool eof = false;
    bool first = true;
    bool expect_go_ahead = false; // the provider said 354: the next client write relays it
    std::size_t client_bytes = 0, reply_bytes = 0;
    std::string fed;
    std::optional<command> waiting; // the upstream command whose reply is outstanding

    void run() {
        smtp::server codec(options);
        tls = options.tls_active;
        step_budget budget(input_size);
        for (;;) {
            budget.tick();
            auto a = flatten(codec.next());
            note(kind_name(a.kind), a.bytes);
            if (first) {
                FUZZ_CHECK(a.kind == action_kind::write && a.bytes.starts_with("220 "),
                           "the greeting comes first");
                first = false;
            }
            switch (a.kind) {
            case action_kind::write:
                on_write(a.bytes);
                codec.wrote();
                break;
            case action_kind::read: {
                FUZZ_CHECK(!eof, "asked to read after the client closed the connection");
                if (provider.at == provider_model::phase::data) FUZZ_CHECK(codec.in_data());
                if (provider.at != provider_model::phase::idle) FUZZ_CHECK(codec.has_open_transaction());
                auto bytes = src.read();
                note("  fed", bytes);
                eof = bytes.empty();
                fed += bytes;
                codec.received(bytes);
                break;
            }
            case action_kind::start_tls:
                FUZZ_CHECK(options.starttls_offered && !tls,
                           "start_tls without an offer, or with TLS already up");
                // Allowed between MAIL and DATA (RFC 3207 does not forbid it; the envelope is forgotten on both
                // sides), never once the provider reads message data.
                FUZZ_CHECK(provider.at != provider_model::phase::data, "STARTTLS inside DATA");
                tls = true;
                // The driver quits the provider: RFC 3207 §4.2, the AUTH is forgotten on both sides.
                authenticated = false;
                provider.session = false;
                provider.end_transaction();
                codec.tls_started();
                break;
            case action_kind::authenticate: on_authenticate(codec); break;
            case action_kind::select_account: on_select(codec); break;
            case action_kind::upstream_command: on_command(codec, a.bytes); break;
            case action_kind::upstream_verdict: on_command(codec, {}); break;
            case action_kind::upstream_data: on_data(codec, a.bytes); break;
            case action_kind::upstream_abort:
                FUZZ_CHECK(provider.at == provider_model::phase::data, "upstream_abort outside DATA");
                provider.end_transaction(); // the driver drops the provider connection
                break;
            case action_kind::close: {
                auto why = codec.error();
                FUZZ_CHECK(why && why.category() == mailgate::protocols::session_category());
                FUZZ_CHECK(flatten(codec.next()).kind == action_kind::close, "close is not sticky");
                return;
            }
            default:
                violation(__FILE__, __LINE__, "an action the SMTP server codec never asks for",
                          kind_name(a.kind));
            }
        }
    }

    void on_write(std::string_view bytes) {
        check_replies(bytes);
        if (expect_go_ahead) {
            FUZZ_CHECK(bytes.starts_with("354"), "the provider's 354 was not relayed first");
            expect_go_ahead = false;
        } else {
            // The refusal of a message must come after the provider's DATA was abandoned, never while it waits.
            FUZZ_CHECK(provider.at != provider_model::phase::data,
                       "a client reply while the provider sits in DATA: " + std::string(bytes));
        }
        client_bytes += bytes.size();
        FUZZ_CHECK(client_bytes <= 4096 + 64 * fed.size() + 2 * reply_bytes,
                   "output out of proportion to the input");
    }

    void on_authenticate(smtp::server& codec) {
        FUZZ_CHECK(tls || options.plaintext_auth_allowed,
                   "AUTH on a plaintext connection that may not log in");
        FUZZ_CHECK(!authenticated, "a second AUTH");
        FUZZ_CHECK(provider.at == provider_model::phase::idle, "AUTH inside a transaction");
        FUZZ_CHECK(!codec.user().empty() && codec.user().find('\0') == std::string::npos, "bad user name");
        FUZZ_CHECK(codec.password().find('\0') == std::string::npos, "NUL in the password");
        auto choice = src.choose();
        auto outcome = static_cast<mailgate::protocols::login_outcome>(choice % 4);
        const auto& extensions = provider_extensions[(choice >> 2) % provider_extensions.size()];
        if (outcome == mailgate::protocols::login_outcome::ok) {
            authenticated = true;
            provider.session = true;
            provider.end_transaction(); // a new provider connection
            provider.extensions = extensions;
        }
        codec.login_result(outcome, {extensions.begin(), extensions.end()});
        FUZZ_CHECK(codec.password().empty(), "the password is kept after login_result()");
    }

    void on_select(smtp::server& codec) {
        FUZZ_CHECK(options.relay_allowed && !authenticated,
                   "select_account without relay permission, or after AUTH");
        FUZZ_CHECK(provider.at == provider_model::phase::idle, "select_account inside a transaction");
        for (unsigned char c : codec.sender())
            FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '<' && c != '>', "unsafe sender: " + codec.sender());
        auto choice = src.choose();
        auto outcome = static_cast<mailgate::protocols::login_outcome>(choice % 4);
        const auto& extensions = provider_extensions[(choice >> 2) % provider_extensions.size()];
        if (outcome == mailgate::protocols::login_outcome::ok) {
            provider.session = true;
            provider.end_transaction();
            provider.extensions = extensions;
        }
        codec.login_result(outcome, {extensions.begin(), extensions.end()});
    }

    void on_command(smtp::server& codec, std::string_view line) {
        FUZZ_CHECK(provider.session, "a command upstream without a provider session: " + std::string(line));
        command c;
        if (line.empty()) {
            // The verdict on the message: only once the whole message and its end marker went out.
            FUZZ_CHECK(provider.at == provider_model::phase::data, "asked for a verdict outside DATA");
            FUZZ_CHECK(provider.message.ends_with("\r\n.\r\n") || provider.message == ".\r\n",
                       "asked for a verdict before the end of data went out");
            c = command::verdict;
        } else {
            // Nothing a client sent can split the line or land inside message data (smuggling).
            check_lines(line, line_bytes::printable, "smtp server upstream command");
            FUZZ_CHECK(line.find("\r\n") == line.size() - 2,
                       "more than one line upstream: " + std::string(line));
            FUZZ_CHECK(line.size() <= 512, "an upstream command over 512 octets: " + std::string(line));
            FUZZ_CHECK(provider.at != provider_model::phase::data,
                       "a command sent while the provider reads message data: " + std::string(line));
            if (line.starts_with("MAIL FROM:<")) {
                FUZZ_CHECK(provider.at == provider_model::phase::idle,
                           "nested MAIL upstream: " + std::string(line));
                check_parameters(line, provider);
                c = command::mail;
            } else if (line.starts_with("RCPT TO:<")) {
                FUZZ_CHECK(provider.at == provider_model::phase::mail, "RCPT without MAIL upstream");
                check_parameters(line, provider);
                c = command::rcpt;
            } else if (line == "DATA\r\n") {
                FUZZ_CHECK(provider.at == provider_model::phase::mail && provider.recipients > 0,
                           "DATA upstream without an accepted recipient");
                c = command::data;
            } else if (line == "RSET\r\n") {
                c = command::rset;
            } else {
                violation(__FILE__, __LINE__, "an unexpected command upstream", line);
            }
        }
        if ((src.choose() & 15) == 15) { // the provider connection fails: the driver drops it
            provider.end_transaction();
            note("  provider connection fails");
            codec.upstream_failed();
            return;
        }
        auto r = provider_reply(c, src);
        note("  provider says " + std::to_string(r.code), r.lines.front());
        for (const auto& l : r.lines) reply_bytes += l.size() + 6;
        bool positive = r.code >= 200 && r.code < 300;
        switch (c) {
        case command::mail:
            provider.at = positive ? provider_model::phase::mail : provider_model::phase::idle;
            provider.recipients = 0;
            break;
        case command::rcpt:
            if (positive) ++provider.recipients;
            break;
        case command::data:
            if (r.code == 354) {
                provider.at = provider_model::phase::data;
                provider.message.clear();
                expect_go_ahead = true;
            }
            break;
        case command::rset:
        case command::verdict: provider.end_transaction(); break;
        }
        codec.upstream_reply(r);
    }

    void on_data(smtp::server& codec, std::string_view chunk) {
        FUZZ_CHECK(provider.at == provider_model::phase::data, "message data sent outside DATA");
        FUZZ_CHECK(!chunk.empty(), "an empty DATA chunk");
        auto& m = provider.message;
        FUZZ_CHECK(!(m.ends_with("\r\n.\r\n") || m == ".\r\n"), "message data after the end of data");
        m += chunk;
        FUZZ_CHECK(strict_line_ends(m), "a bare CR or LF reached the provider: " + m);
        auto end = ("\r\n" + m).find("\r\n.\r\n");
        FUZZ_CHECK(end == std::string::npos || end == m.size() - 3,
                   "an end of data inside the message: " + m);
        FUZZ_CHECK(m.size() <= fed.size(), "more message data than the client sent");
        if ((src.choose() & 31) == 31) {
            provider.end_transaction();
            codec.upstream_failed();
            return;
        }
        codec.upstream_written();
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider fdp(data, size);
    auto bits = fdp.ConsumeIntegral<std::uint16_t>();
    static constexpr std::uint64_t sizes[] = {50ull * 1024 * 1024, 0, 10, 200};
    static constexpr unsigned recipients[] = {100, 1, 2, 5};
    smtp::server_options options{.starttls_offered = (bits & 1) != 0,
                                 .plaintext_auth_allowed = (bits & 2) != 0,
                                 .relay_allowed = (bits & 4) != 0,
                                 .tls_active = (bits & 8) != 0,
                                 .host_name = "gw.lan",
                                 .client_address = "192.0.2.7",
                                 .max_message_size = sizes[(bits >> 4) & 3],
                                 .max_recipients = recipients[(bits >> 6) & 3],
                                 .max_auth_failures = 1u + ((bits >> 8) & 3u),
                                 .max_errors = (bits & 0x400) ? 3u : 20u};
    if (bits & 0x800) options.max_line = 40;
    if (bits & 0x1000) // AUTH CRAM-MD5 on, also advertised over TLS with 0x2000
        options.challenges = {
            .enabled = true, .advertise_over_tls = (bits & 0x2000) != 0, .nonce = "f1.2", .host = "gw"};
    live_source src(fdp);
    smtp_run run{.options = options, .src = src, .input_size = size};
    run.run();
    return 0;
}
