"""Helper for the browser test: an imaplib login through the gateway. `hold` keeps the session open until stdin
closes (printing LOGGED_IN first); `try` exits 0 when the login succeeds and 3 when it is refused."""

import imaplib
import sys

mode, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
try:
    client.login(user, password)
except imaplib.IMAP4.error as e:
    print("REFUSED", e, flush=True)
    sys.exit(3)
client.select("INBOX")
print("LOGGED_IN", flush=True)
if mode == "hold":
    sys.stdin.read()  # the browser test closes our stdin when it is done looking at the live table
    try:
        client.noop()
        print("STILL_OPEN", flush=True)
    except (imaplib.IMAP4.abort, OSError, EOFError):
        print("CLOSED_BY_GATEWAY", flush=True)
else:
    client.logout()
