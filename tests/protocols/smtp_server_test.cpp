// SMTP submission server codec transcripts, the session (RFC 5321, 4954 AUTH, 3207 STARTTLS, 1870 SIZE, 3461
// DSN, 6531 SMTPUTF8): each run whole, split at every offset and byte by byte. DATA:
// smtp_server_data_test.cpp.
#include "tests/protocols/smtp_server_script.hpp"

#include <gtest/gtest.h>

namespace mailgate::protocols::smtp {
namespace {

using namespace transcripts;

// ---- Greeting, EHLO, HELO and the small commands ----

TEST(smtp_server, ehlo_on_implicit_tls_offers_auth_but_not_starttls) {
    EXPECT_TRUE(run_transcript(implicit_tls(), script{expect_write(greeting)} + ehlo() + quit()));
}

TEST(smtp_server, ehlo_on_the_starttls_port_offers_starttls_and_hides_auth) {
    EXPECT_TRUE(run_transcript(starttls_port(),
                               script{expect_write(greeting)} + ehlo({.starttls = true, .auth = false})));
}

TEST(smtp_server, ehlo_from_a_plaintext_auth_network_offers_both) {
    EXPECT_TRUE(run_transcript(make({.starttls_offered = true, .plaintext_auth_allowed = true}),
                               script{expect_write(greeting)} + ehlo({.starttls = true, .auth = true})));
}

TEST(smtp_server, ehlo_on_plaintext_without_starttls_or_auth) {
    EXPECT_TRUE(run_transcript(make({}), script{expect_write(greeting)} + ehlo({.auth = false})));
}

TEST(smtp_server, ehlo_advertises_the_configured_size) {
    EXPECT_TRUE(run_transcript(make({.tls_active = true, .max_message_size = 1000}),
                               script{expect_write(greeting)} + ehlo({.size = 1000})));
}

TEST(smtp_server, ehlo_and_helo_need_an_argument) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(), {expect_write(greeting), feed("EHLO\r\n"),
                         expect_write("501 5.5.4 EHLO needs a domain or address\r\n"), feed("helo\r\n"),
                         expect_write("501 5.5.4 HELO needs a domain or address\r\n")}));
}

TEST(smtp_server, helo_only_client_can_authenticate_and_send) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting), feed("HELO printer\r\n"), expect_write("250 gw.lan\r\n"),
               feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
               expect_authenticate("alice", "s3cret", login_outcome::ok, full_provider),
               expect_write(authenticated)} +
            mail_from() + quit()));
}

TEST(smtp_server, small_commands) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{
            expect_write(greeting), feed("NOOP\r\n"), expect_write("250 2.0.0 OK\r\n"), feed("noop x\r\n"),
            expect_write("250 2.0.0 OK\r\n"), feed("RSET\r\n"), expect_write("250 2.0.0 OK\r\n"),
            feed("VRFY alice\r\n"),
            expect_write("252 2.5.0 Cannot VRFY user, but will accept the message and attempt delivery\r\n"),
            feed("HELP\r\n"),
            expect_write("214 2.0.0 mailgate: EHLO, AUTH, MAIL, RCPT, DATA, RSET, NOOP, QUIT\r\n")} +
            quit()));
}

TEST(smtp_server, bdat_is_not_offered_nor_accepted) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), logged_in() + mail_from() + rcpt_to() +
                                           script{feed("BDAT 10 LAST\r\n"),
                                                  expect_write("502 5.5.1 CHUNKING is not supported\r\n")}));
}

TEST(smtp_server, unknown_command) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), {expect_write(greeting), feed("XYZZY\r\n"), expect_write(unrecognized),
                                        feed("\r\n"), expect_write(unrecognized)}));
}

TEST(smtp_server, client_eof_closes) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), script{expect_write(greeting)} + ehlo() +
                                           script{feed_eof(), expect_close(session_errc::client_closed)}));
}

// ---- AUTH ----

TEST(smtp_server, auth_plain_with_an_initial_response) {
    EXPECT_TRUE(run_transcript(implicit_tls(), logged_in()));
}

TEST(smtp_server, auth_plain_with_a_continuation) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting)} + ehlo() +
            script{feed("auth plain\r\n"), expect_write("334 \r\n"), feed(std::string(plain_alice) + "\r\n"),
                   expect_authenticate("alice", "s3cret", login_outcome::ok), expect_write(authenticated)}));
}

TEST(smtp_server, auth_login_prompts_for_user_and_password) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting)} + ehlo() +
            script{feed("AUTH LOGIN\r\n"), expect_write("334 VXNlcm5hbWU6\r\n"), feed("YWxpY2U=\r\n"),
                   expect_write("334 UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
                   expect_authenticate("alice", "s3cret", login_outcome::ok), expect_write(authenticated)}));
}

TEST(smtp_server, auth_login_with_the_user_name_inline) {
    EXPECT_TRUE(
        run_transcript(implicit_tls(), script{expect_write(greeting)} + ehlo() +
                                           script{feed("AUTH LOGIN YWxpY2U=\r\n"),
                                                  expect_write("334 UGFzc3dvcmQ6\r\n"), feed("czNjcmV0\r\n"),
                                                  expect_authenticate("alice", "s3cret", login_outcome::ok),
                                                  expect_write(authenticated)}));
}

TEST(smtp_server, star_cancels_the_exchange) {
    const std::string cancelled = "501 5.0.0 Authentication cancelled\r\n";
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting)} + ehlo() +
            script{feed("AUTH LOGIN\r\n"), expect_write("334 VXNlcm5hbWU6\r\n"), feed("*\r\n"),
                   expect_write(cancelled), feed("AUTH LOGIN YWxpY2U=\r\n"),
                   expect_write("334 UGFzc3dvcmQ6\r\n"), feed("*\r\n"), expect_write(cancelled),
                   feed("AUTH PLAIN\r\n"), expect_write("334 \r\n"), feed("*\r\n"), expect_write(cancelled),
                   feed("NOOP\r\n"), expect_write("250 2.0.0 OK\r\n")}));
}

TEST(smtp_server, malformed_sasl_responses) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting)} + ehlo() +
            script{feed("AUTH PLAIN !!!\r\n"), expect_write("501 5.5.2 Invalid SASL response\r\n"),
                   feed("AUTH LOGIN\r\n"), expect_write("334 VXNlcm5hbWU6\r\n"), feed("%%%\r\n"),
                   expect_write("501 5.5.2 Invalid SASL response\r\n"),
                   feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                   expect_authenticate("alice", "s3cret", login_outcome::ok), expect_write(authenticated)}));
}

TEST(smtp_server, auth_refusals) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        {expect_write(greeting), feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
         expect_write(ehlo_first), feed("EHLO pc\r\n"), expect_write(ehlo_reply()), feed("AUTH CRAM-MD5\r\n"),
         expect_write("504 5.5.4 Unsupported authentication mechanism\r\n"),
         feed("AUTH PLAIN Ym9iAGFsaWNlAHMzY3JldA==\r\n"), // bob asking to act as alice
         expect_write("535 5.7.8 Logging in as another user is not supported\r\n"),
         feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
         expect_authenticate("alice", "s3cret", login_outcome::ok), expect_write(authenticated),
         feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
         expect_write("503 5.5.1 Already authenticated\r\n")}));
}

TEST(smtp_server, auth_on_plaintext_needs_an_allowed_network) {
    EXPECT_TRUE(run_transcript(starttls_port(),
                               script{expect_write(greeting)} + ehlo({.starttls = true, .auth = false}) +
                                   script{feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                                          expect_write(encryption_required), feed("AUTH LOGIN\r\n"),
                                          expect_write(encryption_required)}));
    EXPECT_TRUE(run_transcript(make({.plaintext_auth_allowed = true}),
                               script{expect_write(greeting)} + ehlo() +
                                   script{feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                                          expect_authenticate("alice", "s3cret", login_outcome::ok),
                                          expect_write(authenticated)}));
}

TEST(smtp_server, third_bad_login_closes) {
    step attempt = feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n");
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting)} + ehlo() +
            script{attempt, expect_authenticate("alice", "s3cret", login_outcome::bad_credentials),
                   expect_write(bad_credentials), attempt,
                   expect_authenticate("alice", "s3cret", login_outcome::bad_credentials),
                   expect_write(bad_credentials), attempt,
                   expect_authenticate("alice", "s3cret", login_outcome::bad_credentials),
                   expect_write(bad_credentials +
                                "421 4.7.0 Too many failed authentications, closing connection\r\n"),
                   expect_close(session_errc::too_many_failures)}));
}

TEST(smtp_server, bad_then_good_login) {
    step attempt = feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n");
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting)} + ehlo() +
            script{attempt, expect_authenticate("alice", "s3cret", login_outcome::bad_credentials),
                   expect_write(bad_credentials), attempt,
                   expect_authenticate("alice", "s3cret", login_outcome::ok, full_provider),
                   expect_write(authenticated)} +
            mail_from()));
}

TEST(smtp_server, provider_failures_at_login) {
    for (auto outcome : {login_outcome::provider_temp, login_outcome::provider_perm}) {
        auto reply =
            outcome == login_outcome::provider_temp
                ? "454 4.7.0 Temporary authentication failure: the mail provider is not reachable\r\n"
                : "454 4.7.0 Temporary authentication failure: the mail provider refused the gateway's "
                  "login\r\n";
        step attempt = feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n");
        // Not counted as bad credentials: three of them do not close.
        EXPECT_TRUE(run_transcript(
            implicit_tls(),
            script{expect_write(greeting)} + ehlo() +
                script{attempt, expect_authenticate("alice", "s3cret", outcome), expect_write(reply), attempt,
                       expect_authenticate("alice", "s3cret", outcome), expect_write(reply), attempt,
                       expect_authenticate("alice", "s3cret", outcome), expect_write(reply),
                       feed("MAIL FROM:<a@b>\r\n"), expect_write(auth_required)}));
    }
}

// ---- STARTTLS ----

TEST(smtp_server, starttls_drops_pipelined_bytes_and_forgets_ehlo) {
    EXPECT_TRUE(run_transcript(
        starttls_port(), script{expect_write(greeting)} + ehlo({.starttls = true, .auth = false}) +
                             script{feed_whole("STARTTLS\r\nEHLO x\r\n"),
                                    expect_write("220 2.0.0 Ready to start TLS\r\n"), expect_start_tls(),
                                    // The injected EHLO was never answered; the session starts over.
                                    feed("MAIL FROM:<a@b>\r\n"), expect_write(ehlo_first)} +
                             ehlo() +
                             script{feed("STARTTLS\r\n"), expect_write("503 5.5.1 TLS already active\r\n")}));
}

TEST(smtp_server, starttls_forgets_authentication) {
    EXPECT_TRUE(run_transcript(
        make({.starttls_offered = true, .plaintext_auth_allowed = true}),
        script{expect_write(greeting)} + ehlo({.starttls = true}) +
            script{feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                   expect_authenticate("alice", "s3cret", login_outcome::ok), expect_write(authenticated),
                   feed("STARTTLS\r\n"), expect_write("220 2.0.0 Ready to start TLS\r\n"),
                   expect_start_tls()} +
            ehlo() +
            script{feed("MAIL FROM:<a@b>\r\n"), expect_write(auth_required),
                   feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                   expect_authenticate("alice", "s3cret", login_outcome::ok), expect_write(authenticated)}));
}

TEST(smtp_server, starttls_refusals) {
    EXPECT_TRUE(run_transcript(make({}), {expect_write(greeting), feed("STARTTLS\r\n"),
                                          expect_write("502 5.5.1 STARTTLS not available\r\n")}));
    EXPECT_TRUE(
        run_transcript(starttls_port(), {expect_write(greeting), feed("STARTTLS now\r\n"),
                                         expect_write("501 5.5.4 STARTTLS takes no parameters\r\n")}));
}

// ---- MAIL, RCPT and relay without AUTH ----

TEST(smtp_server, mail_needs_ehlo_and_auth) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        script{expect_write(greeting), feed("MAIL FROM:<a@b>\r\n"), expect_write(ehlo_first)} + ehlo() +
            script{feed("MAIL FROM:<a@b>\r\n"), expect_write(auth_required), feed("RCPT TO:<c@d>\r\n"),
                   expect_write("503 5.5.1 Need MAIL before RCPT\r\n")}));
}

TEST(smtp_server, relay_without_auth_selects_the_account_by_sender) {
    auto relay = make({.relay_allowed = true});
    EXPECT_TRUE(run_transcript(
        relay, script{expect_write(greeting)} + ehlo({.auth = false}) +
                   script{feed("MAIL FROM: <Printer@Example.org>\r\n"),
                          expect_select_account("Printer@Example.org", login_outcome::ok, full_provider),
                          expect_upstream_command("MAIL FROM:<Printer@Example.org>\r\n", mail_ok),
                          expect_write(mail_ok)} +
                   rcpt_to() + quit()));
}

TEST(smtp_server, relay_account_failures) {
    struct want {
        login_outcome outcome;
        std::string reply;
    };
    for (const auto& w : {
             want{login_outcome::bad_credentials,
                  "550 5.7.1 Sender <x@y> is not allowed to send through this gateway\r\n"},
             want{login_outcome::provider_temp,
                  "451 4.4.1 The mail provider is not reachable right now, try again later\r\n"},
             want{login_outcome::provider_perm,
                  "454 4.7.0 The mail provider refused the gateway's login; tell your administrator\r\n"},
         }) {
        EXPECT_TRUE(run_transcript(
            make({.relay_allowed = true}),
            script{expect_write(greeting)} + ehlo({.auth = false}) +
                script{feed("MAIL FROM:<x@y>\r\n"), expect_select_account("x@y", w.outcome),
                       expect_write(w.reply),
                       // No transaction is open: RCPT is out of sequence, and a new MAIL asks again.
                       feed("RCPT TO:<c@d>\r\n"), expect_write("503 5.5.1 Need MAIL before RCPT\r\n"),
                       feed("MAIL FROM:<x@y>\r\n"),
                       expect_select_account("x@y", login_outcome::ok, full_provider),
                       expect_upstream_command("MAIL FROM:<x@y>\r\n", mail_ok), expect_write(mail_ok)}));
    }
}

TEST(smtp_server, mail_and_rcpt_are_re_serialized_and_replies_relayed) {
    const std::string multi = "250-2.1.5 Ok\r\n250-continued\r\n250 2.1.5 really\r\n";
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() +
            script{feed("mail from: <a@example.org>\r\n"),
                   expect_upstream_command("MAIL FROM:<a@example.org>\r\n", mail_ok), expect_write(mail_ok),
                   feed("Rcpt To:<@relay.example:c@example.net>\r\n"),
                   expect_upstream_command("RCPT TO:<c@example.net>\r\n", multi), expect_write(multi),
                   feed("RCPT TO: <d@example.net>\r\n"),
                   expect_upstream_command("RCPT TO:<d@example.net>\r\n",
                                           "550 5.1.1 <d@example.net>: Recipient address rejected\r\n"),
                   expect_write("550 5.1.1 <d@example.net>: Recipient address rejected\r\n")}));
}

TEST(smtp_server, provider_reply_text_is_sanitized) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() +
            script{feed("MAIL FROM:<a@b>\r\n"),
                   expect_upstream_command("MAIL FROM:<a@b>\r\n", std::string("250 ok\x01\x7f\0x\r\n", 12)),
                   expect_write("250 ok   x\r\n")}));
}

TEST(smtp_server, provider_refusing_mail_leaves_no_transaction) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() +
            script{feed("MAIL FROM:<a@b>\r\n"),
                   expect_upstream_command("MAIL FROM:<a@b>\r\n", "553 5.7.1 Sender not owned\r\n"),
                   expect_write("553 5.7.1 Sender not owned\r\n"), feed("RCPT TO:<c@d>\r\n"),
                   expect_write("503 5.5.1 Need MAIL before RCPT\r\n")} +
            mail_from()));
}

TEST(smtp_server, out_of_sequence_commands) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() +
            script{feed("RCPT TO:<c@d>\r\n"), expect_write("503 5.5.1 Need MAIL before RCPT\r\n"),
                   feed("DATA\r\n"), expect_write("503 5.5.1 Need MAIL and RCPT before DATA\r\n")} +
            mail_from() +
            script{feed("DATA\r\n"), expect_write("503 5.5.1 Need MAIL and RCPT before DATA\r\n"),
                   feed("MAIL FROM:<a@b>\r\n"), expect_write("503 5.5.1 Nested MAIL command\r\n"),
                   feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                   expect_write("503 5.5.1 Already authenticated\r\n")} +
            rcpt_to() +
            script{feed("DATA now\r\n"), expect_write("501 5.5.4 DATA takes no parameters\r\n")}));
}

TEST(smtp_server, path_syntax_errors) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() +
            script{feed("MAIL FROM:a@b\r\n"), expect_write("501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
                   feed("MAIL TO:<a@b>\r\n"), expect_write("501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
                   feed("MAIL FROM:<a@b> SIZE=12x\r\n"), expect_write("501 5.5.4 Bad SIZE\r\n")} +
            mail_from() +
            script{feed("RCPT TO:<>\r\n"), expect_write("501 5.5.4 Syntax: RCPT TO:<address>\r\n"),
                   feed("RCPT TO:c@d\r\n"), expect_write("501 5.5.4 Syntax: RCPT TO:<address>\r\n")}));
}

TEST(smtp_server, null_sender_is_forwarded) {
    EXPECT_TRUE(run_transcript(implicit_tls(), logged_in() + mail_from("")));
}

TEST(smtp_server, rset_resets_both_sides_and_ehlo_too) {
    EXPECT_TRUE(run_transcript(
        implicit_tls(),
        logged_in() + mail_from() +
            script{feed("RSET\r\n"), expect_upstream_command("RSET\r\n", "250 2.0.0 Ok\r\n"),
                   expect_write("250 2.0.0 Ok\r\n"), feed("RCPT TO:<c@d>\r\n"),
                   expect_write("503 5.5.1 Need MAIL before RCPT\r\n")} +
            mail_from() +
            // EHLO inside a transaction resets the provider's half too; the provider's RSET reply is not
            // shown.
            script{feed("EHLO pc.lan\r\n"), expect_upstream_command("RSET\r\n", "250 2.0.0 Ok\r\n"),
                   expect_write(ehlo_reply())} +
            mail_from() +
            script{feed("HELO pc.lan\r\n"), expect_upstream_command("RSET\r\n", "250 2.0.0 Ok\r\n"),
                   expect_write("250 gw.lan\r\n")} +
            mail_from()));
}

// ---- MAIL/RCPT parameters ----

// `mail_line` from the client is forwarded as `upstream` (or refused with `refusal`), given `provider`.
script mail_with(std::string mail_line, std::vector<std::string> provider, std::string upstream,
                 std::string refusal = {}) {
    script s = logged_in(std::move(provider));
    s.push_back(feed(mail_line));
    if (refusal.empty()) {
        s.push_back(expect_upstream_command(upstream, mail_ok));
        s.push_back(expect_write(mail_ok));
    } else {
        s.push_back(expect_write(refusal));
    }
    return s;
}

TEST(smtp_server, size_parameter) {
    EXPECT_TRUE(run_transcript(implicit_tls(), mail_with("MAIL FROM:<a@b> SIZE=1000\r\n", full_provider,
                                                         "MAIL FROM:<a@b> SIZE=1000\r\n")));
    // Dropped when the provider does not know SIZE.
    EXPECT_TRUE(run_transcript(
        implicit_tls(), mail_with("MAIL FROM:<a@b> SIZE=1000\r\n", bare_provider, "MAIL FROM:<a@b>\r\n")));
    // Over our limit: refused here, nothing forwarded, and the client may try again.
    EXPECT_TRUE(
        run_transcript(make({.tls_active = true, .max_message_size = 1000}),
                       script{expect_write(greeting)} + ehlo({.size = 1000}) +
                           script{feed("AUTH PLAIN " + std::string(plain_alice) + "\r\n"),
                                  expect_authenticate("alice", "s3cret", login_outcome::ok, full_provider),
                                  expect_write(authenticated), feed("MAIL FROM:<a@b> SIZE=1001\r\n"),
                                  expect_write(too_big), feed("MAIL FROM:<a@b> SIZE=1000\r\n"),
                                  expect_upstream_command("MAIL FROM:<a@b> SIZE=1000\r\n", mail_ok),
                                  expect_write(mail_ok)}));
}

TEST(smtp_server, body_smtputf8_and_dsn_need_the_provider) {
    struct c {
        std::string client, forwarded, refusal;
    };
    for (const auto& k : {
             c{"MAIL FROM:<a@b> BODY=8BITMIME\r\n", "MAIL FROM:<a@b> BODY=8BITMIME\r\n",
               "555 5.6.3 BODY=8BITMIME is not supported by the mail provider\r\n"},
             c{"MAIL FROM:<a@b> SMTPUTF8\r\n", "MAIL FROM:<a@b> SMTPUTF8\r\n",
               "555 5.6.7 The mail provider does not support SMTPUTF8\r\n"},
             c{"MAIL FROM:<j\xc3\xb6rg@b> SMTPUTF8\r\n", "MAIL FROM:<j\xc3\xb6rg@b> SMTPUTF8\r\n",
               "555 5.6.7 The mail provider does not support SMTPUTF8\r\n"},
             c{"MAIL FROM:<a@b> RET=HDRS\r\n", "MAIL FROM:<a@b> RET=HDRS\r\n",
               "555 5.5.4 The mail provider does not support DSN (RET)\r\n"},
             c{"MAIL FROM:<a@b> ENVID=QQ314159\r\n", "MAIL FROM:<a@b> ENVID=QQ314159\r\n",
               "555 5.5.4 The mail provider does not support DSN (ENVID)\r\n"},
         }) {
        SCOPED_TRACE(k.client);
        EXPECT_TRUE(run_transcript(implicit_tls(), mail_with(k.client, full_provider, k.forwarded)));
        EXPECT_TRUE(run_transcript(implicit_tls(), mail_with(k.client, bare_provider, {}, k.refusal)));
    }
    // 7BIT is always fine.
    EXPECT_TRUE(run_transcript(implicit_tls(), mail_with("MAIL FROM:<a@b> BODY=7BIT\r\n", bare_provider,
                                                         "MAIL FROM:<a@b> BODY=7BIT\r\n")));
}

TEST(smtp_server, rcpt_dsn_parameters_need_the_provider) {
    for (std::string param : {"NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;c@d"}) {
        std::string line = "RCPT TO:<c@d> " + param + "\r\n";
        std::string keyword = param.substr(0, param.find('='));
        EXPECT_TRUE(
            run_transcript(implicit_tls(), logged_in() + mail_from() +
                                               script{feed(line), expect_upstream_command(line, rcpt_ok),
                                                      expect_write(rcpt_ok)}));
        EXPECT_TRUE(run_transcript(
            implicit_tls(),
            logged_in(bare_provider) + mail_from() +
                script{feed(line), expect_write("555 5.5.4 The mail provider does not support DSN (" +
                                                keyword + ")\r\n")}));
    }
}

TEST(smtp_server, auth_parameter_is_dropped_and_unknown_ones_refused) {
    EXPECT_TRUE(run_transcript(implicit_tls(), mail_with("MAIL FROM:<a@b> AUTH=<> BODY=7BIT\r\n",
                                                         full_provider, "MAIL FROM:<a@b> BODY=7BIT\r\n")));
    EXPECT_TRUE(run_transcript(implicit_tls(), mail_with("MAIL FROM:<a@b> X-FOO=1\r\n", full_provider, {},
                                                         "555 5.5.4 Unsupported parameter X-FOO\r\n")));
    for (std::string param : {"SIZE=1", "AUTH=<>", "BODY=7BIT", "X-FOO"}) {
        std::string keyword = param.substr(0, param.find('='));
        EXPECT_TRUE(run_transcript(
            implicit_tls(), logged_in() + mail_from() +
                                script{feed("RCPT TO:<c@d> " + param + "\r\n"),
                                       expect_write("555 5.5.4 Unsupported parameter " + keyword + "\r\n")}));
    }
}

TEST(smtp_server, non_ascii_addresses_need_smtputf8) {
    EXPECT_TRUE(run_transcript(implicit_tls(), mail_with("MAIL FROM:<j\xc3\xb6rg@b>\r\n", full_provider, {},
                                                         "553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n")));
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               logged_in() + mail_from() +
                                   script{feed("RCPT TO:<j\xc3\xb6rg@b>\r\n"),
                                          expect_write("553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n")}));
    EXPECT_TRUE(run_transcript(implicit_tls(), mail_with("MAIL FROM:<a@b> SMTPUTF8\r\n", full_provider,
                                                         "MAIL FROM:<a@b> SMTPUTF8\r\n") +
                                                   rcpt_to("j\xc3\xb6rg@b")));
}

TEST(smtp_server, at_most_100_recipients) {
    script s = logged_in() + mail_from();
    for (int i = 0; i < 100; ++i) s = s + rcpt_to("r" + std::to_string(i) + "@x");
    // A refused recipient does not count.
    s = s + script{feed("RCPT TO:<r100@x>\r\n"), expect_write("452 4.5.3 Too many recipients\r\n"),
                   feed("RCPT TO:<r101@x>\r\n"), expect_write("452 4.5.3 Too many recipients\r\n")};
    s = s + data_accepted();
    EXPECT_TRUE(run_transcript(implicit_tls(), s));
}

TEST(smtp_server, refused_recipients_do_not_count) {
    const std::string refused = "550 5.1.1 unknown\r\n";
    EXPECT_TRUE(run_transcript(
        make({.tls_active = true, .max_recipients = 1}),
        logged_in() + mail_from() +
            script{feed("RCPT TO:<x@y>\r\n"), expect_upstream_command("RCPT TO:<x@y>\r\n", refused),
                   expect_write(refused), feed("DATA\r\n"),
                   expect_write("503 5.5.1 Need MAIL and RCPT before DATA\r\n")} +
            rcpt_to() +
            script{feed("RCPT TO:<z@y>\r\n"), expect_write("452 4.5.3 Too many recipients\r\n")}));
}

// ---- Bad input ----

TEST(smtp_server, over_long_line_is_refused_and_skipped) {
    const std::string too_long = "500 5.5.2 Line too long\r\n";
    std::string line(600, 'A');
    // Cut when 512 octets are buffered without a line end.
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed(line.substr(0, 512)),
                                                expect_write(too_long), feed(line.substr(512) + "\r\n"),
                                                feed("NOOP\r\n"), expect_write("250 2.0.0 OK\r\n")}));
    // The whole line and the next command in one read.
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed_whole(line + "\r\nNOOP\r\n"),
                                                expect_write(too_long), expect_write("250 2.0.0 OK\r\n")}));
    // 512 octets with CRLF are fine, 513 are not.
    EXPECT_TRUE(run_transcript(implicit_tls(),
                               {expect_write(greeting), feed("NOOP " + std::string(505, 'x') + "\r\n"),
                                expect_write("250 2.0.0 OK\r\n"),
                                feed("NOOP " + std::string(506, 'x') + "\r"), expect_write(too_long),
                                feed("\n"), feed("NOOP\r\n"), expect_write("250 2.0.0 OK\r\n")}));
}

TEST(smtp_server, too_many_errors_close) {
    script s{expect_write(greeting)};
    for (int i = 0; i < 19; ++i) s = s + script{feed("XYZZY\r\n"), expect_write(unrecognized)};
    s = s + script{feed("XYZZY\r\n"),
                   expect_write(unrecognized + "421 4.7.0 Too many errors, closing connection\r\n"),
                   expect_close(session_errc::too_many_failures)};
    EXPECT_TRUE(run_transcript(implicit_tls(), s));
}

TEST(smtp_server, control_bytes_close) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed(std::string("NOOP\0\r\n", 7)),
                                                expect_write("500 5.5.2 Invalid characters in command\r\n"),
                                                expect_close(session_errc::garbage)}));
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed("EHLO \x1b[31m\r\n"),
                                                expect_write("500 5.5.2 Invalid characters in command\r\n"),
                                                expect_close(session_errc::garbage)}));
}

TEST(smtp_server, bare_lf_in_a_command_closes) {
    EXPECT_TRUE(run_transcript(implicit_tls(), {expect_write(greeting), feed_whole("NOOP\nNOOP\r\n"),
                                                expect_write("500 5.5.2 Lines must end with CRLF\r\n"),
                                                expect_close(session_errc::garbage)}));
}

TEST(smtp_server, tls_hello_on_plaintext_closes_silently) {
    EXPECT_TRUE(run_transcript(starttls_port(), {expect_write(greeting), feed_whole("\x16\x03\x01\x02\x05"),
                                                 expect_close(session_errc::tls_on_plaintext)}));
}

} // namespace
} // namespace mailgate::protocols::smtp
