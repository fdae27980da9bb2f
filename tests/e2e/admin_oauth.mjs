// Drives the admin page's OAuth2 part in real headless Chromium (playwright-core): register an OAuth client (and see
// a Google preset's checklist and write-only secret), add an oauth2 account, give consent with the device flow (the
// test runner approves the code the page shows, as the user would on a phone) and with the authorization code flow
// (the page opens the authorization server in a new tab, this script signs in and allows there, and the redirect
// lands on the gateway's /oauth/callback; once more from a browser without the admin session, whose address is
// then pasted into the page), then log in through the gateway with each account.
// Inputs come from the environment (set by test_admin_page.py); screenshots go to SCREENSHOT_DIR. Prints
// "APPROVE <user_code>" for the runner, which approves it at the authorization server.
import { launchChromium } from "./browser.mjs";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const env = process.env;
const shots = env.SCREENSHOT_DIR;
mkdirSync(shots, { recursive: true });
const helper = path.join(path.dirname(new URL(import.meta.url).pathname), "imap_session.py");
const GOOGLE_SECRET = "google-client-secret-never-shown";

const browser = await launchChromium();
try {
  // The test authorization server's certificate comes from the rig's own CA, which Chromium does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("dialog", (d) => d.accept());

  await page.goto(env.ADMIN_URL);
  await page.waitForSelector("#login-view:not([hidden])");
  await page.fill("#login-password", env.ADMIN_PASSWORD);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#dashboard-view:not([hidden])"); // the first view after login
  await page.click('nav button[data-view="accounts"]');
  await page.waitForSelector("#accounts-view:not([hidden])");

  // --- OAuth clients: one for the test authorization server, and a Google one for its checklist and secret.
  await page.click('nav button[data-view="clients"]');
  const fresh = page.locator("#client-new form");
  await fresh.locator('[name="name"]').fill("rig");
  await fresh.locator('[name="client_id"]').fill(env.AS_CLIENT_ID);
  await fresh.locator('[name="token_url"]').fill(env.AS_TOKEN_URL);
  await fresh.locator('[name="device_url"]').fill(env.AS_DEVICE_URL);
  await fresh.locator('[name="authorize_url"]').fill(env.AS_AUTHORIZE_URL);
  await fresh.locator('[name="scope"]').fill("openid email offline_access mail");
  await fresh.getByRole("button", { name: "Add client" }).click();
  const rigCard = page.locator('#clients-list .client-card[data-client="rig"]');
  await rigCard.waitFor();
  const rigFacts = await rigCard.locator(".client-facts").textContent();
  assert.ok(rigFacts.includes("Client secret: not set") && rigFacts.includes("device code"), rigFacts);

  await page.locator('#client-new [name="name"]').fill("gmail");
  await page.locator('#client-new [name="preset"]').selectOption("google");
  const googleList = await page.locator("#client-new .checklist li").allTextContents();
  assert.ok(googleList.some((l) => l.includes("In production")), googleList.join("\n"));
  await page.locator('#client-new [name="client_id"]').fill("1234.apps.googleusercontent.com");
  await page.locator('#client-new [name="client_secret"]').fill(GOOGLE_SECRET);
  await page.locator("#client-new").getByRole("button", { name: "Add client" }).click();
  const gmail = page.locator('#clients-list .client-card[data-client="gmail"]');
  await gmail.waitFor();
  assert.ok((await gmail.locator(".client-facts").textContent()).includes("Client secret: set"));
  assert.equal(await gmail.locator('[name="token_url"]').inputValue(), "https://oauth2.googleapis.com/token");
  assert.equal(await gmail.locator('[name="client_secret"]').inputValue(), "");
  assert.ok(!(await page.content()).includes(GOOGLE_SECRET), "the client secret came back to the page");
  await page.screenshot({ path: path.join(shots, "oauth-clients.png"), fullPage: true });
  await gmail.getByRole("button", { name: "Delete" }).click();
  await gmail.waitFor({ state: "detached" });

  // --- An oauth2 account: no provider password field.
  async function addAccount(name, user) {
    await page.click('nav button[data-view="accounts"]');
    await page.fill("#f-name", name);
    await page.fill("#f-local-user", name + "-local");
    await page.fill("#f-local-password", name + "-pw");
    await page.selectOption("#f-provider", "custom");
    await page.fill("#f-remote-user", user);
    await page.selectOption("#f-credential", "oauth2");
    assert.ok(await page.locator("#f-remote-password-label").isHidden());
    await page.selectOption("#f-oauth-client", "rig");
    await page.fill("#f-imap", env.RIG_IMAP);
    await page.fill("#f-pop3", "");
    await page.fill("#f-smtp", env.RIG_SMTP);
    await page.click("#f-submit");
    const details = page.locator(`#accounts-table tr[data-oauth-account="${name}"]`);
    await details.waitFor();
    await details.locator(".oauth-state", { hasText: "needs_consent" }).waitFor();
    return details;
  }
  const imapLogin = (name) => spawnSync("python3", [helper, "try", env.GATEWAY_IMAP_PORT, name + "-local", name + "-pw"],
                                        { encoding: "utf8", timeout: 60000 });
  async function consentSucceeded() {
    await page.waitForFunction(() => document.getElementById("consent-status").textContent.startsWith("Consent stored"),
                               null, { timeout: 60000 });
    await page.waitForFunction(() => document.getElementById("consent-test-result").textContent ===
                               "provider login with the new token works", null, { timeout: 60000 });
  }

  // --- Device flow: the page shows the code and a countdown; the user approves elsewhere; the page sees it.
  const dev = await addAccount("dev", env.DEVICE_USER);
  assert.equal(imapLogin("dev").status, 3, "an account without consent must not log in");
  await dev.getByRole("button", { name: "Consent with a device code" }).click();
  await page.waitForFunction(() => document.getElementById("consent-user-code").textContent.length > 0);
  const userCode = await page.locator("#consent-user-code").textContent();
  assert.ok((await page.locator("#consent-verification").getAttribute("href")).startsWith("https://"));
  const countdown = await page.locator("#consent-device-countdown").textContent();
  assert.match(countdown, /^\d+m \d\ds$/);
  await page.screenshot({ path: path.join(shots, "consent-device.png"), fullPage: true });
  console.log("APPROVE " + userCode);
  await consentSucceeded();
  const steps = await page.locator("#consent-steps li").allTextContents();
  assert.ok(steps.some((s) => s.startsWith("imap login")), steps.join("\n"));
  await dev.locator(".oauth-state", { hasText: /^ok$/ }).waitFor();
  assert.ok((await dev.textContent()).includes(env.DEVICE_USER), "the consenting identity is not shown");
  // The access token's expiry is a live countdown.
  const expiry = dev.locator(".token-expiry .countdown");
  const before = await expiry.textContent();
  await page.waitForFunction((b) => {
    const el = document.querySelector('tr[data-oauth-account="dev"] .token-expiry .countdown');
    return el && el.textContent !== b;
  }, before, { timeout: 5000 });
  await page.screenshot({ path: path.join(shots, "consent-device-done.png"), fullPage: true });
  const devLogin = imapLogin("dev");
  assert.equal(devLogin.status, 0, "IMAP login with the device-flow account: " + devLogin.stdout + devLogin.stderr);
  await page.click("#consent-close");

  // --- Authorization code + PKCE: the page opens the provider; sign in and allow there; the redirect comes back.
  const web = await addAccount("web", env.CODE_USER);
  const popupOpened = page.waitForEvent("popup");
  await web.getByRole("button", { name: "Sign in at the provider" }).click();
  const provider = await popupOpened;
  await provider.waitForSelector("form#login");
  assert.equal(await provider.locator('form#login [name="login"]').inputValue(), env.CODE_USER); // login_hint
  await provider.fill('form#login [name="password"]', "any");
  await provider.click("form#login button[type=submit]");
  await provider.waitForSelector("form#consent");
  await provider.click('form#consent button[value="approve"]');
  await provider.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?/, { timeout: 30000 });
  await provider.waitForSelector("#callback-title");
  const title = await provider.locator("#callback-title").textContent();
  assert.equal(title, "Consent stored", await provider.locator("#result").textContent());
  await provider.locator("#test-result", { hasText: "all checks passed" }).waitFor({ timeout: 30000 });
  await provider.screenshot({ path: path.join(shots, "oauth-callback.png"), fullPage: true });
  await consentSucceeded(); // the admin page's own tab learns it too
  await web.locator(".oauth-state", { hasText: /^ok$/ }).waitFor();
  const webLogin = imapLogin("web");
  assert.equal(webLogin.status, 0, "IMAP login with the code-flow account: " + webLogin.stdout + webLogin.stderr);
  await page.screenshot({ path: path.join(shots, "consent-code-done.png"), fullPage: true });

  await page.click("#consent-close");

  // --- The same from a browser on another machine (another browser context: no admin session, its own cookies):
  // the gateway's callback refuses it and says to paste the address; it is pasted into the admin page.
  const far = await addAccount("far", env.CODE_USER);
  const farPopup = page.waitForEvent("popup");
  await far.getByRole("button", { name: "Sign in at the provider" }).click();
  await (await farPopup).close();
  const signInUrl = await page.locator("#consent-open").getAttribute("href");
  const elsewhere = await browser.newContext({ ignoreHTTPSErrors: true });
  const other = await elsewhere.newPage();
  await other.goto(signInUrl);
  await other.waitForSelector("form#login");
  await other.fill('form#login [name="password"]', "any");
  await other.click("form#login button[type=submit]");
  await other.waitForSelector("form#consent");
  await other.click('form#consent button[value="approve"]');
  await other.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?/, { timeout: 30000 });
  await other.waitForSelector("#callback-title");
  assert.equal(await other.locator("#callback-title").textContent(), "Sign-in not completed");
  assert.ok((await other.locator("#result").textContent()).includes("no admin session"));
  assert.ok((await other.locator("#hint").textContent()).includes("paste it into the field"));
  await other.screenshot({ path: path.join(shots, "oauth-callback-elsewhere.png"), fullPage: true });
  const redirected = other.url();
  await elsewhere.close();
  assert.equal(await far.locator(".oauth-state").first().textContent(), "needs_consent");
  await page.fill("#paste-url", "http://127.0.0.1:1/oauth/callback?state=unknown&code=x");
  await page.click("#paste-submit");
  await page.waitForFunction(() => document.getElementById("consent-error").textContent.includes("no pending sign-in"));
  await page.fill("#paste-url", redirected);
  await page.click("#paste-submit");
  await consentSucceeded();
  await far.locator(".oauth-state", { hasText: /^ok$/ }).waitFor();
  const farLogin = imapLogin("far");
  assert.equal(farLogin.status, 0, "IMAP login with the pasted account: " + farLogin.stdout + farLogin.stderr);
  await page.screenshot({ path: path.join(shots, "consent-paste-done.png"), fullPage: true });

  assert.deepEqual(pageErrors, []);
  console.log("admin page OAuth e2e: all steps passed; screenshots in " + shots);
} finally {
  await browser.close();
}
