// What the admin page tests start with: headless Chromium with quiet defaults; a page that records script errors
// and Content-Security-Policy refusals, and accepts (and records) every dialog; and the login.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export async function watchedPage(browser, options = {}) {
  const page = await browser.newPage(options);
  const pageErrors = [];
  const dialogs = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && /Content.Security.Policy/i.test(m.text()) && pageErrors.push(m.text()));
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.accept();
  });
  return { page, pageErrors, dialogs };
}

// Logs in and waits for the first view after login, the dashboard.
export async function logIn(page, url, password) {
  await page.goto(url);
  await page.waitForSelector("#login-view:not([hidden])");
  await page.fill("#login-password", password);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#dashboard-view:not([hidden])");
}
