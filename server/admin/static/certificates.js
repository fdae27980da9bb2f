// mailgate admin page: the LAN certificates (what the listeners present, reload, and what clients install).
// Shares app.js's global scope (api, cell, $).
"use strict";

const trustHints = {
  "local CA": "Install the local CA once on each client that warns about the certificate: every certificate the " +
    "gateway makes later is signed by it. Windows and phones take the .crt file; compare the fingerprint.",
  "self-signed": "The gateway presents a self-signed ECDSA certificate to current clients and an RSA one to old " +
    "clients (TLS 1.0, Windows 7 and earlier). A client that warns about the certificate needs the one it is shown; " +
    "with tls.local_ca = true, clients install one CA instead.",
  configured: "These certificates come from tls.cert; a client that does not already trust their issuer needs the " +
    "top of the chain installed.",
};

function dayText(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 10);
}

function daysLeft(unixSeconds) {
  return Math.floor((unixSeconds - Date.now() / 1000) / 86400);
}

// Download links for one trust item of GET /api/v1/tls (also used by the client setup panel).
function trustLinks(parent, t) {
  for (const [label, path] of [[".crt (Windows, phones)", t.der], [".pem", t.pem]]) {
    const a = document.createElement("a");
    a.href = "/api/v1/" + path;
    a.textContent = label;
    a.setAttribute("download", "");
    parent.appendChild(a);
    parent.appendChild(document.createTextNode(" "));
  }
}

async function loadCertificates() {
  let tls;
  try {
    tls = await api("GET", "tls");
  } catch (e) {
    $("tls-error").textContent = e.message;
    return;
  }
  $("tls-error").textContent = "";
  $("tls-summary").textContent = "Source: " + tls.source + ". Clients from TLS " + tls.min_version +
    (tls.legacy ? " (legacy profile: TLS 1.0/1.1 with AES-CBC-SHA suites for old clients)." : ".") +
    " Loaded " + new Date(tls.loaded_at * 1000).toLocaleString() + ".";
  const tbody = $("tls-table").tBodies[0];
  tbody.replaceChildren();
  for (const c of tls.certificates) {
    const row = document.createElement("tr");
    cell(row, c.key_type);
    cell(row, c.subject);
    cell(row, c.names.join(", "));
    cell(row, c.self_signed ? "self-signed" : c.issuer);
    const left = daysLeft(c.not_after);
    cell(row, dayText(c.not_after) + " (" + left + " days)", left < 14 ? "status-bad" : "");
    cell(row, c.sha256, "fingerprint");
    tbody.appendChild(row);
  }
  $("tls-trust-hint").textContent = trustHints[tls.source] || "";
  const trust = $("tls-trust-table").tBodies[0];
  trust.replaceChildren();
  for (const t of tls.trust) {
    const row = document.createElement("tr");
    cell(row, t.label + ": " + t.subject);
    cell(row, t.sha256, "fingerprint");
    cell(row, dayText(t.not_after));
    trustLinks(cell(row, ""), t);
    trust.appendChild(row);
  }
}

async function reloadCertificates() {
  $("tls-status").textContent = "";
  $("tls-error").textContent = "";
  try {
    const result = await api("POST", "tls/reload");
    $("tls-status").textContent = result.message;
  } catch (e) {
    $("tls-error").textContent = e.message;
  }
  loadCertificates();
}
