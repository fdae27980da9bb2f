// mailgate admin page: the "Set up a client" panel of an account (settings to type, the certificate to install,
// notes per client). Shares the global scope of app.js (api, cell, $) and certificates.js (trustLinks).
"use strict";

function setupText(s) {
  const lines = ["Account settings for " + s.address];
  for (const server of s.servers) {
    lines.push((server.protocol === "smtp" ? "Outgoing " : "Incoming ") + server.protocol.toUpperCase() +
      ": server " + s.server + ", port " + server.port + ", " + server.security + ", user name " + s.user);
  }
  lines.push("Password: the local password your administrator gave you (not the provider's).");
  return lines.join("\n");
}

async function showClientSetup(name) {
  $("setup-panel").hidden = false;
  $("setup-account").textContent = name;
  $("setup-copied").textContent = "";
  const tbody = $("setup-table").tBodies[0];
  tbody.replaceChildren();
  $("setup-trust").replaceChildren();
  let s;
  try {
    s = await api("GET", "accounts/" + encodeURIComponent(name) + "/setup");
  } catch (e) {
    $("setup-text").textContent = e.message;
    return;
  }
  for (const server of s.servers) {
    const row = document.createElement("tr");
    cell(row, server.protocol.toUpperCase());
    cell(row, s.server);
    cell(row, server.port);
    cell(row, server.security);
    cell(row, s.user);
    tbody.appendChild(row);
  }
  $("setup-text").textContent = setupText(s);
  try {
    const tls = await api("GET", "tls");
    for (const t of tls.trust) {
      const li = document.createElement("li");
      li.append(t.label + ": " + t.subject + " — SHA-256 ");
      const fp = document.createElement("span");
      fp.className = "fingerprint";
      fp.textContent = t.sha256;
      li.append(fp, " ");
      trustLinks(li, t);
      $("setup-trust").appendChild(li);
    }
  } catch (e) {
    $("setup-trust").textContent = e.message;
  }
  $("setup-panel").scrollIntoView();
}

async function copySetup() {
  const text = $("setup-text").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Plain HTTP on a LAN address is no secure context: fall back to selecting the text for Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents($("setup-text"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    $("setup-copied").textContent = "Selected: press Ctrl+C to copy.";
    return;
  }
  $("setup-copied").textContent = "Copied.";
}
