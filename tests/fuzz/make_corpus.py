#!/usr/bin/env python3
# Writes the seed corpora tests/fuzz/corpus/<codec>/ from the transcripts below. Run it after changing them.
#
# The fuzzers read their input with FuzzedDataProvider: peer bytes from the front, everything else (setup bits,
# the size of each read, answers such as login outcomes and provider replies) one byte at a time from the back.
# A seed is therefore the transcript's bytes followed by a trailer holding those control bytes in reverse order
# of use. Read sizes: 1..127 that many bytes, 0 everything left (see read_size() in fuzz_common.cpp).
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def seed(setup, steps):
    """setup: control bytes used first; steps in order of use: ("r", bytes) a read, ("a", n) an answer,
    ("t", bytes) text taken from the front with its length from the back (live_source::take_text), ("m", bytes)
    the same with a two-byte length (ConsumeIntegralInRange up to 1024: the POP3 maildrop's messages)."""
    front = b""
    used = list(setup)
    for kind, value in steps:
        if kind == "t":
            front += value.encode("latin-1")
            used.append(len(value))
        elif kind == "m":
            front += value.encode("latin-1")
            used += [len(value) >> 8, len(value) & 0xFF]
        elif kind == "r":
            data = value.encode("latin-1") if isinstance(value, str) else value
            while data:  # reads over 127 bytes are split
                piece, data = data[:127], data[127:]
                front += piece
                used.append(len(piece))
        else:
            used.append(value)
    return front + bytes(reversed(used))


def raw(text):
    return text.encode("latin-1") if isinstance(text, str) else text


def r(text):
    return ("r", text)


def a(n):
    return ("a", n)


def lines(*items):
    return [r(x) for x in items]


PLAIN_ALICE = "AGFsaWNlAHMzY3JldA=="  # base64("\0alice\0s3cret")

corpora = {}

# ---- POP3 server: setup bits 1 implicit TLS, 2 STLS offered, 4 plaintext login allowed, 8/16 max failures - 1,
# 32 short line limit. Answer at authenticate: outcome % 4 (0 ok, 1 bad credentials, 2 temp, 3 perm).
corpora["pop3_server"] = {
    "user_pass": seed([4], lines("CAPA\r\n", "USER alice\r\n", "PASS s3cret\r\n") + [a(0), r("STAT\r\n")]),
    "stls_then_sasl": seed([2 | 16], lines("CAPA\r\n", "STLS\r\n", "CAPA\r\n", "AUTH PLAIN " + PLAIN_ALICE + "\r\n")
                           + [a(1)] + lines("AUTH LOGIN\r\n", "YWxpY2U=\r\n", "czNjcmV0\r\n") + [a(0)]),
    "stls_pipelined": seed([2], lines("STLS\r\nUSER mallory\r\n", "PASS x\r\n", "QUIT\r\n")),
    "implicit_pipelined": seed([1], [r("USER alice\r\nPASS s3cret\r\nSTAT\r\nLIST\r\n"), a(0)]),
    "refusals": seed([0], lines("USER alice\r\n", "AUTH\r\n", "AUTH CRAM-MD5\r\n", "AUTH PLAIN\r\n", "NOOP\r\n",
                                "STLS\r\n", "QUIT\r\n")),
    "failures": seed([4 | 8], lines("USER a\r\n", "PASS b\r\n") + [a(1)] + lines("AUTH PLAIN\r\n", "*\r\n",
                     "AUTH PLAIN =\r\n", "USER a\r\n", "PASS c\r\n") + [a(1)]),
    "long_line": seed([4 | 32], lines("USER " + "x" * 40 + "\r\n", "QUIT\r\n")),
    "tls_hello": seed([0], [r(b"\x16\x03\x01\x00\x05hello")]),
}

# ---- POP3 maildrop: setup bits 1|2 message count, 4 short lines, 8 an invalid UIDL, 16 the first size off by
# one; then the chunking (0 whole, n: chunks of 1..n bytes); then each message's text (length in two bytes).
# Answers: at a message's first retrieve (& 7 == 7 fails, after (next answer) % (length + 1) bytes); commit & 1
# (0 ok).
def maildrop(bits, chunking, texts, steps):
    return seed([bits, chunking], [("m", text) for text in texts] + steps)


corpora["pop3_maildrop"] = {
    "retr_top_dele_quit": maildrop(3, 5, ["Subject: a\r\n\r\n.dot\r\nbody\r\n", "A: b\n\nline\rbare cr\n",
                                          "no final line end"],
                                   lines("CAPA\r\nSTAT\r\nLIST\r\nUIDL\r\n", "RETR 1\r\n") + [a(0)]
                                   + [r("TOP 2 1\r\n"), a(0)] + lines("DELE 1\r\n", "RSET\r\n", "DELE 3\r\n")
                                   + [r("QUIT\r\n"), a(0)]),
    "provider_fails": maildrop(1, 3, ["Subject: x\r\n\r\nhello\r\n"], [r("RETR 1\r\nSTAT\r\n"), a(7), a(10)]),
    "fails_before_bytes": maildrop(1, 0, ["Subject: x\r\n\r\nhello\r\n"], [r("TOP 1 0\r\n"), a(7), a(0)]),
    "commit_fails": maildrop(2, 0, ["a\r\n", "b\r\n"], [r("DELE 1\r\nDELE 2\r\nQUIT\r\n"), a(1)]),
    "bad_arguments": maildrop(1, 0, ["x"], lines("RETR 0\r\n", "TOP 1\r\n", "LIST 1 2\r\n", "STAT \r\n",
                                                 "USER a\r\n", "XYZ\r\n", "DELE 1\r\n")),
    "short_lines": maildrop(4 | 1, 1, ["x\r\n"], lines("LIST 1\r\n", "UIDL 1 2 3 4 5 6 7 8 9\r\n")),
    "size_off": maildrop(16 | 1, 2, ["line\nline\n"], [r("RETR 1\r\n"), a(0), r("QUIT\r\n")]),
    "bad_uidl": maildrop(8 | 1, 0, ["x"], lines("STAT\r\n")),
}

# ---- IMAP server: setup bits as POP3 (32: small max_command). Answer: outcome % 4, provider capability list
# (answer >> 2) % 4.
corpora["imap_server"] = {
    "login": seed([4], lines("a1 CAPABILITY\r\n", 'a2 ID ("name" "Thunderbird" "version" "115")\r\n',
                             "a3 LOGIN alice s3cret\r\n") + [a(4)]),
    "literals": seed([4 | 16], lines("a1 LOGIN {5}\r\n", "alice {6}\r\n", "s3cret\r\n") + [a(1)]
                     + [r('a2 LOGIN {5+}\r\nalice "s3cret"\r\n'), a(8)]),
    "starttls_authenticate": seed([2 | 16], lines("a1 CAPABILITY\r\n", "a2 STARTTLS\r\n", "a3 CAPABILITY\r\n",
                                             "a4 AUTHENTICATE PLAIN\r\n", PLAIN_ALICE + "\r\n") + [a(12)]),
    "logindisabled": seed([0], lines("a1 LOGIN alice s3cret\r\n", "a2 LOGIN {5}\r\n",
                                     "a3 AUTHENTICATE PLAIN " + PLAIN_ALICE + "\r\n", "a4 NOOP\r\n",
                                     "a5 STARTTLS\r\n", "a6 LOGOUT\r\n")),
    "implicit_sasl": seed([1 | 16], lines("a1 AUTHENTICATE LOGIN\r\n", "YWxpY2U=\r\n", "*\r\n",
                                     "a2 AUTHENTICATE PLAIN " + PLAIN_ALICE + "\r\n") + [a(2)]
                          + [r('a3 LOGIN "al\\"ice" s3cret\r\na4 SELECT INBOX\r\n'), a(0)]),
    "bad_input": seed([4], lines("* LOGIN a b\r\n", "a1 LOGIN \"unterminated\r\n", "a2 FOO\r\n",
                                 "a3 LOGIN {x}\r\n")),
    "small_limit": seed([4 | 32], lines("a1 LOGIN {80}\r\n")),
}

# ---- IMAP command reader: setup bits 3 limit (64 KiB, 16, 100, 1000), 4 no round trip, 8 LITERAL+ encoding.
corpora["imap_command_reader"] = {
    "mixed": seed([0], [r('a1 LOGIN {5}\r\nalice {6}\r\ns3cret\r\na2 ID ("name" "x" "version" NIL)\r\n'
                          "a3 AUTHENTICATE PLAIN {20+}\r\n" + PLAIN_ALICE + "\r\n")]),
    "quoted_in_pieces": seed([8], lines('a1 LOG', 'IN "quo\\"t', 'ed" "back\\\\sl', 'ash"\r\n')),
    "literal_too_long": seed([1], lines("a1 LOGIN {100}\r\n")),
    "bad_literals": seed([0], lines("a1 LOGIN {99999999999999999999}\r\n")),
    "bad_literal_digits": seed([0], lines("a1 LOGIN {12a}\r\n")),
    "bare_lf": seed([0], lines("a1 NOOP\r\na2 NOOP\n")),
    "8bit_and_lists": seed([3], lines("t1 LOGIN j\xfcrgen (a b) \"\"\r\n", "t2 X {0}\r\n\r\n")),
}

# ---- SMTP server: two setup bytes, the last one high: bits 1 STARTTLS offered, 2 plaintext AUTH allowed,
# 4 relay without AUTH, 8 implicit TLS, 0x30 size limit, 0xc0 recipients, 0x300 AUTH failures, 0x400 few errors,
# 0x800 short lines. Answers: authenticate/select outcome % 4 and EHLO set (>> 2) % 5; upstream commands first a
# failure check (& 15 == 15 fails), then the reply (& 7 code, lines, 0x40 any code, 0x80 text from the front);
# DATA chunks a failure check (& 31 == 31 fails).
def smtp(bits, steps):
    return seed([bits >> 8, bits & 0xFF], steps)


def up(reply=0):
    return [a(0), a(reply)]


corpora["smtp_server"] = {
    "auth_and_message": smtp(8, lines("EHLO pc.lan\r\n", "AUTH PLAIN " + PLAIN_ALICE + "\r\n") + [a(4)]
                             + [r("MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME\r\n")] + up()
                             + [r("RCPT TO:<c@example.net> NOTIFY=SUCCESS\r\n")] + up()
                             + [r("DATA\r\n")] + up() + [r("Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n"), a(0)]
                             + up() + [r("QUIT\r\n")]),
    "starttls_auth_login": smtp(1, lines("EHLO pc\r\n", "STARTTLS\r\n", "EHLO pc\r\n", "AUTH LOGIN\r\n",
                                         "YWxpY2U=\r\n", "czNjcmV0\r\n") + [a(0)]
                                + lines("MAIL FROM:<a@b> BODY=8BITMIME\r\n", "QUIT\r\n")),
    "relay_smuggling": smtp(4, lines("HELO printer\r\n", "MAIL FROM:<scanner@example.org>\r\n") + [a(4)] + up()
                            + [r("RCPT TO:<x@example.net>\r\n")] + up() + [r("DATA\r\n")] + up()
                            + lines("line one\nbare lf\r\n.\r\n", "RSET\r\n", "QUIT\r\n")),
    "pipelined": smtp(8, [r("EHLO x\r\nAUTH PLAIN " + PLAIN_ALICE + "\r\n"), a(4),
                          r("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")] + up() + up() + up()
                      + [r("hello\r\n.\r\nQUIT\r\n"), a(0)] + up()),
    "errors": smtp(0x400, lines("MAIL FROM:<a@b>\r\n", "EHLO\r\n", "EHLO pc\r\n", "AUTH PLAIN\r\n", "BDAT 10\r\n",
                                "VRFY x\r\n", "XYZZY\r\n", "DATA\r\n")),
    "too_big": smtp(8 | (2 << 4), lines("EHLO x\r\n", "AUTH PLAIN " + PLAIN_ALICE + "\r\n") + [a(0)]
                    + [r("MAIL FROM:<a@b> SIZE=5\r\n"), r("MAIL FROM:<a@b>\r\n")] + up() + [r("RCPT TO:<c@d>\r\n")]
                    + up() + [r("DATA\r\n")] + up() + lines("0123456789abcdef\r\n.\r\n", "QUIT\r\n")),
    "provider_fails_in_data": smtp(8, lines("EHLO x\r\n", "AUTH PLAIN " + PLAIN_ALICE + "\r\n") + [a(4)]
                                   + [r("MAIL FROM:<a@b>\r\n")] + up() + [r("RCPT TO:<c@d>\r\n")] + up()
                                   + [r("DATA\r\n")] + up() + [r("first part\r\n"), a(31)]
                                   + lines("second part\r\n.\r\n", "QUIT\r\n")),
    "refused_replies": smtp(8, lines("EHLO x\r\n", "AUTH PLAIN " + PLAIN_ALICE + "\r\n") + [a(0)]
                            + [r("MAIL FROM:<a@b>\r\n")] + up(2) + [r("MAIL FROM:<a@b>\r\n"), a(15)]
                            + [r("MAIL FROM:<a@b>\r\n")] + up() + [r("RCPT TO:<c@d>\r\n")] + up(3)
                            + [r("EHLO again\r\n")] + up() + [r("QUIT\r\n")]),
}

# ---- SMTP DATA decoder: setup bytes: bits (7 size limit index, 8 abandon), then the piece to abandon before.
corpora["smtp_data_decoder"] = {
    "message": seed([0, 0], lines("From: a@example.org\r\nSubject: hi\r\n\r\n..stuffed\r\nbody\r\n.\r\nQUIT\r\n")),
    "bare_lf": seed([0, 0], lines("a\nb\r\n.\r\n")),
    "bare_cr": seed([0, 0], lines("a\rb\r\n.\r\nafter")),
    "lf_terminators": seed([0, 0], lines("data\r\n\n.\r\nMAIL FROM:<x@y>\r\n\r\n.\r\n")),
    "bytewise_small_limit": seed([4, 0], [r(c) for c in "1234\r\n..\r\n56\r\n.\r\n"]),
    "abandoned": seed([8, 2], lines("line 1\r\n", "line 2\r", "\n.\r\n")),
    "empty": seed([2, 0], lines(".\r\n")),
}

# ---- SMTP command: a client line as is.
corpora["smtp_command"] = {
    "mail_params": raw("MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME SMTPUTF8"),
    "mail_space": raw("MAIL FROM: <a@example.org> RET=HDRS ENVID=QQ314159"),
    "null_path": raw("MAIL FROM:<>"),
    "rcpt_dsn": raw("RCPT TO:<c@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@example.net"),
    "source_route": raw("RCPT TO:<@relay.example,@b.example:user@c.example>"),
    "utf8": raw("MAIL FROM:<j\xc3\xbcrgen@example.org> SMTPUTF8"),
    "bad": raw("MAIL FROM:<a b@c> X=\x01"),
}

# ---- SASL: mode byte (% 3): 0 server side (per exchange: bits 1 LOGIN, 2 initial response; strings from the
# front, each ended by a backslash and one more byte), 1 client encoding read back, 2 base64.
corpora["sasl"] = {
    "plain_initial": raw(PLAIN_ALICE + "\\ ") + bytes([2, 0]),
    "plain_challenge": raw("\\ " + PLAIN_ALICE + "\\ ") + bytes([0, 0]),
    "login_steps": raw("YWxpY2U=\\ czNjcmV0\\ ") + bytes([1, 0]),
    "login_cancel": raw("YWxpY2U=\\ *\\ ") + bytes([3, 0]),
    "authzid": raw("Ym9iAGFsaWNlAHMzY3JldA==\\ ") + bytes([2, 0]),
    "client": raw("alice@example.org\\ s3cret with spaces") + bytes([1]),
    "base64": raw("AGFsaWNlAHMzY3JldA==") + bytes([2]),
    "base64_noncanonical": raw("QR==") + bytes([2]),
}

# ---- Client codecs: setup answers: TLS mode (& 1: STARTTLS), credential (index % 8 into stored_credentials,
# 0x80: arbitrary bytes from the front; 0x40 an OAuth2 token, 0x20 OAUTHBEARER, 0x10 with host and port, 0x48 a
# 2 KB token), short line limit (& 1). After `done`: POP3/IMAP & 1 logs out; SMTP & 3:
# 0 stop, 1 logout, 2-3 transact(line (>> 2) % 6: MAIL, RCPT, DATA, message, "", RSET).
def client(mode, cred, steps):
    return seed([mode, cred, 0], steps)


corpora["pop3_client"] = {
    "implicit_sasl": client(0, 0, lines("+OK POP3 ready\r\n", "+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n",
                                        "+OK Logged in.\r\n") + [a(1), r("+OK bye\r\n")]),
    "starttls_user_pass": client(1, 1, lines("+OK ready\r\n", "+OK\r\nSTLS\r\nUSER\r\n.\r\n", "+OK Begin TLS\r\n",
                                             "+OK\r\nUSER\r\n.\r\n", "+OK\r\n", "+OK maildrop locked\r\n")),
    "starttls_injection": client(1, 0, lines("+OK ready\r\n", "+OK\r\nSTLS\r\n.\r\n", "+OK go\r\n+OK injected\r\n")),
    "no_capa_rejected": client(0, 0, lines("+OK\r\n", "-ERR no CAPA\r\n", "+OK\r\n",
                                           "-ERR [AUTH] invalid password s3cret\r\n")),
    "temp_failure": client(0, 1, lines("+OK\r\n", "+OK\r\nSASL PLAIN\r\n.\r\n",
                                       "-ERR [SYS/TEMP] try later\r\n")),
    "unencodable": client(0, 5, lines("+OK\r\n", "+OK\r\nUSER\r\n.\r\n")),
    # A long credential from the input: AUTH PLAIN without its initial response, which follows the "+ ".
    "held_response": seed([0, 0x80], [("t", "u" * 100), ("t", "s" * 100), a(0)]
                          + lines("+OK\r\n", "+OK\r\nSASL PLAIN\r\n.\r\n", "+ \r\n", "+OK\r\n")),
}

corpora["imap_client"] = {
    "implicit_sasl_ir": client(0, 0, lines("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n",
                                           "a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n")
                               + [a(1), r("* BYE\r\na2 OK LOGOUT\r\n")]),
    "starttls_authenticate": client(1, 0, lines("* OK ready\r\n",
                                                "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK\r\n",
                                                "a2 OK begin\r\n", "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na3 OK\r\n",
                                                "+ \r\n", "a4 OK done\r\n", "* CAPABILITY IMAP4rev1 IDLE\r\na5 OK\r\n")),
    "login_literal": client(0, 5, lines("* OK [CAPABILITY IMAP4rev1] hi\r\n", "+ go\r\n",
                                        "a1 NO [AUTHENTICATIONFAILED] bad\r\n")),
    "login_literal_plus": client(0, 3, lines("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n",
                                             "a1 OK [CAPABILITY IMAP4rev1 MOVE] hi\r\n")),
    "preauth": client(0, 0, lines("* PREAUTH welcome\r\n")),
    "bye": client(1, 0, lines("* OK hi\r\n", "* BYE going away\r\n")),
    "unavailable": client(0, 1, lines("* OK [CAPABILITY IMAP4rev1] hi\r\n",
                                      "a1 NO [UNAVAILABLE] later correct horse battery staple\r\n")),
}

corpora["smtp_client"] = {
    "implicit_transactions": client(0, 0, lines("220 mx ESMTP\r\n",
                                                "250-mx\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000\r\n",
                                                "235 2.7.0 ok\r\n") + [a(2), r("250 ok\r\n"), a(6), r("250 ok\r\n"),
                                                                      a(10), r("354 go\r\n"), a(14),
                                                                      r("250 queued\r\n"), a(1), r("221 bye\r\n")]),
    "starttls_auth_login": client(1, 0, lines("220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "220 go\r\n",
                                              "250-mx\r\n250 AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n",
                                              "334 UGFzc3dvcmQ6\r\n", "235 ok\r\n")),
    "starttls_injection": client(1, 0, lines("220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "220 go\r\n250 injected\r\n")),
    "rejected_echo": client(0, 0, lines("220 mx\r\n", "250-mx\r\n250 AUTH PLAIN\r\n",
                                        "535 5.7.8 password s3cret rejected\r\n")),
    "app_password": client(0, 1, lines("220 mx\r\n", "250-mx\r\n250 AUTH=PLAIN LOGIN\r\n",
                                       "534-5.7.9 Application-specific password required\r\n534 5.7.9 see help\r\n")),
    "no_auth": client(0, 0, lines("220 mx\r\n", "250-mx\r\n250 8BITMIME\r\n")),
    "greeting_refused": client(0, 0, lines("554 no service\r\n")),
    # A long credential: AUTH PLAIN over 512 octets goes without its initial response, sent after the 334.
    "held_response": seed([0, 0x80], [("t", "u" * 200), ("t", "s" * 200), a(0)]
                          + lines("220 mx\r\n", "250-mx\r\n250 AUTH PLAIN\r\n", "334 \r\n", "235 ok\r\n")),
}


# ---- IMAP mailbox client: setup bytes: bits (1 UIDPLUS, 8 spelled "UidPlus", 2 max_set 1 + (next byte) % 48, 4
# short lines and responses), then that byte. Then the operations, each an answer (% 8: 0 stop, 1 select, 2
# fetch_sizes, 3 fetch_message_ids, 4 fetch_message, 5 delete_messages, 6 append, 7 logout) with its own answers,
# then the reads it needs. Folder: & 0x80 text from the front, else an index into the harness's table (0 INBOX,
# 1 Sent, 2 [Gmail]/Sent Mail, 5 8-bit). UID: & 0x80 entries()[n % count], & 0x40 near 2^32, else & 0x3f. UID
# lists: a count (< 24) and that many UIDs, or 0x80 | step - 1 << 5 | n: n * 64 UIDs from the next UID on.
# fetch_message: UID, then bits 0-2 size (index: 0, 500, 999, 1000, 2500, 100000, 250000; 7 the entry's), 8
# mark_seen, (TOP lines + 1) << 4. append: folder, size (index: 0, 1, 5, 100, 65536, 2^40, 2^64 - 1).
def mailbox(bits, steps, set_limit=0):
    return seed([bits, set_limit], steps)


def lit(text, marker="{%d}"):
    return (marker % len(text)) + "\r\n" + text


def uid_sets(uids, max_set):
    """The UID sets mailbox_client writes for `uids` (sorted, ranges merged, split at max_set octets)."""
    uids = sorted(set(uids))
    sets, current, i = [], "", 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        piece = str(uids[i]) + (":" + str(uids[j]) if j > i else "")
        if current and len(current) + 1 + len(piece) > max_set:
            sets.append(current)
            current = ""
        current += ("," if current else "") + piece
        i = j + 1
    return sets + ([current] if current else [])


DOVECOT_SELECT = ("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                  "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
                  "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1712345678] UIDs valid\r\n"
                  "* OK [UIDNEXT 10] Predicted next UID\r\n"
                  "m1 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n")
GMAIL_SELECT = ("* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $NotPhishing $Phishing)\r\n"
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $NotPhishing $Phishing \\*)] "
                "Flags permitted.\r\n* OK [UIDVALIDITY 3] UIDs valid.\r\n* 4 EXISTS\r\n* 0 RECENT\r\n"
                "* OK [UIDNEXT 210] Predicted next UID.\r\n* OK [HIGHESTMODSEQ 1234567]\r\n"
                "m1 OK [READ-WRITE] [Gmail]/Sent Mail selected. (Success)\r\n")
MESSAGE = ("Return-Path: <alice@example.org>\r\nMessage-ID: <20240405.1@mail.example.org>\r\n"
           "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Minutes\r\n\r\n"
           "Hello Bob,\r\n.a line with a dot\r\n\r\n-- \r\nAlice\r\n")
HEADER = "From: Carol <carol@example.org>\r\nSubject: a long report\r\nContent-Type: text/plain\r\n\r\n"

corpora["imap_mailbox_client"] = {
    # The POP3-from-IMAP session at Dovecot: SELECT, sizes (one \Deleted left out), Message-IDs, RETR, TOP 2 of a
    # long message (header and partial text), DELE with UIDPLUS, LOGOUT.
    "dovecot_pop3_session": mailbox(1, [
        a(1), a(0), r(DOVECOT_SELECT),
        a(2), r("* 1 FETCH (UID 4 RFC822.SIZE 1523 FLAGS (\\Seen))\r\n"
                "* 2 FETCH (UID 6 RFC822.SIZE 99 FLAGS (\\Deleted \\Seen))\r\n"
                "* 3 FETCH (UID 9 RFC822.SIZE 250000 FLAGS ())\r\nm2 OK Fetch completed (0.001 + 0.000 secs).\r\n"),
        a(3), a(2), a(0x80), a(0x81),
        r("* 1 FETCH (UID 4 BODY[HEADER.FIELDS (MESSAGE-ID)] " + lit("Message-ID: <20240405.1@mail.example.org>\r\n\r\n")
          + ")\r\n* 3 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID)] " + lit("Message-Id:\r\n <folded.2@example.net>\r\n\r\n")
          + ")\r\nm3 OK Fetch completed.\r\n"),
        a(4), a(0x80), a(7), r("* 1 FETCH (UID 4 BODY[] " + lit(MESSAGE) + ")\r\nm4 OK Fetch completed.\r\n"),
        a(4), a(0x81), a(0x37), r("* 3 FETCH (UID 9 BODY[HEADER] " + lit(HEADER) + " BODY[TEXT]<0> "
                                  + lit("line one\r\nline two\r\n") + ")\r\nm5 OK Fetch completed.\r\n"),
        a(5), a(1), a(0x80), r("m6 OK Store completed.\r\n"), r("* 1 EXPUNGE\r\nm7 OK Expunge completed.\r\n"),
        a(7), r("* BYE Logging out\r\nm8 OK Logout completed.\r\n")]),
    # Without UIDPLUS: STORE, UID SEARCH DELETED, EXPUNGE when only ours are \Deleted; deferred when another is.
    "no_uidplus_delete": mailbox(0, [
        a(1), a(2), r(GMAIL_SELECT),
        a(2), r("* 1 FETCH (UID 201 RFC822.SIZE 4242 FLAGS (\\Seen))\r\n* 2 FETCH (UID 202 RFC822.SIZE 1200 FLAGS ())\r\n"
                "* 3 FETCH (UID 205 RFC822.SIZE 880 FLAGS (\\Seen \\Flagged))\r\n"
                "* 4 FETCH (UID 209 RFC822.SIZE 31000 FLAGS ())\r\nm2 OK Success\r\n"),
        a(5), a(2), a(0x80), a(0x82), r("m3 OK Success\r\n"), r("* SEARCH 201 205\r\nm4 OK SEARCH completed (Success)\r\n"),
        r("* 1 EXPUNGE\r\n* 2 EXPUNGE\r\nm5 OK Success\r\n"),
        a(5), a(1), a(0x81), r("* 2 FETCH (FLAGS (\\Deleted))\r\nm6 OK Success\r\n"),
        r("* SEARCH 202 209\r\nm7 OK SEARCH completed (Success)\r\n"),
        a(7), r("* BYE LOGOUT Requested\r\nm8 OK 73 good day (Success)\r\n")]),
    # Sent copies: APPEND, the "+", the literal (written by the session), the tagged OK; twice, then LOGOUT.
    "append_sent": mailbox(1, [
        a(6), a(1), a(3), r("+ OK\r\n"), r("m1 OK [APPENDUID 1712345678 10] Append completed.\r\n"),
        a(6), a(2), a(2), r("+ go ahead\r\n"), r("m2 OK [APPENDUID 3 211] (Success)\r\n"),
        a(7), r("* BYE\r\nm3 OK\r\n")]),
    "append_refused": mailbox(1, [a(6), a(0x80), ("t", "Sent Items"), a(4),
                                  r("m1 NO [TRYCREATE] Mailbox doesn't exist: Sent Items (0.001 + 0.000 secs).\r\n")]),
    "append_over_quota": mailbox(0, [a(6), a(1), a(6), r("+ OK\r\n"), r("m1 NO [OVERQUOTA] Quota exceeded\r\n")]),
    # Unsolicited EXISTS, EXPUNGE and FETCH around the body; the body's FETCH with FLAGS first, MODSEQ after.
    "unsolicited_during_fetch": mailbox(1, [
        a(4), a(4), a(5), r("* 4 EXISTS\r\n* 2 EXPUNGE\r\n* 3 FETCH (FLAGS (\\Seen))\r\n* 1 FETCH (UID 4 FLAGS (\\Seen) BODY[] "
                            + lit(MESSAGE) + ")\r\n* 1 FETCH (UID 4 MODSEQ (12))\r\nm1 OK Fetch completed.\r\n"),
        a(3), a(3), a(1), a(2), a(3),
        r("* 5 EXISTS\r\n* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID)] " + lit("Message-ID: <one@x>\r\n\r\n")
          + ")\r\n* 2 FETCH (BODY[HEADER.FIELDS (\"MESSAGE-ID\")] " + lit("\r\n") + " UID 2)\r\n"
          "* 3 FETCH (UID 3 BODY[HEADER.FIELDS (MESSAGE-ID)] NIL)\r\nm2 OK\r\n")]),
    # Small sections come quoted (or NIL); TOP 0 of a long message is its header; a vanished message.
    "quoted_and_nil_bodies": mailbox(1, [
        a(4), a(7), a(0x08 | 5), r("* 1 FETCH (UID 7 BODY[] \"Subject: \\\"quoted\\\" body\" FLAGS (\\Seen))\r\nm1 OK\r\n"),
        a(4), a(8), a(5), r("* 2 FETCH (UID 8 BODY[] NIL)\r\nm2 OK\r\n"),
        a(4), a(9), a(0x10 | 5), r("* 3 FETCH (UID 9 BODY[HEADER] \"From: a@b.test\")\r\nm3 OK\r\n"),
        a(4), a(10), a(5), r("m4 OK Fetch completed.\r\n")]),
    # Literal forms: LITERAL+ style and literal8 markers, a partial BODY[]<0>, an empty literal.
    "literal_forms": mailbox(1, [
        a(3), a(2), a(1), a(2),
        r("* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID)] " + lit("Message-ID: <p@x>\r\n\r\n", "{%d+}")
          + ")\r\n* 2 FETCH (UID 2 BODY[HEADER.FIELDS (MESSAGE-ID)] " + lit("Message-ID: <b@x>\r\n\r\n", "~{%d}")
          + ")\r\nm1 OK\r\n"),
        a(4), a(1), a(1), r("* 1 FETCH (UID 1 BODY[]<0> " + lit("abc", "~{%d}") + ")\r\nm2 OK\r\n"),
        a(4), a(2), a(1), r("* 2 FETCH (UID 2 BODY[] {0}\r\n)\r\nm3 OK\r\n")]),
    "bye_mid_select": mailbox(1, [a(1), a(0), r("* 3 EXISTS\r\n* BYE Server shutting down\r\n")]),
    "bye_mid_delete": mailbox(1, [a(5), a(1), a(5), r("m1 OK\r\n"), r("* BYE Disconnected for inactivity.\r\n")]),
    "select_refused": mailbox(1, [a(1), a(1), r("m1 NO [NONEXISTENT] Mailbox doesn't exist: Sent\r\n")]),
    "fetch_bad": mailbox(1, [a(4), a(5), a(5), r("m1 BAD Error in IMAP command UID FETCH: Invalid uidset\r\n")]),
    "select_without_uidvalidity": mailbox(1, [a(1), a(0), r("* 3 EXISTS\r\nm1 OK done\r\n")]),
    # The provider closes in the middle of a body literal.
    "partial_body_then_close": mailbox(1, [a(4), a(3), a(5),
                                           r("* 1 FETCH (UID 3 BODY[] {100}\r\nFrom: a@b\r\nSubject: cut\r\n\r\npartial")]),
    # An empty folder: no size listing is sent; empty UID lists send nothing; a folder name from the input.
    "empty_folder": mailbox(1, [a(1), a(0x80), ("t", "Archive/2024 \"Q1\""),
                                r("* 0 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nm1 OK [READ-ONLY] done\r\n"),
                                a(2), a(3), a(0), a(5), a(0), a(7), r("m2 OK\r\n")]),
    "unquotable_folder": mailbox(1, [a(1), a(5)]),
    # Replies to two operations in one read.
    "read_ahead": mailbox(1, [a(1), a(0), r("* 1 EXISTS\r\n* OK [UIDVALIDITY 5] x\r\nm1 OK\r\n"
                                            "* 1 FETCH (UID 3 RFC822.SIZE 10 FLAGS ())\r\nm2 OK\r\n"), a(2), a(7),
                              r("m3 OK\r\n")]),
    # Short lines and responses: an over-long line; Message-ID literals over max_response are skipped.
    "short_limits": mailbox(4 | 1, [a(3), a(1), a(1), r("* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID)] "
                                                         + lit("Message-ID: <" + "x" * 150 + "@y>\r\n\r\n") + ")\r\nm1 OK\r\n"),
                                    a(1), a(0), r("* OK [UIDVALIDITY 1] " + "long " * 20 + "\r\n")]),
}
# Long UID sets split over commands (max_set 16): 64 UIDs 1, 3, ..., 127 deleted with UIDPLUS.
_sets = uid_sets(range(1, 128, 2), 16)
_steps = [a(5), a(0x80 | (1 << 5) | 1), a(1)]
for _tag in range(1, 2 * len(_sets) + 1):
    _steps.append(r("m%d OK\r\n" % _tag))
corpora["imap_mailbox_client"]["long_uid_sets"] = mailbox(1 | 2, _steps + [a(7), r("m%d OK\r\n" % (2 * len(_sets) + 1))], 15)

# ---- OAuth2 bearer logins (XOAUTH2, OAUTHBEARER): credential bits 0x40 and up, see above.
XOAUTH2, OAUTHBEARER, WITH_HOST, LONG_TOKEN = 0x40, 0x60, 0x10, 0x08
ERROR_REPORT = "eyJzdGF0dXMiOiI0MDEifQ=="  # base64('{"status":"401"}')
corpora["pop3_client"].update({
    "bearer_inline": client(0, OAUTHBEARER | WITH_HOST, lines("+OK\r\n", "+OK\r\nSASL PLAIN OAUTHBEARER\r\n.\r\n",
                                                              "+OK\r\n") + [a(1), r("+OK bye\r\n")]),
    "bearer_error_report": client(0, XOAUTH2 | LONG_TOKEN, lines("+OK\r\n", "+OK\r\nSASL XOAUTH2\r\n.\r\n", "+ \r\n",
                                                                 "+ " + ERROR_REPORT + "\r\n", "-ERR [AUTH] no\r\n")),
    "bearer_no_mechanism": client(1, XOAUTH2, lines("+OK\r\n", "+OK\r\nSTLS\r\nSASL XOAUTH2\r\n.\r\n", "+OK go\r\n",
                                                    "+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n")),
})
corpora["imap_client"].update({
    "bearer_sasl_ir": client(0, XOAUTH2, lines("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n",
                                               "a1 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n")
                             + [a(1), r("* BYE\r\na2 OK\r\n")]),
    "bearer_error_report": client(0, OAUTHBEARER | WITH_HOST, lines(
        "* OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER AUTH=XOAUTH2] hi\r\n", "+ \r\n", "+ " + ERROR_REPORT + "\r\n",
        "a1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")),
    "bearer_starttls_bare_no": client(1, XOAUTH2 | LONG_TOKEN, lines(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "a1 OK go\r\n",
        "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2\r\na2 OK\r\n", "a3 NO AUTHENTICATE failed.\r\n")),
    "bearer_unencodable": client(0, XOAUTH2 | 5, lines("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] hi\r\n")),
})
corpora["smtp_client"].update({
    "bearer_error_report": client(0, XOAUTH2 | LONG_TOKEN, lines(
        "220 mx\r\n", "250-mx\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n", "334 \r\n", "334 " + ERROR_REPORT + "\r\n",
        "535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 see help\r\n")),
    "bearer_starttls": client(1, OAUTHBEARER, lines("220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "220 go\r\n",
                                                    "250-mx\r\n250 AUTH OAUTHBEARER\r\n", "235 ok\r\n")
                              + [a(1), r("221 bye\r\n")]),
    # Arbitrary user and token from the input: ',' and '=' to escape in the saslname.
    "bearer_arbitrary": seed([0, 0x80 | OAUTHBEARER | WITH_HOST], [("t", "a,b=c"), ("t", "tok=en"), a(0)]
                             + lines("220 mx\r\n", "250-mx\r\n250 AUTH OAUTHBEARER\r\n",
                                     "535 5.7.3 Authentication unsuccessful\r\n")),
})

# Regression seeds: the inputs of crashes-found/ (fixed in 5cf8f3b), run on every fuzzing run.
corpora["imap_server"]["regression-nul-in-literal"] = seed([4 | 16], lines("a1 LOGIN {5+}\r\nal\x00ce s3cret\r\n"))
corpora["imap_client"]["regression-pre-tls-capabilities"] = client(1, 0, lines(
    "* OK [CAPABILITY IMAP4rev1 STARTTLS COMPRESS=DEFLATE X-INJECTED] hi\r\n", "a1 OK begin TLS\r\n",
    "a2 OK\r\n", "a3 OK logged in\r\n", "a4 OK\r\n"))
corpora["imap_client"]["regression-stale-capability-atoms"] = client(0, 0, lines(
    "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\r\n", "a1 OK done\r\n", "a2 OK\r\n"))
corpora["smtp_command"]["regression-route-to-at-domain"] = raw("MAIL FROM:<@a:@b>")
# Found by fuzz_imap_mailbox_client at once: a tagged OK to APPEND before its "+" (fixed beside the harness).
corpora["imap_mailbox_client"]["regression-append-ok-before-continuation"] = mailbox(1, [
    a(6), a(1), a(3), r("m1 OK [APPENDUID 1 1] Append completed.\r\n"), r("m1 OK\r\n")])
# The long run's find: BODY's value in another case ("7BIt") is 7BIT too (the harness's check, not the codec).
corpora["smtp_server"]["regress-body-7bit-mixed-case"] = raw(
    b"HELO p\r\nMAIL FROM:<sex> BODY=7BIt\r\nR\x15\x04\x00")

# ---- PROXY protocol header: the connection's first bytes as a balancer sends them (HAProxy's proxy-protocol.txt).
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
corpora["proxy_header"] = {
    "v1_tcp4": raw("PROXY TCP4 192.168.1.20 10.0.0.5 51234 110\r\nUSER a\r\n"),
    "v1_tcp6": raw("PROXY TCP6 2001:db8::1 ::1 65535 993\r\n\x16\x03\x01"),
    "v1_unknown": raw("PROXY UNKNOWN\r\n"),
    "v2_tcp4_tlv": V2_SIGNATURE + bytes([0x21, 0x11, 0, 17, 192, 168, 1, 20, 10, 0, 0, 5, 0xc8, 0x22, 0, 110,
                                         0x05, 0, 2, ord("i"), ord("d")]),
    "v2_tcp6": V2_SIGNATURE + bytes([0x21, 0x21, 0, 36]) + bytes(15) + b"\x01" + bytes(15) + b"\x01" +
    bytes([1, 187, 3, 225]),
    "v2_local": V2_SIGNATURE + bytes([0x20, 0x00, 0, 0]),
    "v2_unix": V2_SIGNATURE + bytes([0x21, 0x31, 0, 216]) + bytes(216),
}


def main():
    root = os.path.join(HERE, "corpus")
    for codec, seeds in corpora.items():
        target = os.path.join(root, codec)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        for name, data in seeds.items():
            with open(os.path.join(target, name), "wb") as f:
                f.write(data)
    print(f"wrote {sum(len(s) for s in corpora.values())} seeds for {len(corpora)} fuzzers", file=sys.stderr)


if __name__ == "__main__":
    main()
