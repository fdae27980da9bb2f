"""A small HTTP client for the admin API tests: cookies, CSRF header and Origin handled like the page does."""

import http.client
import json
import re


def admin_password(banner):
    """The first start's admin password, from the 0600 file the banner names (None when it names none)."""
    m = re.search(r"admin password +in (\S+) \(mode 0600", banner)
    if not m:
        return None
    with open(m.group(1)) as f:
        return f.read().strip()


class AdminClient:
    def __init__(self, port, host="127.0.0.1"):
        self.port, self.host = port, host
        self.origin = f"http://{host}:{port}"
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, headers=None, raw_body=None, csrf=True, origin=True):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = {"Host": f"{self.host}:{self.port}"}
        if origin:
            h["Origin"] = self.origin
        if self.cookie:
            h["Cookie"] = self.cookie
        if csrf and self.csrf and method != "GET":
            h["X-CSRF-Token"] = self.csrf
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return response, payload, parsed

    def login(self, password):
        response, payload, data = self.request("POST", "/api/v1/login", {"password": password})
        if response.status == 200:
            self.cookie = response.getheader("Set-Cookie").split(";")[0]
            self.csrf = data["csrf"]
        return response, data
