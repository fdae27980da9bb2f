// mailgate admin page, OAuth2 part: the OAuth clients view, the token state under each oauth2 account, and the
// consent panel (device code, or the provider's sign-in with the redirect pasted back). Loaded after app.js and
// sharing its globals ($, api, cell, button, loadAccounts, oauthClients, oauthPresets, consentId); data is inserted
// with textContent only.
"use strict";

const stateHelp = {
  ok: "tokens valid",
  refreshing: "refreshing the access token now",
  degraded: "the token endpoint is failing; tokens kept, retried with backoff",
  needs_consent: "consent needed: client logins fail until it is given",
  config_error: "the OAuth client registration is wrong (see the last error)",
};

function stateBadge(state) {
  const span = document.createElement("span");
  span.className = "oauth-state state-" + state;
  span.textContent = state;
  span.title = stateHelp[state] || "";
  return span;
}

// Only web addresses become links (a provider's answer could hold a javascript: URL).
function safeHref(url) {
  return /^https?:\/\//i.test(url || "") ? url : "about:blank";
}

function timeText(unix) {
  return unix ? new Date(unix * 1000).toISOString().replace(".000Z", "Z") : "never";
}

// A countdown that tick() keeps current: seconds left now, counted on this browser's clock.
function countdown(secondsLeft, expiredText) {
  const span = document.createElement("span");
  span.className = "countdown";
  span.dataset.deadline = String(Date.now() + secondsLeft * 1000);
  span.dataset.expired = expiredText || "expired";
  renderCountdown(span);
  return span;
}

function renderCountdown(el) {
  const left = Math.round((Number(el.dataset.deadline) - Date.now()) / 1000);
  if (left <= 0) {
    el.textContent = el.dataset.expired;
    el.classList.add("expired");
    return;
  }
  const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
  el.textContent = (h ? h + "h " : "") + (h || m ? String(m).padStart(h ? 2 : 1, "0") + "m " : "") +
    String(s).padStart(h || m ? 2 : 1, "0") + "s";
  el.classList.remove("expired");
}

function tick() {
  for (const el of document.querySelectorAll("[data-deadline]")) renderCountdown(el);
}

function fact(list, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  if (value instanceof Node) dd.appendChild(value);
  else dd.textContent = value === undefined || value === null || value === "" ? "-" : String(value);
  list.append(dt, dd);
  return dd;
}

// The OAuth2 details of an account, in a row of its own under the account's row.
function oauthRow(a, columns) {
  const o = a.oauth;
  const row = document.createElement("tr");
  row.className = "oauth-row";
  row.dataset.oauthAccount = a.name;
  const td = document.createElement("td");
  td.colSpan = columns;
  const facts = document.createElement("dl");
  facts.className = "oauth-facts";
  const state = fact(facts, "OAuth state", stateBadge(o.state));
  state.append(" " + (stateHelp[o.state] || ""));
  if (o.retry_in) {
    state.append("; next attempt in ");
    state.appendChild(countdown(o.retry_in, "now"));
  }
  fact(facts, "Consented by", o.identity || (o.consented_at ? "(the provider did not say)" : "not consented yet"));
  fact(facts, "Consented", timeText(o.consented_at));
  fact(facts, "Scopes", o.scopes);
  if (o.access_expires_in === null || o.access_expires_in === undefined) fact(facts, "Access token", "none");
  else {
    const dd = fact(facts, "Access token expires in", countdown(o.access_expires_in));
    dd.append(" (" + timeText(o.access_expires_at) + ")");
    dd.classList.add("token-expiry");
  }
  fact(facts, "Last refresh", timeText(o.last_refresh_at));
  fact(facts, "Refreshes", o.refresh_count + " ok, " + o.refresh_failures + " failed");
  const e = o.last_error;
  if (e && e.error) {
    const dd = fact(facts, "Last error", "");
    dd.className = "status-bad last-error";
    dd.textContent = e.error + (e.description ? ": " + e.description : "") +
      (e.http_status ? " (HTTP " + e.http_status + ")" : "") + " at " + timeText(e.at);
  } else fact(facts, "Last error", "none");
  td.appendChild(facts);
  const client = oauthClients.find((c) => c.name === o.client);
  const flows = client ? client.flows : ["device", "code"];
  const actions = document.createElement("div");
  actions.className = "oauth-actions";
  if (flows.includes("device")) button(actions, "Consent with a device code", () => startDeviceConsent(a.name));
  if (flows.includes("code")) button(actions, "Sign in at the provider", () => startCodeConsent(a.name, a.remote_user));
  if (!client) actions.append(" OAuth client '" + o.client + "' is not configured.");
  td.appendChild(actions);
  row.appendChild(td);
  return row;
}

// ------------------------------------------------------------------ consent
function consentPanel(name, kind) {
  consentId = null;
  $("consent-panel").hidden = false;
  $("consent-account").textContent = name;
  $("consent-device").hidden = kind !== "device";
  $("consent-code").hidden = kind !== "code";
  $("consent-status").textContent = kind === "device" ? "asking the provider for a device code..." : "preparing the sign-in...";
  $("consent-status").className = "";
  $("consent-error").textContent = "";
  $("consent-steps").replaceChildren();
  $("consent-test-result").textContent = "";
  $("consent-cancel").hidden = false;
  $("consent-close").hidden = true;
  $("paste-url").value = "";
  $("consent-panel").scrollIntoView({ block: "nearest" });
}

function setCountdown(id, secondsLeft) {
  const el = $(id);
  el.dataset.deadline = String(Date.now() + secondsLeft * 1000);
  el.dataset.expired = "expired";
  renderCountdown(el);
}

async function startDeviceConsent(name) {
  consentPanel(name, "device");
  try {
    const job = await api("POST", "accounts/" + encodeURIComponent(name) + "/oauth/device");
    $("consent-verification").href = safeHref(job.verification_uri);
    $("consent-verification").textContent = job.verification_uri;
    $("consent-user-code").textContent = job.user_code;
    $("consent-complete-line").hidden = !job.verification_uri_complete;
    if (job.verification_uri_complete) $("consent-complete").href = safeHref(job.verification_uri_complete);
    setCountdown("consent-device-countdown", job.expires_in);
    followConsent(job);
  } catch (e) {
    consentFailed(e.message);
  }
}

async function startCodeConsent(name, remoteUser) {
  consentPanel(name, "code");
  $("consent-user").textContent = remoteUser;
  try {
    const job = await api("POST", "accounts/" + encodeURIComponent(name) + "/oauth/authorize");
    $("consent-open").href = safeHref(job.authorization_url);
    $("consent-redirect").textContent = job.redirect_uri;
    // The redirect lands on this browser's session only when this page is open under that same address.
    const redirectHost = new URL(job.redirect_uri).host;
    $("consent-elsewhere").hidden = redirectHost === location.host;
    $("consent-elsewhere").textContent = "This page is open at " + location.host + ", not " + redirectHost +
      ": the gateway's page at the redirect will not see this login, so paste the redirected address here.";
    setCountdown("consent-code-countdown", job.expires_in);
    window.open(safeHref(job.authorization_url), "_blank", "noopener");
    followConsent(job);
  } catch (e) {
    consentFailed(e.message);
  }
}

function consentFailed(message) {
  $("consent-status").textContent = "";
  $("consent-error").textContent = message;
  $("consent-cancel").hidden = true;
  $("consent-close").hidden = false;
}

function consentErrorText(job) {
  const e = job.error;
  if (!e) return job.message;
  // The OAuth error as the provider sent it (error, description verbatim, HTTP status), then when.
  return job.message + " [error: " + e.error + (e.description ? "; description: " + e.description : "") +
    (e.http_status ? "; HTTP " + e.http_status : "") + "; at " + timeText(e.at) + "]";
}

// Polls the consent request until it succeeds or fails, then follows the login test with the new token.
async function followConsent(job) {
  const id = job.id;
  consentId = id;
  for (;;) {
    if (consentId !== id) return; // replaced or closed
    if (job.status === "pending" || job.status === "exchanging") {
      $("consent-status").textContent = job.message;
    } else if (job.status === "ok") {
      $("consent-status").textContent = job.message.charAt(0).toUpperCase() + job.message.slice(1);
      $("consent-status").className = "status-ok";
      $("consent-device").hidden = true;
      $("consent-code").hidden = true;
      $("consent-cancel").hidden = true;
      $("consent-close").hidden = false;
      loadAccounts();
      if (job.test) await followTest(job.test, id);
      return;
    } else {
      consentFailed(consentErrorText(job));
      $("consent-device").hidden = true;
      $("consent-code").hidden = true;
      loadAccounts();
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
    try {
      job = await api("GET", "consents/" + id);
    } catch (e) {
      if (consentId === id) consentFailed(e.message);
      return;
    }
  }
}

async function followTest(testId, id) {
  $("consent-test-result").textContent = "trying a provider login with the new token...";
  for (let shown = 0; ;) {
    const status = await api("GET", "tests/" + testId).catch(() => null);
    if (!status || consentId !== id) return;
    for (; shown < status.steps.length; shown++) {
      const s = status.steps[shown];
      const li = document.createElement("li");
      li.className = s.ok ? "ok" : "bad";
      li.textContent = s.protocol + " " + s.step + (s.detail ? ": " + s.detail : "");
      $("consent-steps").appendChild(li);
    }
    if (status.done) {
      $("consent-test-result").textContent = status.ok ? "provider login with the new token works"
        : "the provider login with the new token failed";
      $("consent-test-result").className = status.ok ? "status-ok" : "status-bad";
      loadAccounts();
      return;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function pasteRedirect(event) {
  event.preventDefault();
  $("consent-error").textContent = "";
  const url = $("paste-url").value.trim();
  if (!url) return;
  try {
    $("consent-status").textContent = "exchanging the authorization code...";
    await api("POST", "oauth/paste", { url });
    $("paste-url").value = "";
  } catch (e) {
    $("consent-error").textContent = e.message;
  }
}

async function cancelConsent() {
  const id = consentId;
  consentId = null;
  if (id) await api("DELETE", "consents/" + id).catch(() => {});
  $("consent-panel").hidden = true;
}

// ------------------------------------------------------------------ OAuth clients
const clientFields = [
  ["client_id", "Client ID", "text"],
  ["client_secret", "Client secret", "password"],
  ["tenant", "Tenant (Microsoft)", "text"],
  ["authorize_url", "Authorization URL (code + PKCE)", "url"],
  ["token_url", "Token URL", "url"],
  ["device_url", "Device authorization URL", "url"],
  ["revoke_url", "Revocation URL", "url"],
  ["scope", "Scope (space separated)", "text"],
];

async function loadClients() {
  $("clients-error").textContent = "";
  try {
    [oauthClients, oauthPresets] = await Promise.all([api("GET", "oauth-clients"), api("GET", "oauth-presets")]);
  } catch (e) {
    $("clients-error").textContent = e.message;
    return;
  }
  const list = $("clients-list");
  list.replaceChildren();
  if (!oauthClients.length) {
    const p = document.createElement("p");
    p.textContent = "No OAuth client yet.";
    list.appendChild(p);
  }
  for (const c of oauthClients) list.appendChild(clientCard(c));
  $("client-new").replaceChildren(clientCard(null));
  fillOauthClientSelect();
}

function presetOf(name) {
  return oauthPresets.find((p) => p.name === name) || { name, checklist: [], defaults: {}, mechanisms: ["xoauth2", "oauthbearer"] };
}

function labelled(form, text, input) {
  const label = document.createElement("label");
  label.append(text + " ");
  label.appendChild(input);
  form.appendChild(label);
  return label;
}

function select(name, options, value) {
  const s = document.createElement("select");
  s.name = name;
  for (const [v, text] of options) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = text;
    s.appendChild(o);
  }
  if (value !== undefined) s.value = value;
  return s;
}

// One client: its form, and next to it the registration checklist of its preset. c === null: a new client.
function clientCard(c) {
  const card = document.createElement("div");
  card.className = "client-card";
  if (c) card.dataset.client = c.name;
  const form = document.createElement("form");
  form.className = "client-form";
  const readOnly = c && c.from_config;
  const name = document.createElement("input");
  name.name = "name";
  name.required = true;
  name.autocomplete = "off";
  if (c) {
    name.value = c.name;
    name.disabled = true;
  }
  labelled(form, "Name", name);
  const preset = select("preset", [["custom", "Custom"], ["google", "Google"], ["microsoft", "Microsoft"]],
                        c ? c.preset : "custom");
  labelled(form, "Preset", preset);
  for (const [key, text, type] of clientFields) {
    const input = document.createElement("input");
    input.name = key;
    input.type = type === "password" ? "password" : "text";
    input.autocomplete = type === "password" ? "new-password" : "off";
    input.spellcheck = false;
    if (c && key !== "client_secret") input.value = c[key] || "";
    if (key === "client_secret")
      input.placeholder = c && c.client_secret_set ? "set (leave empty to keep it)" : "not set (public client)";
    labelled(form, text, input);
  }
  const mechanism = select("mechanism", [["xoauth2", "XOAUTH2"], ["oauthbearer", "OAUTHBEARER (RFC 7628)"]],
                           c ? c.mechanism : "xoauth2");
  labelled(form, "SASL mechanism", mechanism);
  const facts = document.createElement("p");
  facts.className = "hint client-facts";
  if (c) {
    facts.textContent = "Client secret: " + (c.client_secret_set ? "set" : "not set") +
      ". Consent: " + (c.flows.length ? c.flows.map((f) => f === "code" ? "authorization code + PKCE" : "device code").join(", ") : "none") +
      ". Used by: " + (c.used_by.length ? c.used_by.join(", ") : "no account") + "." +
      (readOnly ? " From the config file ([oauth." + c.name + "]): read-only here." : "");
  } else facts.textContent = "Empty URL and scope fields take the preset's values.";
  form.appendChild(facts);
  if (c && c.client_secret_set && !readOnly) {
    const clear = document.createElement("input");
    clear.type = "checkbox";
    clear.name = "clear_client_secret";
    const label = labelled(form, "Remove the stored client secret", clear);
    label.className = "checkbox";
  }
  const error = document.createElement("p");
  error.className = "error";
  error.setAttribute("role", "alert");
  if (!readOnly) {
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = c ? "Save" : "Add client";
    form.appendChild(save);
    if (c) button(form, "Delete", () => removeClient(c.name, error));
  }
  form.appendChild(error);
  if (readOnly) for (const el of form.elements) el.disabled = true;
  const aside = document.createElement("aside");
  aside.className = "checklist";
  const applyPreset = (reset) => {
    const p = presetOf(preset.value);
    if (reset) for (const key of ["authorize_url", "token_url", "device_url", "revoke_url", "scope"]) form.elements[key].value = "";
    for (const key of ["authorize_url", "token_url", "device_url", "revoke_url", "scope", "tenant"])
      form.elements[key].placeholder = p.defaults[key] ? "preset: " + p.defaults[key] : "";
    for (const o of mechanism.options) o.disabled = !p.mechanisms.includes(o.value);
    if (!p.mechanisms.includes(mechanism.value)) mechanism.value = p.mechanisms[0];
    const h = document.createElement("h4");
    h.textContent = "Registration checklist (" + p.name + ")";
    const ol = document.createElement("ol");
    for (const line of p.checklist) {
      const li = document.createElement("li");
      li.textContent = line;
      ol.appendChild(li);
    }
    aside.replaceChildren(h, ol);
  };
  applyPreset(false);
  if (!readOnly) {
    // Another preset (or tenant) brings its own URLs: clear the old ones so that the preset fills them in.
    preset.addEventListener("change", () => applyPreset(true));
    form.elements.tenant.addEventListener("change", () => {
      if (preset.value === "microsoft") applyPreset(true);
    });
  }
  form.addEventListener("submit", (event) => saveClient(event, form, c, error));
  card.append(form, aside);
  return card;
}

async function saveClient(event, form, c, error) {
  event.preventDefault();
  error.textContent = "";
  const body = { preset: form.elements.preset.value, mechanism: form.elements.mechanism.value };
  for (const [key] of clientFields) body[key] = form.elements[key].value.trim();
  if (form.elements.clear_client_secret) body.clear_client_secret = form.elements.clear_client_secret.checked;
  try {
    if (c) await api("PUT", "oauth-clients/" + encodeURIComponent(c.name), body);
    else {
      body.name = form.elements.name.value.trim();
      await api("POST", "oauth-clients", body);
    }
    form.elements.client_secret.value = "";
    await loadClients();
  } catch (e) {
    error.textContent = e.message;
  }
}

async function removeClient(name, error) {
  if (!confirm("Delete OAuth client " + name + "?")) return;
  try {
    await api("DELETE", "oauth-clients/" + encodeURIComponent(name));
    await loadClients();
  } catch (e) {
    error.textContent = e.message;
  }
}

function fillOauthClientSelect() {
  const s = $("f-oauth-client");
  const keep = s.value;
  s.replaceChildren();
  for (const c of oauthClients) {
    const o = document.createElement("option");
    o.value = c.name;
    o.textContent = c.name + " (" + c.preset + ")";
    s.appendChild(o);
  }
  if (oauthClients.some((c) => c.name === keep)) s.value = keep;
}

function credentialChanged() {
  const oauth2 = $("f-credential").value === "oauth2";
  const editing = !!$("f-editing").value;
  $("f-oauth-client-label").hidden = !oauth2;
  $("f-oauth-hint").hidden = !oauth2 || editing;
  $("f-remote-password-label").hidden = oauth2 || editing;
  $("f-remote-password").required = !oauth2 && !editing;
  if (oauth2) $("f-remote-password").value = "";
}
