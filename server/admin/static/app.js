// mailgate admin page: plain JavaScript talking to /api/v1. All data is inserted with textContent, never as HTML.
// The OAuth2 parts (clients, consent, token state) are in oauth.js; both share this global scope.
"use strict";

let csrf = null;
let providers = [];
let pollTimer = null;
let oauthClients = [];
let oauthPresets = [];
let consentId = null; // the consent request the panel follows

const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") options.headers["X-CSRF-Token"] = csrf || "";
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch("/api/v1/" + path, options);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== "login") showLogin();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function button(parent, label, handler) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", handler);
  parent.appendChild(b);
  return b;
}

function show(view) {
  for (const name of ["login", "dashboard", "accounts", "clients", "sessions", "queue", "certificates"]) $(name + "-view").hidden = name !== view;
  $("nav").hidden = view === "login";
  clearInterval(pollTimer);
  pollTimer = null;
  if (view === "dashboard") {
    loadDashboard();
    pollTimer = setInterval(loadDashboard, 5000);
  }
  if (view === "accounts") {
    loadAccounts();
    pollTimer = setInterval(loadAccounts, 10000); // token state changes on its own (refresh, expiry)
  }
  if (view === "clients") loadClients();
  if (view === "sessions") {
    loadSessions();
    pollTimer = setInterval(loadSessions, 2000);
  }
  if (view === "certificates") loadCertificates();
  if (view === "queue") {
    queueStatus("", false);
    loadQueue();
    pollTimer = setInterval(loadQueue, 2000); // attempts, errors and states change on their own
  }
}

function showLogin() {
  csrf = null;
  show("login");
}

function statusText(endpoints) {
  return Object.entries(endpoints).map(([protocol, e]) => {
    let text = protocol + ": " + e.status;
    if (e.status_reason) text += " (" + e.status_reason + ")";
    return text;
  }).join("; ");
}

function mailboxText(a) {
  const pop3 = a.pop3_source === "imap"
    ? "POP3 from IMAP folder " + a.pop3_folder + (a.pop3_mark_seen ? " (marks seen)" : "")
    : "POP3 from the provider";
  const sent = a.saves_sent_copy ? "sent copies to " + a.sent_folder : "no sent copies";
  return pop3 + "; " + sent + " (" + a.save_sent + ")";
}

async function loadAccounts() {
  $("accounts-error").textContent = "";
  try {
    const accounts = await api("GET", "accounts");
    const tbody = $("accounts-table").tBodies[0];
    tbody.replaceChildren();
    for (const a of accounts) {
      const row = document.createElement("tr");
      row.dataset.account = a.name;
      cell(row, a.name);
      cell(row, a.local_user);
      cell(row, a.provider);
      cell(row, Object.keys(a.endpoints).join(", "));
      cell(row, a.enabled ? "yes" : "no");
      cell(row, a.last_login_at ? new Date(a.last_login_at * 1000).toISOString() : "never");
      const bad = Object.values(a.endpoints).some((e) => e.status !== "ok" && e.status !== "unknown");
      cell(row, statusText(a.endpoints), bad ? "status-bad" : "status-ok");
      const credential = cell(row, a.credential);
      if (a.oauth) {
        credential.append(" (" + a.oauth.client + ") ");
        credential.appendChild(stateBadge(a.oauth.state));
      }
      if (a.challenge_logins) credential.append("; APOP/CRAM-MD5 allowed");
      cell(row, mailboxText(a));
      const actions = cell(row, "");
      button(actions, "Test connection", () => runTest(a.name));
      button(actions, "Set up a client", () => showClientSetup(a.name));
      button(actions, "Edit", () => editAccount(a));
      button(actions, a.enabled ? "Disable" : "Enable", () => act(a.name, a.enabled ? "disable" : "enable"));
      button(actions, "Set local password", () => setPassword(a.name, "local"));
      if (a.credential !== "oauth2") button(actions, "Set remote password", () => setPassword(a.name, "remote"));
      button(actions, "Delete", () => removeAccount(a.name));
      tbody.appendChild(row);
      if (a.oauth) tbody.appendChild(oauthRow(a, row.cells.length));
    }
  } catch (e) {
    $("accounts-error").textContent = e.message;
  }
}

async function act(name, action) {
  try {
    await api("POST", "accounts/" + encodeURIComponent(name) + "/" + action);
  } catch (e) {
    $("accounts-error").textContent = e.message;
  }
  loadAccounts();
}

async function setPassword(name, which) {
  const value = prompt("New " + which + " password for " + name);
  if (!value) return;
  try {
    await api("POST", "accounts/" + encodeURIComponent(name) + "/password", { [which]: value });
  } catch (e) {
    $("accounts-error").textContent = e.message;
  }
}

async function removeAccount(name) {
  if (!confirm("Delete account " + name + "? Its open sessions are closed.")) return;
  try {
    await api("DELETE", "accounts/" + encodeURIComponent(name));
  } catch (e) {
    $("accounts-error").textContent = e.message;
  }
  loadAccounts();
}

function fillProviders() {
  const select = $("f-provider");
  select.replaceChildren();
  for (const p of [...providers, { name: "custom", title: "Custom (enter URLs)", login: "" }]) {
    const option = document.createElement("option");
    option.value = p.name;
    option.textContent = p.title;
    select.appendChild(option);
  }
  select.value = "custom";
}

function providerChanged() {
  const p = providers.find((x) => x.name === $("f-provider").value);
  $("f-provider-advice").textContent = p ? "Login: " + p.login : "";
  for (const protocol of ["imap", "pop3", "smtp"]) $("f-" + protocol).value = p ? p[protocol] : $("f-" + protocol).value;
  // A new account's default, as the server's: POP3 from IMAP where the provider has no POP3 (iCloud).
  if (!$("f-editing").value) $("f-pop3-source").value = p && !p.pop3 && p.imap ? "imap" : "native";
  pop3SourceChanged();
}

function pop3SourceChanged() {
  const fromImap = $("f-pop3-source").value === "imap";
  $("f-pop3-folder-label").hidden = !fromImap;
  $("f-pop3-mark-seen-label").hidden = !fromImap;
}

function resetForm() {
  $("account-form").reset();
  $("f-editing").value = "";
  $("f-name").disabled = false;
  $("f-local-password").required = true;
  $("f-remote-password").required = true;
  $("form-title").textContent = "Add an account";
  $("f-submit").textContent = "Add account";
  $("f-cancel").hidden = true;
  $("form-error").textContent = "";
  $("f-provider").value = "custom";
  $("f-credential").value = "password";
  $("f-credential").disabled = false;
  providerChanged();
  credentialChanged();
}

function editAccount(a) {
  resetForm();
  $("f-editing").value = a.name;
  $("f-name").value = a.name;
  $("f-name").disabled = true;
  $("f-local-user").value = a.local_user;
  $("f-remote-user").value = a.remote_user;
  $("f-local-password").required = false;
  $("f-remote-password").required = false;
  $("f-provider").value = "custom";
  for (const protocol of ["imap", "pop3", "smtp"]) $("f-" + protocol).value = a.endpoints[protocol] ? a.endpoints[protocol].url : "";
  $("f-senders").value = a.senders.join("\n");
  $("f-credential").value = a.credential;
  $("f-credential").disabled = true; // the kind is chosen when the account is added
  if (a.oauth) $("f-oauth-client").value = a.oauth.client;
  $("f-pop3-source").value = a.pop3_source;
  $("f-pop3-folder").value = a.pop3_folder;
  $("f-pop3-mark-seen").checked = a.pop3_mark_seen;
  $("f-challenge-logins").checked = a.challenge_logins;
  $("f-challenge-logins").dataset.stored = a.challenge_logins ? "on" : "off";
  $("f-save-sent").value = a.save_sent;
  $("f-sent-folder").value = a.sent_folder;
  pop3SourceChanged();
  credentialChanged();
  $("form-title").textContent = "Edit " + a.name + " (passwords: use the Set password buttons)";
  $("f-submit").textContent = "Save changes";
  $("f-cancel").hidden = false;
}

async function submitAccount(event) {
  event.preventDefault();
  $("form-error").textContent = "";
  const editing = $("f-editing").value;
  const body = {
    local_user: $("f-local-user").value,
    remote_user: $("f-remote-user").value,
    provider: $("f-provider").value,
    imap: $("f-imap").value,
    pop3: $("f-pop3").value,
    smtp: $("f-smtp").value,
    senders: $("f-senders").value.split("\n").map((s) => s.trim()).filter((s) => s),
    pop3_source: $("f-pop3-source").value,
    pop3_folder: $("f-pop3-folder").value,
    pop3_mark_seen: $("f-pop3-mark-seen").checked,
    save_sent: $("f-save-sent").value,
    sent_folder: $("f-sent-folder").value,
  };
  const oauth2 = $("f-credential").value === "oauth2";
  if (oauth2) body.oauth_client = $("f-oauth-client").value;
  const challenge = $("f-challenge-logins").checked;
  try {
    if (editing) {
      const path = "accounts/" + encodeURIComponent(editing);
      const stored = $("f-challenge-logins").dataset.stored === "on";
      const localPassword = $("f-local-password").value;
      if (challenge && !stored && !localPassword)
        throw new Error("Type the local password again to allow APOP and CRAM-MD5: they need it in reversible form.");
      if (stored && !challenge) body.challenge_logins = false;
      await api("PUT", path, body);
      if (challenge && !stored) await api("POST", path + "/password", { local: localPassword, challenge_logins: true });
    } else {
      body.name = $("f-name").value;
      body.local_password = $("f-local-password").value;
      body.challenge_logins = challenge;
      body.credential = oauth2 ? "oauth2" : "password";
      if (!oauth2) body.remote_password = $("f-remote-password").value;
      await api("POST", "accounts", body);
    }
    resetForm();
    loadAccounts();
  } catch (e) {
    $("form-error").textContent = e.message;
  }
}

async function runTest(name) {
  $("test-panel").hidden = false;
  $("test-account").textContent = name;
  $("test-steps").replaceChildren();
  $("test-result").textContent = "running...";
  try {
    const { id } = await api("POST", "accounts/" + encodeURIComponent(name) + "/test");
    for (let shown = 0; ;) {
      const status = await api("GET", "tests/" + id);
      for (; shown < status.steps.length; shown++) {
        const s = status.steps[shown];
        const li = document.createElement("li");
        li.className = s.ok ? "ok" : "bad";
        li.textContent = s.protocol + " " + s.step + (s.detail ? ": " + s.detail : "");
        $("test-steps").appendChild(li);
      }
      if (status.done) {
        $("test-result").textContent = status.ok ? "all checks passed" : "some checks failed";
        break;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  } catch (e) {
    $("test-result").textContent = e.message;
  }
  loadAccounts();
}

async function loadSessions() {
  try {
    const [sessions, events] = await Promise.all([api("GET", "sessions"), api("GET", "events")]);
    const tbody = $("sessions-table").tBodies[0];
    tbody.replaceChildren();
    for (const s of sessions) {
      const row = document.createElement("tr");
      for (const v of [s.protocol, s.client, s.account, s.since, s.bytes_up, s.bytes_down]) cell(row, v);
      tbody.appendChild(row);
    }
    const ebody = $("events-table").tBodies[0];
    ebody.replaceChildren();
    for (const e of events) {
      const row = document.createElement("tr");
      for (const v of [e.at, e.kind, e.protocol, e.client, e.account, e.detail]) cell(row, v);
      ebody.appendChild(row);
    }
  } catch (e) {
    /* a 401 already switched to the login view */
  }
}

// ---- the mail queue (smtp.spool): GET /api/v1/queue, and retry, delete and headers of one message.

const spoolModes = {
  off: "off (new mail is not queued; what is queued is still delivered)",
  devices: "devices (mail sent without AUTH from access.relay_without_auth)",
  all: "all (every client's mail)",
};

function sizeText(bytes) {
  if (bytes < 1024) return bytes + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  for (; value >= 1024 && unit < units.length - 1; unit++) value /= 1024;
  return (value < 10 ? value.toFixed(1) : String(Math.round(value))) + " " + units[unit];
}

function durationText(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return seconds + " s";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes + " min";
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
  return Math.floor(hours / 24) + " d" + (hours % 24 ? " " + (hours % 24) + " h" : "");
}

function isoTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString();
}

function nextAttemptText(q, now) {
  if (q.state === "delivering") return "now (being delivered)";
  if (q.state === "failed") return "none (failed for good)";
  if (q.next_attempt <= now) return "due now";
  return "in " + durationText(q.next_attempt - now);
}

function queueStatus(text, bad) {
  $("queue-status").textContent = text;
  $("queue-status").className = bad ? "error" : "";
}

function recipientsCell(row, q) {
  const td = cell(row, "");
  for (const r of q.recipients) {
    const line = document.createElement("div");
    line.textContent = r;
    td.appendChild(line);
  }
  for (const f of q.failed) {
    const line = document.createElement("div");
    line.className = "status-bad";
    line.textContent = "failed: " + f;
    td.appendChild(line);
  }
  return td;
}

let queueInstance = ""; // this instance's id when the spool is shared (several instances, one store)

function queueRow(q, now) {
  const row = document.createElement("tr");
  row.dataset.id = q.id;
  row.dataset.account = q.account;
  row.dataset.state = q.state;
  const sender = cell(row, q.sender || "<>");
  if (q.report) {
    const tag = document.createElement("span");
    tag.className = "queue-tag";
    tag.textContent = "delivery report";
    sender.append(" ");
    sender.appendChild(tag);
  }
  recipientsCell(row, q);
  cell(row, sizeText(q.size)).title = q.size + " bytes";
  cell(row, durationText(now - q.received)).title = "received " + isoTime(q.received);
  cell(row, q.attempts);
  const next = cell(row, nextAttemptText(q, now));
  if (q.state === "queued" && q.next_attempt > 0) next.title = isoTime(q.next_attempt);
  cell(row, q.last_error, "queue-last-error");
  const state = cell(row, "");
  const badge = document.createElement("span");
  badge.className = "queue-state state-" + q.state;
  badge.textContent = q.state;
  state.appendChild(badge);
  if (q.instance) { // the shared spool: which instance delivers it, and what was asked of it
    const owner = document.createElement("span");
    owner.className = "queue-instance";
    owner.textContent = q.instance === queueInstance ? " on this instance" : " on " + q.instance;
    state.appendChild(owner);
    if (q.request) {
      const asked = document.createElement("span");
      asked.className = "queue-tag";
      asked.textContent = q.request + " asked";
      state.append(" ");
      state.appendChild(asked);
    }
  }
  const actions = cell(row, "");
  const delivering = q.state === "delivering"; // the API answers 409 until the attempt ends
  button(actions, "Retry now", () => retryQueued(q)).disabled = delivering;
  button(actions, "Delete", () => deleteQueued(q)).disabled = delivering;
  button(actions, "Show headers", () => showQueuedHeaders(q));
  return row;
}

async function loadQueue() {
  let queue;
  try {
    queue = await api("GET", "queue");
  } catch (e) {
    $("queue-error").textContent = e.message; // a 401 already switched to the login view
    return;
  }
  $("queue-error").textContent = "";
  const now = Date.now() / 1000;
  const n = queue.messages.length;
  queueInstance = queue.shared ? queue.instance : "";
  $("queue-summary").textContent = "Spool mode: " + (spoolModes[queue.mode] || queue.mode) + ". " +
    (queue.shared ? "The spool all instances share (this one is " + queue.instance + "): " + n +
      (n === 1 ? " message; " : " messages; ") + "this instance holds " + sizeText(queue.bytes) + " of " +
      sizeText(queue.max_bytes) + "."
      : n + (n === 1 ? " message, " : " messages, ") + sizeText(queue.bytes) + " of " + sizeText(queue.max_bytes) +
      " used.");
  const byAccount = new Map();
  for (const q of queue.messages) {
    if (!byAccount.has(q.account)) byAccount.set(q.account, []);
    byAccount.get(q.account).push(q);
  }
  const tbody = $("queue-table").tBodies[0];
  tbody.replaceChildren();
  const columns = $("queue-table").tHead.rows[0].cells.length;
  for (const account of [...byAccount.keys()].sort()) {
    const messages = byAccount.get(account).sort((a, b) => a.received - b.received || a.id.localeCompare(b.id));
    const group = document.createElement("tr");
    group.className = "queue-account";
    group.dataset.account = account;
    const th = document.createElement("th");
    th.colSpan = columns;
    th.textContent = "Account " + account + ": " + messages.length + (messages.length === 1 ? " message" : " messages");
    group.appendChild(th);
    tbody.appendChild(group);
    for (const q of messages) tbody.appendChild(queueRow(q, now));
  }
  $("queue-table").hidden = n === 0;
  $("queue-empty").hidden = n !== 0;
  const shown = $("queue-headers-panel").dataset.id;
  if (shown && !queue.messages.some((q) => q.id === shown)) closeQueuedHeaders();
}

function messageLabel(q) {
  return "the message from " + (q.sender || "<>") + " to " + [...q.recipients, ...q.failed.map((f) => f.split(": ")[0])]
    .join(", ");
}

function ownerLabel(q) {
  return q.instance === queueInstance ? "this instance" : "instance " + q.instance;
}

async function retryQueued(q) {
  try {
    const done = await api("POST", "queue/" + encodeURIComponent(q.id) + "/retry");
    queueStatus(done.requested ? "Retry of " + messageLabel(q) + " asked of " + ownerLabel(q) + "; it retries within seconds."
      : "Retrying " + messageLabel(q) + " now.", false);
  } catch (e) {
    queueStatus("Retry failed: " + e.message, true);
  }
  loadQueue();
}

async function deleteQueued(q) {
  if (!confirm("Delete " + messageLabel(q) + "? It will not be delivered, and the sender gets no report.")) return;
  try {
    const done = await api("DELETE", "queue/" + encodeURIComponent(q.id));
    queueStatus(done.requested ? "Deletion of " + messageLabel(q) + " asked of " + ownerLabel(q) + "; it deletes it within seconds."
      : "Deleted " + messageLabel(q) + ".", false);
    if ($("queue-headers-panel").dataset.id === q.id) closeQueuedHeaders();
  } catch (e) {
    queueStatus("Delete failed: " + e.message, true);
  }
  loadQueue();
}

async function showQueuedHeaders(q) {
  try {
    const data = await api("GET", "queue/" + encodeURIComponent(q.id) + "/headers");
    $("queue-headers-id").textContent = messageLabel(q) + " (" + data.id + ")";
    $("queue-headers").textContent = data.headers;
    $("queue-headers-panel").dataset.id = data.id;
    $("queue-headers-panel").hidden = false;
  } catch (e) {
    queueStatus("Headers: " + e.message, true);
  }
}

function closeQueuedHeaders() {
  delete $("queue-headers-panel").dataset.id;
  $("queue-headers-panel").hidden = true;
  $("queue-headers").textContent = "";
}

async function start() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    try {
      const data = await api("POST", "login", { password: $("login-password").value });
      csrf = data.csrf;
      $("login-password").value = "";
      await afterLogin();
    } catch (e) {
      $("login-error").textContent = e.message;
    }
  });
  $("logout").addEventListener("click", async () => {
    await api("POST", "logout").catch(() => {});
    showLogin();
  });
  for (const b of document.querySelectorAll("nav button[data-view]")) b.addEventListener("click", () => show(b.dataset.view));
  $("account-form").addEventListener("submit", submitAccount);
  $("f-provider").addEventListener("change", providerChanged);
  $("f-cancel").addEventListener("click", resetForm);
  $("f-credential").addEventListener("change", credentialChanged);
  $("f-pop3-source").addEventListener("change", pop3SourceChanged);
  $("paste-form").addEventListener("submit", pasteRedirect);
  $("queue-headers-close").addEventListener("click", closeQueuedHeaders);
  $("tls-reload").addEventListener("click", reloadCertificates);
  $("d-drain").addEventListener("click", drainInstance);
  $("setup-copy").addEventListener("click", copySetup);
  $("setup-close").addEventListener("click", () => ($("setup-panel").hidden = true));
  $("consent-cancel").addEventListener("click", cancelConsent);
  $("consent-close").addEventListener("click", () => {
    consentId = null;
    $("consent-panel").hidden = true;
  });
  setInterval(tick, 1000);
  try {
    csrf = (await api("GET", "me")).csrf;
    await afterLogin();
  } catch (e) {
    showLogin();
  }
}

async function afterLogin() {
  providers = await api("GET", "providers");
  [oauthClients, oauthPresets] = await Promise.all([api("GET", "oauth-clients"), api("GET", "oauth-presets")]);
  fillOauthClientSelect();
  fillProviders();
  resetForm();
  show("dashboard");
}

document.addEventListener("DOMContentLoaded", start);
