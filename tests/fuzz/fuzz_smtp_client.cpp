// Fuzzes the SMTP client codec (smtp::client) toward a hostile provider: greeting, EHLO, STARTTLS, AUTH PLAIN,
// LOGIN, XOAUTH2 or OAUTHBEARER (inline or after the 334, with the provider's error report), then transactions
// (transact()) and QUIT, with the provider's bytes in fuzz-sized reads and fuzz-chosen stored credentials
// (passwords or OAuth2 tokens).
#include "protocols/smtp/client.hpp"
#include "tests/fuzz/upstream_driver.hpp"

namespace {

using namespace mailgate::fuzz;
namespace smtp = mailgate::protocols::smtp;

const std::array<std::string, 6> transaction_lines = {"MAIL FROM:<a@example.org>\r\n",
                                                      "RCPT TO:<c@example.net>\r\n",
                                                      "DATA\r\n",
                                                      "Subject: hi\r\n\r\nbody\r\n.\r\n",
                                                      "",
                                                      "RSET\r\n"};

struct smtp_client_hooks {
    bool logging_out = false;
    bool in_transaction = false;
    int transactions = 0;

    void on_write(std::string_view bytes, const upstream_state& state) {
        check_lines(bytes, line_bytes::no_cr_lf_nul, "smtp client");
        if (in_transaction) return; // our own transact() lines
        FUZZ_CHECK(bytes.find("\r\n") == bytes.size() - 2, "more than one command in a write");
        if (!state.tls) FUZZ_CHECK(bytes == "EHLO gw.lan\r\n" || bytes == "STARTTLS\r\n", std::string(bytes));
        // RFC 4954 §4: AUTH with its initial response stays within the 512-octet command line, or it waits.
        if (bytes.starts_with("AUTH ")) FUZZ_CHECK(bytes.size() <= 512, "AUTH line over 512 octets");
        if (bytes == "QUIT\r\n") FUZZ_CHECK(logging_out, "QUIT before logout()");
    }
    bool is_login(std::string_view bytes, const upstream_state& state) {
        return !state.logged_in && bytes != "EHLO gw.lan\r\n" && bytes != "STARTTLS\r\n";
    }
    void after_tls(smtp::client& c) { FUZZ_CHECK(c.extensions().empty(), "pre-TLS EHLO keywords kept"); }
    bool after_done(smtp::client& c, live_source& src, upstream_state&) {
        if (in_transaction) {
            const auto& r = c.last_reply();
            FUZZ_CHECK(r.code >= 200 && r.code <= 599 && !r.lines.empty(), "transact() done without a reply");
            in_transaction = false;
        }
        if (logging_out) return false;
        auto choice = src.choose();
        if ((choice & 3) == 0) return false;
        if ((choice & 3) == 1 || ++transactions > 8) {
            logging_out = true;
            c.logout();
            return true;
        }
        in_transaction = true;
        const auto& line = transaction_lines[(choice >> 2) % transaction_lines.size()];
        if (line.empty())
            c.await_verdict(); // the reply to the end of DATA
        else
            c.transact(line);
        return true;
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz_upstream_client<smtp_client_hooks>(
        data, size, [](auto m, const auto& c, auto l) { return smtp::client(m, c, "gw.lan", l); });
}
