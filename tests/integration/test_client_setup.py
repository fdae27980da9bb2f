"""Client setup served from the account data on the admin listener: Thunderbird autoconfig (both URLs) and
Outlook's POX autodiscover. Each answer is then used as a client would use it: the server, port, security mode and
user name it gives log in through the gateway to the real rig (imaplib, poplib, smtplib). Unknown, disabled and
malformed requests get nothing about any account; a network outside access.allow gets no HTTP answer at all."""

import http.client
import imaplib
import os
import poplib
import smtplib
import socket
import ssl
import tempfile
import unittest
import xml.etree.ElementTree as ET

from gateway import Gateway, add_account, run_cli
from rig import ProviderRig

ALICE, BOB = "alice@example.test", "bob@example.test"
AUTODISCOVER_REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"""
RESPONSE_NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


class ClientSetup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = ProviderRig().start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailgate-setup-")
        cls.data = os.path.join(cls.tmp.name, "data")
        p, host = cls.rig.ports, cls.rig.host
        add_account(cls.data, "alice", "alice-local", "alice-pw", ALICE, cls.rig.users[ALICE],
                    "--imap", f"imaps://{host}:{p['imaps']}", "--pop3", f"pop3s://{host}:{p['pop3s']}",
                    "--smtp", f"smtps://{host}:{p['smtps']}")
        add_account(cls.data, "bob", "bob-local", "bob-pw", BOB, cls.rig.users[BOB],
                    "--imap", f"imaps://{host}:{p['imaps']}")
        add_account(cls.data, "off", "off-local", "off-pw", "off@example.test", "x",
                    "--imap", f"imaps://{host}:{p['imaps']}")
        run_cli("account", "disable", "off", data_dir=cls.data, check=True)
        cls.gw = Gateway(data_dir=cls.data, extra_args=["--upstream.ca_file", cls.rig.ca_file,
                                                        "--tls.names", "localhost"]).__enter__()
        cls.trust = ssl.create_default_context(cafile=cls.gw.cert_file)

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rig.stop()
        cls.tmp.cleanup()

    def request(self, method, target, body=None, host="autoconfig.example.test"):
        conn = http.client.HTTPConnection("127.0.0.1", self.gw.ports["admin"], timeout=30)
        conn.request(method, target, body=body, headers={"Host": host})
        res = conn.getresponse()
        out = res.status, res.getheader("Content-Type"), res.read()
        conn.close()
        return out

    def autoconfig(self, address, path="/.well-known/autoconfig/mail/config-v1.1.xml"):
        status, ctype, body = self.request("GET", f"{path}?emailaddress={address.replace('@', '%40')}")
        self.assertEqual(status, 200, body)
        self.assertIn("xml", ctype)
        return ET.fromstring(body)

    def servers(self, root):
        out = []
        for s in root.iter():
            if s.tag in ("incomingServer", "outgoingServer"):
                out.append({"type": s.get("type"), **{c.tag: c.text for c in s}})
        return out

    def log_in_with(self, s, password):
        """Logs in as a client would with one server entry: its host, port, socketType and username."""
        implicit = s["socketType"] == "SSL"
        host, port, user = s["hostname"], int(s["port"]), s["username"]
        if s["type"] == "imap":
            c = imaplib.IMAP4_SSL(host, port, ssl_context=self.trust) if implicit else imaplib.IMAP4(host, port)
            if not implicit:
                c.starttls(ssl_context=self.trust)
            self.assertEqual(c.login(user, password)[0], "OK")
            self.assertEqual(c.select("INBOX")[0], "OK")
            c.logout()
        elif s["type"] == "pop3":
            c = poplib.POP3_SSL(host, port, context=self.trust) if implicit else poplib.POP3(host, port)
            if not implicit:
                c.stls(context=self.trust)
            c.user(user)
            self.assertTrue(c.pass_(password).startswith(b"+OK"))
            c.quit()
        else:
            c = smtplib.SMTP_SSL(host, port, context=self.trust) if implicit else smtplib.SMTP(host, port)
            if not implicit:
                c.starttls(context=self.trust)
            self.assertEqual(c.login(user, password)[0], 235)
            c.quit()

    def test_thunderbird_autoconfig_settings_log_in(self):
        for path in ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"):
            with self.subTest(path=path):
                root = self.autoconfig(ALICE, path)
                self.assertEqual(root.find("emailProvider/domain").text, "example.test")
                servers = self.servers(root)
                # Every listener of the three protocols, implicit TLS first within each.
                self.assertEqual([(s["type"], s["socketType"]) for s in servers],
                                 [("imap", "SSL"), ("imap", "STARTTLS"), ("pop3", "SSL"), ("pop3", "STARTTLS"),
                                  ("smtp", "SSL"), ("smtp", "STARTTLS")])
                ports = {("imap", "SSL"): "imaps", ("imap", "STARTTLS"): "imap", ("pop3", "SSL"): "pop3s",
                         ("pop3", "STARTTLS"): "pop3", ("smtp", "SSL"): "smtps", ("smtp", "STARTTLS"): "smtp"}
                for s in servers:
                    self.assertEqual(s["hostname"], "localhost")
                    self.assertEqual(int(s["port"]), self.gw.ports[ports[(s["type"], s["socketType"])]])
                    self.assertEqual(s["username"], "alice-local")
                    self.assertEqual(s["authentication"], "password-cleartext")
                for s in servers:
                    with self.subTest(server=(s["type"], s["socketType"])):
                        self.log_in_with(s, "alice-pw")
        # An account with only IMAP gets only IMAP.
        self.assertEqual({s["type"] for s in self.servers(self.autoconfig(BOB))}, {"imap"})
        # The local user name typed as an address finds the account too.
        self.assertEqual(self.servers(self.autoconfig("bob-local@office.lan"))[0]["username"], "bob-local")

    def test_outlook_autodiscover_settings_log_in(self):
        status, ctype, body = self.request("POST", "/autodiscover/autodiscover.xml",
                                           AUTODISCOVER_REQUEST.format(address=ALICE), host="autodiscover.example.test")
        self.assertEqual(status, 200, body)
        root = ET.fromstring(body)
        protocols = {p.find(RESPONSE_NS + "Type").text: {c.tag[len(RESPONSE_NS):]: c.text for c in p}
                     for p in root.iter(RESPONSE_NS + "Protocol")}
        self.assertEqual(set(protocols), {"IMAP", "POP3", "SMTP"})
        for kind, p in protocols.items():
            self.assertEqual(p["Server"], "localhost")
            self.assertEqual(p["LoginName"], "alice-local")
            self.assertEqual(p["SPA"], "off")  # NTLM is not offered: Outlook must not try it
            self.assertEqual(p["Encryption"], "SSL")
            self.assertEqual(int(p["Port"]), self.gw.ports[kind.lower() + "s"])
            self.log_in_with({"type": kind.lower(), "hostname": p["Server"], "port": p["Port"],
                              "socketType": "SSL", "username": p["LoginName"]}, "alice-pw")
        # Outlook's own spelling of the path.
        status, _, body = self.request("POST", "/Autodiscover/Autodiscover.xml",
                                       AUTODISCOVER_REQUEST.format(address=BOB))
        self.assertEqual(status, 200)
        self.assertIn(b"<LoginName>bob-local</LoginName>", body)

    def test_nothing_about_unknown_disabled_or_malformed_requests(self):
        for address in ("nobody@example.test", "off@example.test", "off-local@example.test"):
            with self.subTest(address=address):
                status, _, body = self.request("GET", f"/mail/config-v1.1.xml?emailaddress={address}")
                self.assertEqual(status, 404)
                self.assertNotIn(b"local", body)
                status, _, body = self.request("POST", "/autodiscover/autodiscover.xml",
                                               AUTODISCOVER_REQUEST.format(address=address))
                self.assertIn(b"<ErrorCode>500</ErrorCode>", body)
                self.assertNotIn(b"LoginName", body)
        for target in ("/mail/config-v1.1.xml", "/mail/config-v1.1.xml?emailaddress=alice-local",
                       "/mail/config-v1.1.xml?emailaddress=" + "a" * 400 + "@x"):
            with self.subTest(target=target[:60]):
                self.assertEqual(self.request("GET", target)[0], 400)
        self.assertEqual(self.request("POST", "/autodiscover/autodiscover.xml", "<Autodiscover/>")[0], 400)
        self.assertEqual(self.request("GET", "/autodiscover/autodiscover.xml")[0], 405)
        # The admin API itself still checks the Host header.
        self.assertEqual(self.request("GET", "/api/v1/accounts")[0], 421)
        self.assertIsNone(self.gw.proc.poll())

    def test_networks_outside_access_allow_get_no_answer(self):
        with Gateway(data_dir=self.data, extra_args=["--access.allow", "192.0.2.0/24"]) as gw:
            with socket.create_connection(("127.0.0.1", gw.ports["admin"]), timeout=10) as s:
                s.sendall(b"GET /mail/config-v1.1.xml?emailaddress=alice%40example.test HTTP/1.1\r\n"
                          b"Host: autoconfig.example.test\r\n\r\n")
                try:
                    answer = s.recv(4096)
                except ConnectionResetError:  # closed with the request unread
                    answer = b""
                self.assertEqual(answer, b"")


if __name__ == "__main__":
    unittest.main()
