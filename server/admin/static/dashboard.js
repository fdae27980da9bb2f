// mailgate admin page: the dashboard (GET /api/v1/dashboard), charts drawn as plain SVG. Shares app.js's global
// scope (api, cell, $) and certificates.js's (dayText, daysLeft).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const protocolColors = { imap: "#2563eb", pop3: "#16a34a", smtp: "#d97706" };

function svgElement(name, attributes, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function timeLabel(unixSeconds) {
  return new Date(unixSeconds * 1000).toTimeString().slice(0, 5);
}

// A chart of `series` ([{label, color, values}], one value per minute of `history`) as lines or bars.
function drawChart(container, history, series, kind) {
  const width = 720, height = 180, left = 34, bottom = 20, top = 8;
  const plotW = width - left - 8, plotH = height - top - bottom;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": series.map((s) => s.label).join(", ") + " over the last hour" });
  const x = (i) => left + (history.length <= 1 ? 0 : (i * plotW) / (history.length - 1));
  const y = (v) => top + plotH - (v * plotH) / max;
  svg.appendChild(svgElement("line", { x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, class: "axis" }));
  svg.appendChild(svgElement("line", { x1: left, y1: top, x2: left, y2: top + plotH, class: "axis" }));
  svg.appendChild(svgElement("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, max));
  svg.appendChild(svgElement("text", { x: left - 4, y: top + plotH, "text-anchor": "end" }, 0));
  for (const i of [0, 15, 30, 45, history.length - 1]) {
    if (!history[i]) continue;
    const anchor = i === 0 ? "start" : i === history.length - 1 ? "end" : "middle";
    svg.appendChild(svgElement("text", { x: x(i), y: height - 4, "text-anchor": anchor }, timeLabel(history[i].start)));
  }
  if (kind === "lines") {
    for (const s of series) {
      const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.appendChild(svgElement("polyline", { points, fill: "none", stroke: s.color, "stroke-width": 2,
        "data-series": s.label }));
    }
  } else {
    const slot = plotW / Math.max(1, history.length);
    const barW = Math.max(1, (slot * 0.8) / series.length);
    series.forEach((s, k) => s.values.forEach((v, i) => {
      if (v === 0) return;
      svg.appendChild(svgElement("rect", { x: (left + i * slot + k * barW).toFixed(1), y: y(v).toFixed(1),
        width: barW.toFixed(1), height: (top + plotH - y(v)).toFixed(1), fill: s.color, "data-series": s.label }));
    }));
  }
  const legend = document.createElement("p");
  legend.className = "legend";
  for (const s of series) {
    const swatch = document.createElement("span");
    swatch.style.background = s.color;
    legend.append(swatch, s.label);
  }
  container.replaceChildren(svg, legend);
}

function fillTable(id, rows) {
  const tbody = $(id).tBodies[0];
  tbody.replaceChildren();
  for (const values of rows) {
    const row = document.createElement("tr");
    for (const v of values) cell(row, v);
    tbody.appendChild(row);
  }
}

async function loadDashboard() {
  let d;
  try {
    d = await api("GET", "dashboard");
  } catch (e) {
    $("dashboard-error").textContent = e.message;
    return;
  }
  $("dashboard-error").textContent = "";
  const now = Object.values(d.sessions_now).reduce((a, b) => a + b, 0);
  $("d-sessions").textContent = now;
  $("d-logins-ok").textContent = d.last_hour.logins_ok;
  $("d-logins-failed").textContent = d.last_hour.logins_failed;
  $("d-messages").textContent = d.last_hour.messages;
  drawChart($("d-sessions-chart"), d.history, ["imap", "pop3", "smtp"].map((p) => ({
    label: p.toUpperCase(), color: protocolColors[p], values: d.history.map((m) => m.sessions[p] || 0) })), "lines");
  drawChart($("d-logins-chart"), d.history, [
    { label: "logged in", color: "#16a34a", values: d.history.map((m) => m.logins_ok) },
    { label: "failed", color: "#dc2626", values: d.history.map((m) => m.logins_failed) },
  ], "bars");
  if (d.tls) {
    $("d-tls").textContent = "TLS from " + d.tls.min_version + (d.tls.legacy ? " (legacy profile for old clients)" : "") +
      "; certificates: " + d.tls.source + ".";
  }
  fillTable("d-listeners", d.listeners.map((l) => [l.protocol.toUpperCase(), l.port, l.mode,
    d.sessions_now[l.protocol] || 0]));
  if (d.draining) {
    $("d-drain").disabled = true;
    $("d-drain-state").textContent = "Draining: the mail listeners are closed, /healthz reports not ready; " + now +
      " session(s) left. Restart the gateway to take clients again.";
  }
  const errors = Object.entries(d.upstream_errors).sort((a, b) => b[1] - a[1]);
  fillTable("d-errors", errors.length ? errors : [["none", ""]]);
  fillTable("d-certificates", d.certificates.map((c) =>
    [c.key_type, c.subject, dayText(c.not_after) + " (" + daysLeft(c.not_after) + " days)"]));
}

async function drainInstance() {
  if (!confirm("Drain this instance? It stops taking new mail clients until it is restarted; open sessions go on.")) return;
  try {
    await api("POST", "drain");
  } catch (e) {
    $("dashboard-error").textContent = e.message;
    return;
  }
  loadDashboard();
}
