"""What the spool's kill-loop tests share (test_spool, test_shared_spool): a device sending one message the way a
scanner does, a gateway started by hand with one log across restarts, the tags that arrived at the rig, and the
verdict: every message answered 250 arrived, nothing arrived twice beyond the attempts the gateways flagged as in
doubt (RFC 1047), and nothing arrived that was neither answered 250 nor cut off after its end of data."""

import imaplib
import re
import smtplib
import socket
import subprocess
import time


def send_as_device(port, sender, recipient, tag, number):
    """'accepted' (250), 'refused' (no 250, the end of data never went out) or 'unanswered' (the end of data went
    out and no reply came: the gateway may have queued it, its 250 lost with the crash: SMTP's own case)."""
    raw = (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: {tag}\r\nMessage-ID: <{tag}@office.test>"
           f"\r\n\r\npage {number}\r\n").encode() + b"line\r\n" * 200
    end_sent = False
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.ehlo("scanner")
            c.mail(sender)
            c.rcpt(recipient)
            code, _ = c.docmd("DATA")
            if code == 354:
                c.send(raw + b".\r\n")
                end_sent = True
                code, _ = c.getreply()
                if code == 250:
                    return "accepted"
    except (OSError, smtplib.SMTPException):
        pass
    return "unanswered" if end_sent else "refused"


def start_gateway(args, log_path, smtp_port):
    """Starts `args` appending to `log_path`; returns the process once its SMTP port accepts."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", smtp_port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        raise AssertionError("gateway did not start:\n" + f.read()[-3000:])


def arrived_tags(rig, user, prefix):
    """The tags (Message-ID local parts starting with `prefix`) in the user's INBOX, one entry per copy."""
    with imaplib.IMAP4_SSL(rig.host, rig.ports["imaps"], ssl_context=rig.client_context()) as box:
        box.login(user, rig.users[user])
        count = int(box.select("INBOX", readonly=True)[1][0])
        ids = []
        if count:
            for item in box.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")[1]:
                if isinstance(item, tuple):
                    ids.append(re.search(rb"<(" + prefix.encode() + rb"\d+)@", item[1]).group(1).decode())
    return ids


def check_verdict(test, outcomes, ids, log):
    """`outcomes`: tag -> what send_as_device said; `ids`: arrived_tags; `log`: every gateway log of the run."""
    accepted = [t for t, o in outcomes.items() if o == "accepted"]
    unanswered = [t for t, o in outcomes.items() if o == "unanswered"]
    in_doubt = len(re.findall(r"may deliver it a second time", log))
    for tag in accepted:
        test.assertGreaterEqual(ids.count(tag), 1, f"{tag} got 250 and was lost")
    duplicates = [t for t in set(ids) if ids.count(t) > 1]
    test.assertLessEqual(len(duplicates), in_doubt, f"duplicates {duplicates} beyond the {in_doubt} the gateway flagged")
    test.assertEqual([t for t in set(ids) if t not in accepted and t not in unanswered], [],
                     "a message arrives only if it got 250, or its end of data went out before the crash")
    test.assertNotIn("Sanitizer", log)
    return (f"{len(accepted)} accepted, {len(outcomes) - len(accepted) - len(unanswered)} not accepted; "
            f"{len(unanswered)} unanswered after the end of data; {len(ids)} arrived; {in_doubt} attempt(s) in doubt")
