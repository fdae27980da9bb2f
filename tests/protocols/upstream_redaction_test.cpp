// No form of the stored credential reaches diagnostics(): for each way the POP3, IMAP and SMTP client codecs
// send it (bare password, base64 SASL payloads inline or after a continuation, IMAP quoted strings and
// literals, OAuth2 tokens in XOAUTH2 and OAUTHBEARER), a provider echoing that form whole, cut short, in part,
// or twice over is redacted. Each
// transcript runs whole, split at every offset and byte by byte (so the echo also arrives split across
// reads).
#include "protocols/common/base64.hpp"
#include "protocols/imap/client.hpp"
#include "protocols/pop3/client.hpp"
#include "protocols/smtp/client.hpp"
#include "tests/protocols/bearer.hpp"
#include "tests/protocols/transcript.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailgate::protocols {
namespace {

using namespace mailgate::test;
using steps = std::vector<step>;

steps operator+(steps a, const steps& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

const std::string secret = "correct horse battery staple";

std::string plain_b64(const std::string& user, const std::string& pw) {
    return base64_encode(std::string(1, '\0') + user + std::string(1, '\0') + pw);
}

// What a provider might send back of `form`: all of it, all but its first byte, cut short, 8 bytes from its
// middle, its last 8 bytes, and twice over around other text.
std::vector<std::string> echoes_of(const std::string& form) {
    return {form,
            form.substr(1),
            form.substr(0, form.size() - 3),
            form.substr(form.size() / 2 - 4, 8),
            form.substr(form.size() - 8),
            "<" + form + "|" + form.substr(0, 10) + ">"};
}

// Fails the test when `diagnostics` holds any 8 consecutive bytes (or the whole, if shorter) of a form, as
// sanitizing would have shown them.
void expect_no_leak(const std::string& diagnostics, const std::vector<std::string>& forms) {
    for (const auto& raw : forms) {
        std::string form = sanitize_peer_text(raw, raw.size());
        std::size_t n = std::min<std::size_t>(8, form.size());
        for (std::size_t i = 0; i + n <= form.size(); ++i) {
            EXPECT_EQ(diagnostics.find(form.substr(i, n)), std::string::npos)
                << "diagnostics \"" << escape_bytes(diagnostics) << "\" leak \""
                << escape_bytes(form.substr(i, n)) << "\" of \"" << escape_bytes(raw) << "\"";
        }
    }
}

step no_leak(std::vector<std::string> forms) {
    return check<upstream_codec>([forms](upstream_codec& c) {
        EXPECT_FALSE(c.diagnostics().empty());
        expect_no_leak(c.diagnostics(), forms);
    });
}

// Runs `login` (ending in the credential write) followed by a failure reply `prefix + echo` for every echo
// of every form in `echoed`; the diagnostics must keep the provider's own words and leak none of `forms`.
void expect_redacted(const codec_factory& make, const steps& login, const std::string& prefix,
                     const std::vector<std::string>& echoed, const std::vector<std::string>& forms,
                     upstream_errc error) {
    for (const auto& form : echoed) {
        for (const auto& echo : echoes_of(form)) {
            SCOPED_TRACE("echo \"" + escape_bytes(echo) + "\"");
            EXPECT_TRUE(run_transcript(
                make, login + steps{feed(prefix + echo + " end\r\n"), expect_close(error), no_leak(forms),
                                    check<upstream_codec>([](upstream_codec& c) {
                                        EXPECT_EQ(c.diagnostics().find("end"), c.diagnostics().size() - 3);
                                    })}));
        }
    }
}

// ---- POP3 ----

codec_factory pop3_client(std::string pw) {
    return [pw] {
        return std::make_unique<pop3::client>(upstream_tls::implicit, upstream_credentials{"alice", pw});
    };
}

TEST(upstream_redaction, pop3_pass) {
    expect_redacted(pop3_client(secret),
                    {feed("+OK\r\n"), expect_write("CAPA\r\n"), feed("+OK\r\nUSER\r\n.\r\n"),
                     expect_write("USER alice\r\n"), feed("+OK\r\n"),
                     expect_write("PASS " + secret + "\r\n")},
                    "-ERR [AUTH] ", {secret}, {secret}, upstream_errc::auth_rejected);
}

TEST(upstream_redaction, pop3_auth_plain_inline_and_after_the_continuation) {
    const std::string b64 = plain_b64("alice", secret);
    const std::string decoded = std::string(1, '\0') + "alice" + std::string(1, '\0') + secret;
    expect_redacted(pop3_client(secret),
                    {feed("+OK\r\n"), expect_write("CAPA\r\n"), feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                     expect_write("AUTH PLAIN " + b64 + "\r\n")},
                    "-ERR [AUTH] ", {b64, decoded}, {b64, decoded, secret}, upstream_errc::auth_rejected);
    const std::string long_secret = std::string(200, 'y') + "-tail-of-a-long-secret";
    const std::string long_b64 = plain_b64("alice", long_secret);
    expect_redacted(pop3_client(long_secret),
                    {feed("+OK\r\n"), expect_write("CAPA\r\n"), feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                     expect_write("AUTH PLAIN\r\n"), feed("+ \r\n"), expect_write(long_b64 + "\r\n")},
                    "-ERR [AUTH] ", {long_b64}, {long_b64, long_secret}, upstream_errc::auth_rejected);
}

TEST(upstream_redaction, pop3_secret_echoed_before_it_was_sent) {
    // The stored secret is known from the start: a greeting that happens to hold it is redacted too.
    EXPECT_TRUE(run_transcript(pop3_client(secret),
                               {feed("-ERR no " + secret + " here\r\n"),
                                expect_close(upstream_errc::greeting_rejected, "-ERR no *** here")}));
}

TEST(upstream_redaction, pop3_exact_diagnostics_keep_the_providers_words) {
    const std::string b64 = plain_b64("alice", secret);
    EXPECT_TRUE(run_transcript(pop3_client(secret),
                               {feed("+OK\r\n"), expect_write("CAPA\r\n"), feed("+OK\r\nSASL PLAIN\r\n.\r\n"),
                                expect_write("AUTH PLAIN " + b64 + "\r\n"),
                                feed("-ERR [AUTH] bad " + b64.substr(0, 20) + " and " + b64.substr(30) +
                                     " and " + secret.substr(3, 7) + "\r\n"),
                                // 7 bytes of the secret alone are below the threshold of 8 and stay.
                                expect_close(upstream_errc::auth_rejected,
                                             "-ERR [AUTH] bad *** and *** and " + secret.substr(3, 7))}));
}

// ---- IMAP ----

codec_factory imap_client(std::string pw) {
    return [pw] {
        return std::make_unique<imap::client>(upstream_tls::implicit, upstream_credentials{"alice", pw});
    };
}

TEST(upstream_redaction, imap_authenticate_plain_with_and_without_sasl_ir) {
    const std::string b64 = plain_b64("alice", secret);
    expect_redacted(imap_client(secret),
                    {feed("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n"),
                     expect_write("a1 AUTHENTICATE PLAIN " + b64 + "\r\n")},
                    "a1 NO [AUTHENTICATIONFAILED] ", {b64}, {b64, secret}, upstream_errc::auth_rejected);
    expect_redacted(imap_client(secret),
                    {feed("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
                     expect_write("a1 AUTHENTICATE PLAIN\r\n"), feed("+\r\n"), expect_write(b64 + "\r\n")},
                    "a1 NO [AUTHENTICATIONFAILED] ", {b64}, {b64, secret}, upstream_errc::auth_rejected);
}

TEST(upstream_redaction, imap_login_quoted_string) {
    const std::string pw = "pa\"ss\\word 1234";
    const std::string quoted = "\"pa\\\"ss\\\\word 1234\"";
    expect_redacted(
        imap_client(pw),
        {feed("* OK [CAPABILITY IMAP4rev1] hi\r\n"), expect_write("a1 LOGIN \"alice\" " + quoted + "\r\n")},
        "a1 NO [AUTHENTICATIONFAILED] ", {quoted, pw}, {quoted, pw}, upstream_errc::auth_rejected);
}

TEST(upstream_redaction, imap_login_literals) {
    const std::string pw = "p\xc3\xa4ssw\xc3\xb6rd-1234"; // 8-bit: never quoted
    const std::string n = std::to_string(pw.size());
    expect_redacted(imap_client(pw),
                    {feed("* OK [CAPABILITY IMAP4rev1] hi\r\n"),
                     expect_write("a1 LOGIN \"alice\" {" + n + "}\r\n"), feed("+ go\r\n"),
                     expect_write(pw + "\r\n")},
                    "a1 NO [AUTHENTICATIONFAILED] ", {pw}, {pw}, upstream_errc::auth_rejected);
    expect_redacted(imap_client(pw),
                    {feed("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n"),
                     expect_write("a1 LOGIN \"alice\" {" + n + "+}\r\n" + pw + "\r\n")},
                    "a1 BAD ", {pw}, {pw}, upstream_errc::malformed_reply);
}

// ---- SMTP ----

codec_factory smtp_client(std::string pw) {
    return [pw] {
        return std::make_unique<smtp::client>(upstream_tls::implicit, upstream_credentials{"alice", pw},
                                              "gw");
    };
}

TEST(upstream_redaction, smtp_auth_plain_inline_and_after_the_prompt) {
    const std::string b64 = plain_b64("alice", secret);
    expect_redacted(smtp_client(secret),
                    {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"), feed("250-mx\r\n250 AUTH PLAIN\r\n"),
                     expect_write("AUTH PLAIN " + b64 + "\r\n")},
                    "535 5.7.8 ", {b64}, {b64, secret}, upstream_errc::auth_rejected);
    const std::string long_secret = std::string(600, 'z') + "-end-of-the-token";
    const std::string long_b64 = plain_b64("alice", long_secret);
    expect_redacted(smtp_client(long_secret),
                    {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"), feed("250-mx\r\n250 AUTH PLAIN\r\n"),
                     expect_write("AUTH PLAIN\r\n"), feed("334 \r\n"), expect_write(long_b64 + "\r\n")},
                    "535 5.7.8 ", {long_b64}, {long_b64, long_secret}, upstream_errc::auth_rejected);
}

TEST(upstream_redaction, smtp_auth_login_password) {
    const std::string b64 = base64_encode(secret);
    expect_redacted(smtp_client(secret),
                    {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"), feed("250-mx\r\n250 AUTH LOGIN\r\n"),
                     expect_write("AUTH LOGIN\r\n"), feed("334 VXNlcm5hbWU6\r\n"),
                     expect_write(base64_encode("alice") + "\r\n"), feed("334 UGFzc3dvcmQ6\r\n"),
                     expect_write(b64 + "\r\n")},
                    "535 5.7.8 ", {b64, secret}, {b64, secret}, upstream_errc::auth_rejected);
}

TEST(upstream_redaction, short_secrets_are_redacted_whole) {
    // A 6-byte password: no 8-byte window, but every whole occurrence of it and of its forms.
    EXPECT_TRUE(run_transcript(
        smtp_client("s3cret"),
        {feed("220 mx\r\n"), expect_write("EHLO gw\r\n"), feed("250-mx\r\n250 AUTH LOGIN\r\n"),
         expect_write("AUTH LOGIN\r\n"), feed("334 VXNlcm5hbWU6\r\n"), expect_write("YWxpY2U=\r\n"),
         feed("334 UGFzc3dvcmQ6\r\n"), expect_write("czNjcmV0\r\n"), feed("535 czNjcmV0 s3cretive s3cre\r\n"),
         expect_close(upstream_errc::auth_rejected, "535 *** ***ive s3cre")}));
}

// ---- OAuth2 bearer tokens ----

// The token, the payload and its decoding, echoed in the final refusal or inside the error report.
void expect_bearer_redacted(const std::function<std::unique_ptr<upstream_codec>(upstream_credentials)>& make,
                            const std::function<steps(const bearer_case&)>& login, const std::string& refusal,
                            const std::string& continuation) {
    const std::string token = token_of(120, 7);
    for (const auto& b : bearer_cases("alice", token)) {
        SCOPED_TRACE(b.mechanism);
        const std::string decoded = *base64_decode(b.payload);
        const std::vector<std::string> forms{token, b.payload, decoded};
        auto factory = [&make, c = b.credentials] { return make(c); };
        expect_redacted(factory, login(b), refusal, forms, forms, upstream_errc::token_rejected);
        const std::string report = base64_encode(R"({"status":"401","token":")" + token + "\"}");
        EXPECT_TRUE(run_transcript(
            factory, login(b) + steps{feed(continuation + report + "\r\n"), expect_write(b.error_answer),
                                      feed(refusal + "bad token " + token + "\r\n"),
                                      expect_close(upstream_errc::token_rejected), no_run_of(token),
                                      no_leak(forms), check<upstream_codec>([](upstream_codec& c) {
                                          EXPECT_NE(c.diagnostics().find(R"("status":"401")"),
                                                    std::string::npos);
                                      })}));
    }
}

TEST(upstream_redaction, pop3_bearer_token) {
    expect_bearer_redacted(
        [](upstream_credentials c) {
            return std::make_unique<pop3::client>(upstream_tls::implicit, std::move(c));
        },
        [](const bearer_case& b) {
            return steps{feed("+OK\r\n"), expect_write("CAPA\r\n"),
                         feed("+OK\r\nSASL XOAUTH2 OAUTHBEARER\r\n.\r\n"),
                         expect_write("AUTH " + b.mechanism + " " + b.payload + "\r\n")};
        },
        "-ERR [AUTH] ", "+ ");
}

TEST(upstream_redaction, imap_bearer_token) {
    expect_bearer_redacted(
        [](upstream_credentials c) {
            return std::make_unique<imap::client>(upstream_tls::implicit, std::move(c));
        },
        [](const bearer_case& b) {
            return steps{feed("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER] hi\r\n"),
                         expect_write("a1 AUTHENTICATE " + b.mechanism + "\r\n"), feed("+\r\n"),
                         expect_write(b.payload + "\r\n")};
        },
        "a1 NO [AUTHENTICATIONFAILED] ", "+ ");
}

TEST(upstream_redaction, smtp_bearer_token) {
    expect_bearer_redacted(
        [](upstream_credentials c) {
            return std::make_unique<smtp::client>(upstream_tls::implicit, std::move(c), "gw");
        },
        [](const bearer_case& b) {
            return steps{feed("220 mx\r\n"), expect_write("EHLO gw\r\n"),
                         feed("250-mx\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n"),
                         expect_write("AUTH " + b.mechanism + " " + b.payload + "\r\n")};
        },
        "535 5.7.8 ", "334 ");
}

// ---- The redaction itself ----

TEST(redact_secrets, whole_forms_and_runs_of_eight_or_more) {
    secret_strings forms{"0123456789abcdef", "xyz"};
    EXPECT_EQ(redact_secrets("a 0123456789abcdef b", forms), "a *** b");
    EXPECT_EQ(redact_secrets("a 23456789 b", forms), "a *** b");     // 8 bytes from the middle
    EXPECT_EQ(redact_secrets("a 2345678 b", forms), "a 2345678 b");  // 7 are not enough
    EXPECT_EQ(redact_secrets("01234567abcdef", forms), "***abcdef"); // two runs, the second too short
    EXPECT_EQ(redact_secrets("0123456789ab89abcdef", forms), "***"); // overlapping runs merge
    EXPECT_EQ(redact_secrets("xyz xyzxyz xy", forms), "*** *** xy"); // short forms only whole
    EXPECT_EQ(redact_secrets("", forms), "");
    EXPECT_EQ(redact_secrets("nothing here", {}), "nothing here");
}

TEST(redact_secrets, is_linear_enough_for_a_full_line_of_echo) {
    // 64 KiB of the form repeated: one run, one "***".
    std::string form(300, 'q');
    std::string text;
    while (text.size() < 64 * 1024) text += form;
    EXPECT_EQ(redact_secrets("<" + text + ">", secret_strings{form}), "<***>");
}

} // namespace
} // namespace mailgate::protocols
