"""The upstream connector fails closed: a provider that strips STARTTLS, refuses it, or injects bytes after its
STARTTLS reply gets an aborted connection, a named reason, and never a credential in plaintext."""

import os
import tempfile
import unittest

from gateway import add_account, run_cli, steps
from misbehaving_provider import MODES, MisbehavingProvider

EXPECTED_REASON = {
    "strip": "does not offer STARTTLS",
    "refuse": "refused STARTTLS",
    "inject": "after the STARTTLS reply",
}
CREDENTIAL_VERBS = ("AUTH", "LOGIN", "USER", "PASS", "AUTHENTICATE")


class StarttlsFailClosed(unittest.TestCase):
    def test_every_protocol_and_misbehaviour(self):
        tmp = tempfile.TemporaryDirectory(prefix="mailgate-stls-")
        self.addCleanup(tmp.cleanup)
        data = os.path.join(tmp.name, "data")
        for protocol in ("pop3", "imap", "smtp"):
            for mode in MODES:
                with self.subTest(protocol=protocol, mode=mode), MisbehavingProvider(protocol, mode) as fake:
                    name = f"{protocol}-{mode}"
                    add_account(data, name, name, "local-pw", "user@example.test", "provider-secret",
                                f"--{protocol}", f"{protocol}+starttls://localhost:{fake.port}")
                    result = run_cli("account", "test", name, "--upstream.timeout", "10", data_dir=data)
                    self.assertEqual(result.returncode, 1, result.stdout)
                    failed = [(s, d) for _, s, ok, d in steps(result.stdout) if not ok]
                    self.assertEqual(len(failed), 1, result.stdout)
                    self.assertEqual(failed[0][0], "tls", result.stdout)
                    self.assertIn(EXPECTED_REASON[mode], failed[0][1])
                    for line in fake.received:
                        words = line.split(" ")
                        verb = (words[1] if protocol == "imap" and len(words) > 1 else words[0]).upper()
                        self.assertNotIn(verb, CREDENTIAL_VERBS, f"credential sent in plaintext: {line!r}")
                        self.assertNotIn("provider-secret", line)
                    status = run_cli("account", "show", name, data_dir=data).stdout
                    self.assertIn("tls_error", status)


if __name__ == "__main__":
    unittest.main()
