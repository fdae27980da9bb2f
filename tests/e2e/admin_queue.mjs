// Drives the admin page's Queue view in real headless Chromium (playwright-core): log in, find the queued message
// under its account, watch its delivery attempts fail, show its headers, retry it and delete it.
// Inputs come from the environment (set by test_admin_queue.py); screenshots go to SCREENSHOT_DIR.
import { launchChromium, logIn, watchedPage } from "./browser.mjs";
import { mkdirSync } from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const env = process.env;
const shots = env.SCREENSHOT_DIR;
mkdirSync(shots, { recursive: true });

// The message row's cells, read in the page (the view redraws every 2 s, so nothing is held across redraws).
function readRow(account) {
  const tr = document.querySelector(`#queue-table tr[data-account="${account}"][data-id]`);
  if (!tr) return null;
  const text = (i) => tr.cells[i].textContent;
  return { id: tr.dataset.id, state: tr.dataset.state, sender: text(0), recipients: text(1), size: text(2),
           age: text(3), attempts: Number(text(4)), next: text(5), error: text(6), badge: text(7) };
}

const browser = await launchChromium();
try {
  const { page, pageErrors, dialogs } = await watchedPage(browser, { viewport: { width: 1400, height: 900 } });
  await logIn(page, env.ADMIN_URL, env.ADMIN_PASSWORD);
  await page.click('nav button[data-view="accounts"]');
  await page.waitForSelector("#accounts-view:not([hidden])");

  await page.click('nav button[data-view="queue"]');
  await page.waitForSelector("#queue-view:not([hidden])");
  const group = page.locator(`#queue-table tr.queue-account[data-account="${env.ACCOUNT}"]`);
  await group.waitFor();
  assert.equal(await group.textContent(), `Account ${env.ACCOUNT}: 1 message`);
  // The first attempt starts as soon as the message is queued and fails to connect.
  await page.waitForFunction((account) => {
    const tr = document.querySelector(`#queue-table tr[data-account="${account}"][data-id]`);
    return tr && tr.dataset.state === "queued" && Number(tr.cells[4].textContent) >= 1;
  }, env.ACCOUNT, { timeout: 30000 });
  let row = await page.evaluate(readRow, env.ACCOUNT);
  assert.equal(row.sender, env.SENDER);
  assert.equal(row.recipients, env.RECIPIENT);
  assert.match(row.size, /^\d+ B$/);
  assert.match(row.age, /^\d+ (s|min)$/);
  assert.match(row.next, /^in (59 min|1 h)$/, "smtp.spool_retry is 3600: " + row.next);
  assert.match(row.error, /provider/, row.error);
  assert.equal(row.badge, "queued");
  const summary = await page.textContent("#queue-summary");
  assert.match(summary, /^Spool mode: devices .*\. 1 message, \d+ B of 1\.0 GiB used\.$/, summary);
  assert.equal(await page.isVisible("#queue-empty"), false);

  // Show headers: the header text, markup and all, as text in the <pre>.
  const message = page.locator(`#queue-table tr[data-id="${row.id}"]`);
  await message.getByRole("button", { name: "Show headers" }).click();
  await page.waitForSelector("#queue-headers-panel:not([hidden])");
  const headers = await page.textContent("#queue-headers");
  assert.ok(headers.includes("Subject: " + env.SUBJECT), headers);
  assert.equal(await page.locator("#queue-headers-panel img, #queue-headers-panel script").count(), 0);
  assert.ok((await page.textContent("#queue-headers-id")).includes(row.id));
  await page.screenshot({ path: path.join(shots, "queue.png"), fullPage: true });

  // Retry now: the API accepts it, and the next attempt follows at once (it fails again, one more attempt).
  const before = row.attempts;
  const [retried] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/queue/${row.id}/retry`) && r.request().method() === "POST"),
    message.getByRole("button", { name: "Retry now" }).click(),
  ]);
  assert.equal(retried.status(), 200, await retried.text());
  assert.ok((await page.textContent("#queue-status")).startsWith("Retrying the message from " + env.SENDER));
  await page.waitForFunction(([account, n]) => {
    const tr = document.querySelector(`#queue-table tr[data-account="${account}"][data-id]`);
    return tr && tr.dataset.state === "queued" && Number(tr.cells[4].textContent) > n;
  }, [env.ACCOUNT, before], { timeout: 30000 });
  row = await page.evaluate(readRow, env.ACCOUNT);
  assert.match(row.next, /^in (59 min|1 h)$/, row.next);

  // Delete, confirmed in the dialog: the row, its group and the headers panel go, and the queue is empty.
  const [deleted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/queue/${row.id}`) && r.request().method() === "DELETE"),
    message.getByRole("button", { name: "Delete" }).click(),
  ]);
  assert.equal(deleted.status(), 200, await deleted.text());
  assert.equal(dialogs.length, 1);
  assert.ok(dialogs[0].startsWith(`Delete the message from ${env.SENDER} to ${env.RECIPIENT}?`), dialogs[0]);
  await page.waitForSelector("#queue-empty:not([hidden])");
  assert.equal(await page.locator("#queue-table tr[data-id], #queue-table tr.queue-account").count(), 0);
  assert.equal(await page.isVisible("#queue-headers-panel"), false);
  assert.match(await page.textContent("#queue-summary"), /\. 0 messages, 0 B of 1\.0 GiB used\.$/);
  const queue = await page.evaluate(async () => (await fetch("/api/v1/queue", { credentials: "same-origin" })).json());
  assert.deepEqual(queue.messages, []);
  await page.screenshot({ path: path.join(shots, "queue-empty.png"), fullPage: true });

  assert.deepEqual(pageErrors, []);
  console.log("admin queue e2e: all steps passed; screenshots in " + shots);
} finally {
  await browser.close();
}
