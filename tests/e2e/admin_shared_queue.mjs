// Drives the Queue view of the second of two instances sharing one store, in real headless Chromium
// (playwright-core): the message queued on the other instance (OWNER) is listed as that instance's, its headers come
// from the store, and Retry and Delete are asked of the owner; the row goes once the owner has deleted it.
// Inputs come from the environment (set by test_admin_shared_queue.py); screenshots go to SCREENSHOT_DIR.
import { launchChromium, logIn, watchedPage } from "./browser.mjs";
import { mkdirSync } from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const env = process.env;
const shots = env.SCREENSHOT_DIR;
mkdirSync(shots, { recursive: true });

const browser = await launchChromium();
try {
  const { page, pageErrors, dialogs } = await watchedPage(browser, { viewport: { width: 1400, height: 900 } });
  await logIn(page, env.ADMIN_URL, env.ADMIN_PASSWORD);
  await page.click('nav button[data-view="queue"]');
  await page.waitForSelector("#queue-view:not([hidden])");

  // The other instance's message, with its owner named, and the summary saying the spool is shared.
  const row = page.locator(`#queue-table tr[data-account="${env.ACCOUNT}"][data-id]`);
  await row.waitFor();
  await page.waitForFunction((owner) => {
    const tr = document.querySelector("#queue-table tr[data-id]");
    return tr && tr.cells[7].textContent === "queued on " + owner && Number(tr.cells[4].textContent) >= 1;
  }, env.OWNER, { timeout: 30000 });
  const summary = await page.textContent("#queue-summary");
  assert.ok(summary.includes(`The spool all instances share (this one is ${env.VIEWER}): 1 message; this instance holds 0 B`),
    summary);
  const id = await row.getAttribute("data-id");

  // Its headers, read from the store (this instance has no copy), shown as text.
  await row.getByRole("button", { name: "Show headers" }).click();
  await page.waitForSelector("#queue-headers-panel:not([hidden])");
  assert.ok((await page.textContent("#queue-headers")).includes("Subject: " + env.SUBJECT));
  assert.equal(await page.locator("#queue-headers-panel b").count(), 0);
  await page.screenshot({ path: path.join(shots, "shared-queue.png"), fullPage: true });

  // Retry: asked of the owner, which makes one more attempt within seconds.
  const attempts = Number(await row.locator("td").nth(4).textContent());
  const [retried] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/queue/${id}/retry`) && r.request().method() === "POST"),
    row.getByRole("button", { name: "Retry now" }).click(),
  ]);
  assert.equal(retried.status(), 202, await retried.text());
  const retryStatus = await page.textContent("#queue-status");
  assert.ok(retryStatus.startsWith(`Retry of the message from ${env.SENDER}`) &&
    retryStatus.includes(`asked of instance ${env.OWNER}; it retries within seconds.`), retryStatus);
  await page.waitForFunction((n) => {
    const tr = document.querySelector("#queue-table tr[data-id]");
    return tr && Number(tr.cells[4].textContent) > n && !tr.cells[7].textContent.includes("asked");
  }, attempts, { timeout: 20000 });

  // Delete, confirmed: asked of the owner, and the row goes once the owner has done it.
  const [deleted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/v1/queue/${id}`) && r.request().method() === "DELETE"),
    row.getByRole("button", { name: "Delete" }).click(),
  ]);
  assert.equal(deleted.status(), 202, await deleted.text());
  assert.equal(dialogs.length, 1);
  const deleteStatus = await page.textContent("#queue-status");
  assert.ok(deleteStatus.includes(`asked of instance ${env.OWNER}; it deletes it within seconds.`), deleteStatus);
  await page.waitForSelector("#queue-empty:not([hidden])", { timeout: 20000 });
  assert.equal(await page.isVisible("#queue-headers-panel"), false);

  assert.deepEqual(pageErrors, []);
  console.log("admin shared queue e2e: all steps passed; screenshots in " + shots);
} finally {
  await browser.close();
}
