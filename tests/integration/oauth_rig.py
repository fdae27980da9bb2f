#!/usr/bin/env python3
"""A real OAuth2 authorization server for mailgate's integration tests: tests/oauth/server.mjs (oidc-provider under
node) on reserved 127.0.0.1 ports, with a certificate from the provider rig's CA, and the helpers tests drive it with
(a user's browser for login and consent, token requests, the test controls).

    oauth = OAuthServer(access_token_ttl=10)
    with ProviderRig(oauth=oauth) as rig:          # rig starts/stops it; Dovecot and Postfix accept its tokens
        tokens = oauth.get_tokens("alice@example.test")   # {"access_token", "refresh_token", "expires_in", ...}

or, for an AS the provider does not trust for tokens:  with OAuthServer(rig=started_rig) as oauth: ...

Needs node >= 20 and `npm ci --prefix tests/oauth` (deploy/install-deps.sh --test does it). Stdlib only.
"""

import atexit
import base64
import hashlib
import html.parser
import http.cookiejar
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from rig import LOOPBACK, ProviderRig, RigError, _install_sigterm_cleanup, _tail, reserve_ports

AS_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oauth"))
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_SCOPE = "offline_access mail"
CALLBACK_PATH = "/oauth/callback"

_live = set()
_live_lock = threading.Lock()


def _stop_all_live():
    with _live_lock:
        servers = list(_live)
    for server in servers:
        try:
            server.stop()
        except Exception as exc:
            print(f"oauth_rig: cleanup error: {exc}", file=sys.stderr)


atexit.register(_stop_all_live)


class OAuthFlowError(RigError):
    """A login/consent flow or token request did not go as a user's browser or a client expected."""


def pkce_pair():
    """(code_verifier, S256 code_challenge) per RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def xoauth2_response(user, token):
    """The XOAUTH2 client response (before base64): user=...^Aauth=Bearer ...^A^A."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer_response(user, token, host="localhost", port=None):
    """The OAUTHBEARER client response (RFC 7628 §3.1, before base64), with gs2 header n,a=user,."""
    escaped = user.replace("=", "=3D").replace(",", "=2C")
    fields = f"host={host}\x01" + (f"port={port}\x01" if port else "")
    return f"n,a={escaped},\x01{fields}auth=Bearer {token}\x01\x01".encode()


# ------------------------------------------------------------------ a minimal browser
class _Page(html.parser.HTMLParser):
    """Forms (by id, with the fields a browser would submit and the buttons that submit them) and the text of
    elements with an id (our pages mark what matters: error, done, scopes, ...)."""

    VOID = {"input", "br", "img", "meta", "link", "hr"}

    def __init__(self, body):
        super().__init__(convert_charrefs=True)
        self.forms = {}  # id (or "#n") -> {"action", "method", "fields": [(k, v)], "buttons": [(k, v)]}
        self.texts = {}
        self._form = None
        self._capture = []  # [(tag, id)] of open elements whose text we collect
        self.feed(body)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            key = a.get("id") or f"#{len(self.forms)}"
            self._form = key
            self.forms[key] = {"action": a.get("action", ""), "method": (a.get("method") or "get").upper(),
                               "fields": [], "buttons": []}
        elif tag in ("input", "button", "textarea"):
            form = self.forms.get(a.get("form") or self._form)
            name = a.get("name")
            if form is not None and name:
                kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
                if kind == "submit":
                    form["buttons"].append((name, a.get("value", "")))
                else:
                    form["fields"].append((name, a.get("value", "")))
        if "id" in a and tag not in self.VOID:
            self._capture.append((tag, a["id"]))
            self.texts.setdefault(a["id"], "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if self._capture and self._capture[-1][0] == tag:
            self._capture.pop()

    def handle_data(self, data):
        for _, ident in self._capture:
            self.texts[ident] += data


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the caller sees the 3xx itself (and decides whether to follow)


class Browser:
    """A user agent for the AS's pages: cookie jar, TLS trusting ca_file, redirects followed by the caller."""

    def __init__(self, ca_file, timeout=10.0):
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_file)),
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def fetch(self, method, url, form=None):
        """(status, headers, body text) without following redirects."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return resp.status, resp.headers, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.headers, err.read().decode("utf-8", "replace")


# ------------------------------------------------------------------ the server
class OAuthServer:
    """tests/oauth/server.mjs on 127.0.0.1. Constructor options (all changeable later through the set_* methods):
      access_token_ttl    seconds (default 3600)        access_token_bytes  length of each access token (43)
      refresh_token_ttl   seconds (14 days)             device_interval     RFC 8628 polling interval (1 s)
      issuer_host         "127.0.0.1" or "localhost" (the certificate is valid for both)
      ca                  "rig" (signed by rig.ca_file) or "other" (rig.other_ca_file: an AS nobody trusts)
      rig                 a started ProviderRig, for standalone use; ProviderRig(oauth=...) passes itself

    Attributes after start(): issuer, port, control_port, ca_file (the CA that signed the AS certificate),
      discovery_url, authorization_url, token_url, device_authorization_url, verification_url, revocation_url,
      introspection_url, provider_introspection_url (always 127.0.0.1: what Dovecot calls), clients
      ({"public","confidential","confidential_post","resource_server"} -> {"client_id","client_secret",
      "auth_method","redirect_uris"}), mail_scope ("mail"), mail_resource, username_claim ("email"),
      log_file (JSON lines), dir.
    """

    def __init__(self, rig=None, access_token_ttl=3600, access_token_bytes=None, refresh_token_ttl=None,
                 device_interval=1, issuer_host=LOOPBACK, ca="rig", start_timeout=20.0, http_timeout=10.0):
        if issuer_host not in (LOOPBACK, "localhost"):
            raise RigError("issuer_host must be 127.0.0.1 or localhost")
        self._rig = rig
        self._settings = {"access-token-ttl": access_token_ttl, "access-token-bytes": access_token_bytes,
                          "refresh-token-ttl": refresh_token_ttl, "device-interval": device_interval}
        self.issuer_host = issuer_host
        self.ca = ca
        self.start_timeout = start_timeout
        self.http_timeout = http_timeout
        self.dir = None
        self.issuer = None
        self.port = self.control_port = None
        self.clients = {}
        self._proc = None
        self._control_secret = None
        self._stopped = True

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, rig=None):
        if not self._stopped:
            raise RigError("OAuthServer already started")
        rig = rig or self._rig
        if rig is None or rig.dir is None:
            raise RigError("OAuthServer needs a started ProviderRig (its CA signs the AS certificate)")
        self._rig = rig
        node = shutil.which("node")
        if node is None:
            raise RigError("OAuthServer needs node (>= 20): deploy/install-deps.sh --test")
        if not os.path.isdir(os.path.join(AS_DIR, "node_modules", "oidc-provider")):
            raise RigError(f"oidc-provider is not installed: npm ci --prefix {AS_DIR}")
        self._stopped = False
        with _live_lock:
            _live.add(self)
        _install_sigterm_cleanup()
        try:
            self.port, self.control_port = reserve_ports(2)
            self.dir = os.path.join(rig.dir, f"oauth-{self.port}")
            os.mkdir(self.dir, 0o700)
            cert, key = rig.issue_server_cert(f"oauth-{self.port}", dns_names=("localhost",),
                                              ip_addresses=(LOOPBACK,), ca=self.ca)
            self.ca_file = rig.ca_file if self.ca == "rig" else rig.other_ca_file
            self.log_file = os.path.join(self.dir, "requests.jsonl")
            open(self.log_file, "w").close()
            self._control_secret = secrets.token_hex(16)
            ready = os.path.join(self.dir, "ready.json")
            args = [node, os.path.join(AS_DIR, "server.mjs"), "--host", LOOPBACK, "--port", str(self.port),
                    "--issuer", f"https://{self.issuer_host}:{self.port}", "--cert", cert, "--key", key,
                    "--log", self.log_file, "--ready-file", ready, "--control-port", str(self.control_port),
                    "--control-secret", self._control_secret]
            for name, value in self._settings.items():
                if value is not None:
                    args += [f"--{name}", str(value)]
            with open(self._p("server.log"), "ab") as out:
                self._proc = subprocess.Popen(args, cwd=AS_DIR, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                              start_new_session=True)
            rig._tell_watchdog(f"add {self._proc.pid}")
            info = self._wait_ready(ready)
            self.issuer = info["issuer"]
            self.clients = info["clients"]
            self.mail_scope = info["mail_scope"]
            self.mail_resource = info["mail_resource"]
            self.username_claim = info["username_claim"]
            self.discovery_url = self.issuer + "/.well-known/openid-configuration"
            status, meta = self._request_json("GET", self.discovery_url)
            if status != 200:
                raise RigError(f"oauth: discovery answered {status}\n{self.log_tail()}")
            self.authorization_url = meta["authorization_endpoint"]
            self.token_url = meta["token_endpoint"]
            self.device_authorization_url = meta["device_authorization_endpoint"]
            self.verification_url = self.issuer + "/device"
            self.revocation_url = meta["revocation_endpoint"]
            self.introspection_url = meta["introspection_endpoint"]
            self.provider_introspection_url = f"https://{LOOPBACK}:{self.port}" + \
                urllib.parse.urlsplit(self.introspection_url).path
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, path):
        deadline = time.monotonic() + self.start_timeout
        while not os.path.exists(path):
            if self._proc.poll() is not None:
                raise RigError(f"oauth: server.mjs exited with status {self._proc.returncode}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RigError(f"oauth: server.mjs not ready after {self.start_timeout}s\n{self.log_tail()}")
            time.sleep(0.05)
        with open(path) as f:
            return json.load(f)

    def stop(self):
        """Stop the node process (idempotent). Its files stay in the rig's dir (removed with the rig)."""
        if self._stopped:
            return
        self._stopped = True
        if self._proc is not None:
            pgid = self._proc.pid
            self._proc = ProviderRig._terminate(self._proc)
            if self._rig is not None:
                self._rig._tell_watchdog(f"del {pgid}")
        with _live_lock:
            _live.discard(self)

    def _p(self, name):
        return os.path.join(self.dir, name)

    def log_tail(self, lines=40):
        return "--- oauth server.log ---\n" + _tail(self._p("server.log"), lines) if self.dir else "(not started)\n"

    def info(self):
        return {"issuer": self.issuer, "token_url": self.token_url, "authorization_url": self.authorization_url,
                "device_authorization_url": self.device_authorization_url, "revocation_url": self.revocation_url,
                "introspection_url": self.introspection_url, "ca_file": self.ca_file, "clients": self.clients,
                "scope": DEFAULT_SCOPE}

    # ----------------------------------------------------------------- HTTP
    def _request(self, method, url, form=None, headers=None, body=None):
        """(status, body bytes). TLS to the AS trusts self.ca_file; no redirects expected."""
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        context = ssl.create_default_context(cafile=self.ca_file) if url.startswith("https:") else None
        try:
            with urllib.request.urlopen(req, timeout=self.http_timeout, context=context) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read()

    def _request_json(self, method, url, **kw):
        status, body = self._request(method, url, **kw)
        try:
            return status, json.loads(body) if body else {}
        except ValueError:
            return status, {"error": "not_json", "body": body.decode("utf-8", "replace")[:500]}

    def _with_client_auth(self, client, form):
        """form plus client authentication as the client is registered (RFC 6749 §2.3.1); returns (form, headers)."""
        c = self.clients[client]
        form, headers = dict(form), {}
        if c["auth_method"] == "none":
            form["client_id"] = c["client_id"]
        elif c["auth_method"] == "client_secret_post":
            form.update(client_id=c["client_id"], client_secret=c["client_secret"])
        else:
            pair = f"{urllib.parse.quote(c['client_id'], safe='')}:{urllib.parse.quote(c['client_secret'], safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return form, headers

    def control(self, **settings):
        """Raw control call (see server.mjs control()); returns its JSON answer."""
        status, answer = self._request_json(
            "POST", f"http://{LOOPBACK}:{self.control_port}/control", body=json.dumps(settings).encode(),
            headers={"Authorization": f"Bearer {self._control_secret}", "Content-Type": "application/json"})
        if status != 200:
            raise RigError(f"oauth control {settings}: {status} {answer}")
        return answer

    # ----------------------------------------------------------------- test controls
    def set_token_endpoint_down(self, down=True):
        """The token endpoint answers 503 {"error":"temporarily_unavailable"} (down) or normally again."""
        self.control(token_endpoint_down=bool(down))

    def set_listening(self, listening):
        """Refuse every new connection and cut open ones (the AS is unreachable; grants are kept), or listen again."""
        self.control(listening=bool(listening))

    def set_access_token_ttl(self, seconds):
        self.control(access_token_ttl=int(seconds))

    def set_access_token_bytes(self, n):
        """Length of access tokens issued from now on (opaque base64url, >= 22; e.g. 3000)."""
        self.control(access_token_bytes=int(n))

    def set_device_interval(self, seconds):
        self.control(device_interval=int(seconds))
        self._settings["device-interval"] = int(seconds)

    def fail_token_requests(self, error, count=1, status=400, grant_type=None, description=None):
        """The next `count` token requests (of grant_type, or any) get {"error": error} with HTTP status;
        e.g. ("invalid_grant") for consent revoked, ("slow_down"), ("server_error", status=500)."""
        self.control(fail_token_requests={"error": error, "count": count, "status": status,
                                          "grant_type": grant_type, "description": description})

    def clear_token_failures(self):
        self.control(fail_token_requests=None)

    def revoke(self, token, client=None):
        """Revoke a token. client=None: at the AS directly, whoever holds it (a refresh token takes its whole grant,
        an access token only itself); returns "refresh_token", "access_token" or None (unknown). With a client name:
        through the RFC 7009 revocation endpoint as that client; returns the HTTP status."""
        if client is None:
            return self.control(revoke_token=token)["revoked"]
        form, headers = self._with_client_auth(client, {"token": token})
        return self._request("POST", self.revocation_url, form=form, headers=headers)[0]

    def revoke_user_grants(self, user):
        """What a user withdrawing every app's access at the provider does; returns the number of grants."""
        return self.control(revoke_user=user)["revoked_grants"]

    def revoke_access_tokens(self, user):
        """Every access token of user stops working; refresh tokens stay valid. Returns how many there were."""
        return self.control(revoke_access_tokens_of=user)["revoked_access_tokens"]

    # ----------------------------------------------------------------- observability
    def log_entries(self, endpoint=None):
        """Parsed JSON lines of the AS's request log (token, introspection, revocation, device_authorization,
        interaction), optionally only one endpoint's. Never contains token values."""
        with open(self.log_file) as f:
            entries = [json.loads(line) for line in f if line.strip()]
        return [e for e in entries if endpoint is None or e.get("endpoint") == endpoint]

    def token_requests(self):
        """One entry per token-endpoint request: grant_type, client_id, status, result ("ok" or the OAuth error
        code), time, and for successes sub, expires_in, refresh_token_issued, rotated."""
        return self.log_entries("token")

    def introspect(self, token):
        """RFC 7662 introspection as the resource server (what Dovecot sees)."""
        form, headers = self._with_client_auth("resource_server", {"token": token})
        return self._request_json("POST", self.introspection_url, form=form, headers=headers)[1]

    # ----------------------------------------------------------------- client side: token requests
    def token_request(self, form, client="public"):
        """POST form to the token endpoint with the client's authentication: (status, JSON body)."""
        form, headers = self._with_client_auth(client, form)
        return self._request_json("POST", self.token_url, form=form, headers=headers)

    def refresh(self, refresh_token, client="public"):
        return self.token_request({"grant_type": "refresh_token", "refresh_token": refresh_token}, client)

    def exchange_code(self, code, redirect_uri, code_verifier, client="public"):
        return self.token_request({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                   "code_verifier": code_verifier}, client)

    def device_authorization(self, client="public", scope=DEFAULT_SCOPE):
        """RFC 8628 §3.1-3.2: {device_code, user_code, verification_uri, verification_uri_complete, expires_in,
        interval}."""
        form, headers = self._with_client_auth(client, {"scope": scope})
        status, body = self._request_json("POST", self.device_authorization_url, form=form, headers=headers)
        if status != 200:
            raise OAuthFlowError(f"device authorization: {status} {body}")
        return body

    def poll_device_token(self, device_code, client="public", timeout=15.0, interval=None):
        """Polls every `interval` seconds (default: the AS's) while authorization_pending or slow_down, bounded
        by timeout: (status, body) of the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.token_request({"grant_type": DEVICE_CODE_GRANT, "device_code": device_code}, client)
            if body.get("error") not in ("authorization_pending", "slow_down") or time.monotonic() > deadline:
                return status, body
            time.sleep(interval or self._settings["device-interval"] or 5)

    def authorization_request_url(self, client="public", redirect_uri=None, scope=DEFAULT_SCOPE, state=None,
                                  pkce=True, **extra):
        """An authorization request URL (code flow, S256 PKCE unless pkce=False) and what the client keeps:
        (url, {"state", "code_verifier", "redirect_uri"}). redirect_uri defaults to a loopback one (RFC 8252 §7.3:
        any port)."""
        redirect_uri = redirect_uri or f"http://{LOOPBACK}:{reserve_ports(1)[0]}{CALLBACK_PATH}"
        state = state or secrets.token_urlsafe(16)
        params = {"response_type": "code", "client_id": self.clients[client]["client_id"],
                  "redirect_uri": redirect_uri, "scope": scope, "state": state, **extra}
        verifier = None
        if pkce:
            verifier, params["code_challenge"] = pkce_pair()
            params["code_challenge_method"] = "S256"
        url = self.authorization_url + "?" + urllib.parse.urlencode(params)
        return url, {"state": state, "code_verifier": verifier, "redirect_uri": redirect_uri}

    def get_tokens(self, user, client="public", flow="device", scope=DEFAULT_SCOPE):
        """A token response for user without any test looking at consent: runs the device flow (flow="device") or
        code + PKCE (flow="code") to the end. Returns the JSON {access_token, refresh_token, expires_in, ...}."""
        if flow == "device":
            auth = self.device_authorization(client, scope)
            self.approve_device_code(auth["user_code"], user)
            status, body = self.poll_device_token(auth["device_code"], client)
        elif flow == "code":
            url, kept = self.authorization_request_url(client, scope=scope)
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.authorize(url, user)).query)
            if query.get("state") != [kept["state"]] or "code" not in query:
                raise OAuthFlowError(f"authorization response without code or with a wrong state: {query}")
            status, body = self.exchange_code(query["code"][0], kept["redirect_uri"], kept["code_verifier"], client)
        else:
            raise ValueError(f"flow must be device or code, not {flow!r}")
        if status != 200 or "access_token" not in body:
            raise OAuthFlowError(f"{flow} flow token request: {status} {body}")
        return body

    # ----------------------------------------------------------------- user side: the browser
    def approve_device_code(self, user_code, user, approve=True, password="any"):
        """What the user does on a second device (RFC 8628 §3.3): open the verification page, enter user_code,
        confirm it, sign in as user, and allow (approve=True) or deny at the consent page. Raises OAuthFlowError
        when the AS shows an error (unknown or used code, ...)."""
        self._walk("GET", self.verification_url, user_code=user_code, user=user, approve=approve, password=password)

    def deny_device_code(self, user_code):
        """The user aborts at the device confirmation page ("this is not my device"): the poll gets access_denied."""
        self._walk("GET", self.verification_url, user_code=user_code, user=None, approve=None)

    def authorize(self, url, user, approve=True, password="any"):
        """Follows an authorization request URL as the user's browser: sign in as user, allow (or deny) at the
        consent page; returns the final redirect URL to the client (e.g. http://127.0.0.1:PORT/oauth/callback?
        code=...&state=..., or ...?error=access_denied) without fetching it."""
        final = self._walk("GET", url, user_code=None, user=user, approve=approve, password=password)
        if final is None:
            raise OAuthFlowError("authorization ended on a page of the AS instead of a redirect to the client")
        return final

    def _walk(self, method, url, user_code, user, approve, password="any", max_steps=30, timeout=20.0):
        """Drives the AS's pages in a fresh browser (no session, so always sign-in and consent). Returns the first
        redirect leaving the AS, or None when the flow ends on the AS's own "done" or (when denying) "aborted"
        page (device flow)."""
        browser = Browser(self.ca_file, timeout=self.http_timeout)
        deadline = time.monotonic() + timeout
        form = None
        for _ in range(max_steps):
            if time.monotonic() > deadline:
                break
            status, headers, body = browser.fetch(method, url, form)
            if status in (301, 302, 303, 307, 308):
                location = urllib.parse.urljoin(url, headers["Location"])
                if not location.startswith(self.issuer + "/"):
                    return location
                method, url, form = ("GET", location, None) if status in (301, 302, 303) else (method, location, form)
                continue
            page = _Page(body)
            if "error" in page.texts or "device-error" in page.texts:
                raise OAuthFlowError(f"AS page at {url} ({status}): {page.texts.get('error') or ''} "
                                     f"{page.texts.get('error-description') or page.texts.get('device-error', '')}")
            if status != 200:
                raise OAuthFlowError(f"AS page at {url}: HTTP {status}: {body[:300]}")
            if "done" in page.texts:
                return None
            if "aborted" in page.texts:
                if approve:
                    raise OAuthFlowError(f"AS page at {url}: the request was aborted")
                return None
            step = self._fill(page, user_code=user_code, user=user, approve=approve, password=password)
            if step is None:
                raise OAuthFlowError(f"AS page at {url} has no form this browser knows: {body[:500]}")
            target, method, form = step
            url = urllib.parse.urljoin(url, target)
        raise OAuthFlowError(f"flow did not finish within {max_steps} pages / {timeout}s (last {url})")

    @staticmethod
    def _fill(page, user_code, user, approve, password):
        """(action, method, fields) for the one form on this page we know how to answer, like a user would."""
        def submit(form, **values):
            fields = dict(form["fields"])
            fields.update(values)
            return form["action"], form["method"], fields

        forms = page.forms
        if "op.deviceInputForm" in forms:
            return submit(forms["op.deviceInputForm"], user_code=user_code)
        if "op.deviceConfirmForm" in forms:
            return submit(forms["op.deviceConfirmForm"], **({} if approve is not None else {"abort": "yes"}))
        if "login" in forms:
            if user is None:
                return None
            return submit(forms["login"], login=user, password=password)
        if "consent" in forms:
            return submit(forms["consent"], decision="approve" if approve else "deny")
        if len(forms) == 1:  # an auto-submitting form_post page (a browser's script would submit it)
            return submit(next(iter(forms.values())))
        return None
