// Drives the admin page in real headless Chromium (playwright-core): log in, add an account for the rig, run
// Test connection, watch a live IMAP session appear, disable the account, and see the next login fail; at the end
// drain the instance from the dashboard.
// Inputs come from the environment (set by test_admin_page.py); screenshots go to SCREENSHOT_DIR.
import { launchChromium } from "./browser.mjs";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const env = process.env;
const url = env.ADMIN_URL;
const shots = env.SCREENSHOT_DIR;
mkdirSync(shots, { recursive: true });
const helper = path.join(path.dirname(new URL(import.meta.url).pathname), "imap_session.py");

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("dialog", (d) => d.accept());

  await page.goto(url);
  await page.waitForSelector("#login-view:not([hidden])");
  await page.screenshot({ path: path.join(shots, "login.png"), fullPage: true });
  await page.fill("#login-password", "wrong");
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
  await page.fill("#login-password", env.ADMIN_PASSWORD);
  await page.click("#login-form button[type=submit]");
  // The dashboard is the first view: listeners with their modes, certificates with their expiry, two charts.
  await page.waitForSelector("#dashboard-view:not([hidden])");
  await page.waitForFunction(() => document.querySelectorAll("#d-listeners tbody tr").length === 6 &&
                             document.querySelectorAll("#d-certificates tbody tr").length === 2 &&
                             document.querySelectorAll("#d-sessions-chart svg polyline").length === 3);
  assert.ok((await page.textContent("#d-tls")).startsWith("TLS from 1.2"));
  await page.click('nav button[data-view="accounts"]');
  await page.waitForSelector("#accounts-view:not([hidden])");

  // A hostile account name from the API test must render as text, not markup.
  // Add the rig account with custom endpoints.
  await page.fill("#f-name", "browser");
  await page.fill("#f-local-user", "browser-local");
  await page.fill("#f-local-password", "browser-pw");
  await page.selectOption("#f-provider", "custom");
  await page.fill("#f-remote-user", env.RIG_USER);
  await page.fill("#f-remote-password", env.RIG_PASSWORD);
  await page.fill("#f-imap", env.RIG_IMAP);
  await page.fill("#f-pop3", "");
  await page.fill("#f-smtp", env.RIG_SMTP);
  // Mailbox options: the POP3 folder fields show only for POP3 from IMAP.
  assert.equal(await page.isVisible("#f-pop3-folder"), false);
  await page.selectOption("#f-pop3-source", "imap");
  assert.equal(await page.isVisible("#f-pop3-folder"), true);
  await page.fill("#f-pop3-folder", "Archive");
  await page.check("#f-pop3-mark-seen");
  await page.selectOption("#f-save-sent", "never");
  await page.click("#f-submit");
  const row = page.locator('#accounts-table tr[data-account="browser"]');
  await row.waitFor();
  const mailboxCell = () => row.locator("td").nth(8).textContent();
  assert.equal(await mailboxCell(), "POP3 from IMAP folder Archive (marks seen); no sent copies (never)");
  // Edit them: the form shows what is stored, and saves the change.
  await row.getByRole("button", { name: "Edit" }).click();
  assert.equal(await page.inputValue("#f-pop3-source"), "imap");
  assert.equal(await page.inputValue("#f-pop3-folder"), "Archive");
  assert.equal(await page.isChecked("#f-pop3-mark-seen"), true);
  assert.equal(await page.inputValue("#f-save-sent"), "never");
  await page.fill("#f-pop3-folder", "INBOX");
  await page.selectOption("#f-save-sent", "always");
  await page.fill("#f-sent-folder", "Sent Items");
  await page.click("#f-submit");
  await page.waitForFunction(() => {
    const tr = document.querySelector('#accounts-table tr[data-account="browser"]');
    return tr && tr.cells[8].textContent === "POP3 from IMAP folder INBOX (marks seen); sent copies to Sent Items (always)";
  });
  // APOP / CRAM-MD5: off unless asked; turning them on for an existing account needs the local password again.
  await row.getByRole("button", { name: "Edit" }).click();
  assert.equal(await page.isChecked("#f-challenge-logins"), false);
  assert.ok((await page.textContent("#f-challenge-hint")).includes("reversible form"));
  await page.check("#f-challenge-logins");
  await page.click("#f-submit");
  await page.waitForFunction(() => document.getElementById("form-error").textContent.includes("local password again"));
  await page.fill("#f-local-password", "browser-pw");
  await page.click("#f-submit");
  await page.waitForFunction(() => {
    const tr = document.querySelector('#accounts-table tr[data-account="browser"]');
    return tr && tr.cells[7].textContent.includes("APOP/CRAM-MD5 allowed");
  });
  await row.getByRole("button", { name: "Edit" }).click();
  assert.equal(await page.isChecked("#f-challenge-logins"), true);
  await page.click("#f-cancel");
  await page.screenshot({ path: path.join(shots, "accounts.png"), fullPage: true });

  // A plaintext endpoint is refused with the reason.
  await page.fill("#f-name", "plain");
  await page.fill("#f-local-user", "plain-local");
  await page.fill("#f-local-password", "x");
  await page.fill("#f-remote-user", "x@example.test");
  await page.fill("#f-remote-password", "x");
  await page.fill("#f-imap", "imap://mail.example.test");
  await page.fill("#f-smtp", "");
  await page.click("#f-submit");
  await page.waitForFunction(() => document.getElementById("form-error").textContent.includes("no TLS"));
  await page.click("#f-cancel").catch(() => {});

  // Test connection: every step of both protocols passes.
  await row.getByRole("button", { name: "Test connection" }).click();
  await page.waitForFunction(() => document.getElementById("test-result").textContent === "all checks passed",
                             null, { timeout: 30000 });
  const steps = await page.locator("#test-steps li").allTextContents();
  for (const protocol of ["imap", "smtp"])
    for (const step of ["resolve", "connect", "tls", "login", "logout"])
      assert.ok(steps.some((s) => s.startsWith(`${protocol} ${step}`)), `missing ${protocol} ${step} in ${steps}`);
  assert.equal(await page.locator("#test-steps li.bad").count(), 0);
  await page.screenshot({ path: path.join(shots, "test-connection.png"), fullPage: true });

  // Set up a client: the settings to type (the gateway's listeners, the local user), the certificate to install.
  await row.getByRole("button", { name: "Set up a client" }).click();
  await page.waitForFunction(() => document.querySelectorAll("#setup-table tbody tr").length > 0 &&
                             document.querySelectorAll("#setup-trust li").length > 0);
  const setupRows = await page.locator("#setup-table tbody tr").evaluateAll((trs) =>
    trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  const imapRows = setupRows.filter((r) => r[0] === "IMAP");
  assert.ok(imapRows.some((r) => r[2] === env.GATEWAY_IMAP_PORT && r[3] === "STARTTLS" && r[4] === "browser-local"),
            JSON.stringify(setupRows));
  assert.ok(setupRows.some((r) => r[0] === "POP3"), "POP3 from IMAP is offered: " + JSON.stringify(setupRows));
  assert.ok(setupRows.some((r) => r[0] === "SMTP"), JSON.stringify(setupRows));
  assert.ok((await page.textContent("#setup-text")).includes("user name browser-local"));
  assert.ok((await page.textContent("#setup-notes")).includes("Windows XP cannot use TLS"));
  const crt = await page.locator("#setup-trust a", { hasText: ".crt" }).first().getAttribute("href");
  const download = await page.request.get(new URL(crt, url).href);
  assert.equal(download.status(), 200);
  assert.equal((await download.body())[0], 0x30, "the .crt is DER (an ASN.1 SEQUENCE)");
  await page.click("#setup-copy");
  await page.waitForFunction(() => document.getElementById("setup-copied").textContent.length > 0);
  await page.screenshot({ path: path.join(shots, "client-setup.png"), fullPage: true });
  await page.click("#setup-close");

  // A real IMAP client logs in through the gateway and shows up in the live table.
  const hold = spawn("python3", [helper, "hold", env.GATEWAY_IMAP_PORT, "browser-local", "browser-pw"]);
  let holdOutput = "";
  hold.stdout.on("data", (d) => (holdOutput += d));
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("imaplib login timed out: " + holdOutput)), 30000);
    hold.stdout.on("data", () => holdOutput.includes("LOGGED_IN") && (clearTimeout(t), resolve()));
    hold.on("exit", (code) => reject(new Error("imaplib exited " + code + ": " + holdOutput)));
  });
  await page.click('nav button[data-view="sessions"]');
  await page.waitForFunction(() => [...document.querySelectorAll("#sessions-table tbody tr")]
    .some((tr) => tr.cells[0].textContent === "imap" && tr.cells[2].textContent === "browser"), null, { timeout: 10000 });
  await page.screenshot({ path: path.join(shots, "sessions.png"), fullPage: true });
  // The dashboard counts the live session and the logins of the last hour (one passed, from imaplib).
  await page.click('nav button[data-view="dashboard"]');
  await page.waitForFunction(() => Number(document.getElementById("d-sessions").textContent) >= 1 &&
                             Number(document.getElementById("d-logins-ok").textContent) >= 1, null, { timeout: 10000 });
  const imapLine = await page.getAttribute('#d-sessions-chart polyline[data-series="IMAP"]', "points");
  const lastY = Number(imapLine.trim().split(" ").pop().split(",")[1]);
  const baseY = Number(imapLine.trim().split(" ")[0].split(",")[1]);
  assert.ok(lastY < baseY, "the IMAP line rises at the end: " + imapLine.slice(-60));
  assert.ok((await page.locator('#d-logins-chart rect[data-series="logged in"]').count()) >= 1);
  await page.screenshot({ path: path.join(shots, "dashboard.png"), fullPage: true });

  // Disable it in the page: the open session is closed and the next login fails.
  await page.click('nav button[data-view="accounts"]');
  await row.getByRole("button", { name: "Disable" }).click();
  await page.waitForFunction(() => {
    const tr = document.querySelector('#accounts-table tr[data-account="browser"]');
    return tr && tr.cells[4].textContent === "no";
  });
  hold.stdin.end();
  await new Promise((resolve) => hold.on("exit", resolve));
  assert.ok(holdOutput.includes("CLOSED_BY_GATEWAY"), "the open session was not closed: " + holdOutput);
  const retry = spawnSync("python3", [helper, "try", env.GATEWAY_IMAP_PORT, "browser-local", "browser-pw"],
                          { encoding: "utf8", timeout: 30000 });
  assert.equal(retry.status, 3, "login after disabling should be refused: " + retry.stdout + retry.stderr);

  // The hostile name added by the test runner is shown as text.
  const inert = await page.evaluate(() => ({
    scripts: document.querySelectorAll("#accounts-table script").length,
    text: [...document.querySelectorAll("#accounts-table td")].some((td) => td.textContent.includes("<script>")),
  }));
  assert.deepEqual(inert, { scripts: 0, text: true });

  // Drain this instance from the dashboard (the confirm dialog is accepted): the page says so, and the mail
  // listener refuses new connections.
  await page.click('nav button[data-view="dashboard"]');
  await page.click("#d-drain");
  await page.waitForFunction(() => document.getElementById("d-drain-state").textContent.startsWith("Draining") &&
                             document.getElementById("d-drain").disabled, null, { timeout: 10000 });
  await page.screenshot({ path: path.join(shots, "drained.png"), fullPage: true });
  const refused = spawnSync("python3", ["-c", "import socket,sys\ntry:\n socket.create_connection(('127.0.0.1', " +
                            "int(sys.argv[1])), timeout=5)\nexcept ConnectionRefusedError:\n sys.exit(7)",
                            env.GATEWAY_IMAP_PORT], { encoding: "utf8", timeout: 30000 });
  assert.equal(refused.status, 7, "the drained instance still accepts IMAP: " + refused.stdout + refused.stderr);
  assert.deepEqual(pageErrors, []);
  console.log("admin page e2e: all steps passed; screenshots in " + shots);
} finally {
  await browser.close();
}
