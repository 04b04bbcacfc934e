// A referral's journey in headless Chromium. A GP practice submits it with the console's referral form;
// then the link worker works it by keyboard alone (Tab, Enter and Space; text typed into fields; no
// pointer): sign in by the emailed link, open the referral from the caseload,
// assign it, record first contact, find a service and offer it; the provider accepts from the link in
// its email; the link worker records attendance, tries to close without a reason (the error keeps the
// note), and meanwhile a colleague in a second browser changes the referral, so closing meets the
// conflict page, which says who changed what and keeps what was typed; saving it closes the referral;
// the practice then sees the outcome on its own page. Every page is checked with axe-core against WCAG 2.2 AA and screenshotted. Prints a JSON report.
//
// Argument: a JSON object { url, maildev, linkWorkerEmail, providerEmail, gpPath, colleaguePath, outDir }
// (the practice's and the colleague's sign-in links are minted by the test; the link worker's comes by
// email). The Rust test runs the notifier's worker throughout, sending through maildev. The report
// names the referral made (`referralId`) for the test to check in the database.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations, checker } from "./browser.mjs";

const config = JSON.parse(process.argv[2]);
const { url, maildev, linkWorkerEmail, providerEmail, gpPath, colleaguePath, outDir } = config;
const check = checker("console-link-worker");
const report = { pages: [], violations: [], clicks: 0 };
const path = (page) => new URL(page.url()).pathname;

/// The first email to `to` whose text holds `marker`, waited for at maildev's API; returns the link in it.
async function linkInEmail(to, marker) {
  for (let i = 0; i < 150; i++) {
    const emails = await (await fetch(`${maildev}/api/email`)).json();
    for (const e of emails) {
      if (!e.to.some((t) => t.address === to)) continue;
      const text = (e.text ?? "").replace(/=\r?\n/g, "").replace(/=3D/g, "=");
      const at = text.indexOf(marker);
      if (at >= 0) return text.slice(at).split(/\s/)[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no email to ${to} with ${marker}`);
}

/// What has focus, as text to match: the element's id, its own text and its label's.
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { id: "", text: "", tag: "" };
    const label = [...(el.labels ?? [])].map((l) => l.textContent.trim()).join(" ");
    return { id: el.id, text: (el.textContent ?? "").trim().replace(/\s+/g, " "), label, tag: el.tagName };
  });
}

/// Presses Tab until the focused element matches `want` (`{ id }` or `{ text }`), failing after a lap.
async function tabTo(page, want) {
  for (let i = 0; i < 250; i++) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    if ((want.id && f.id === want.id) || (want.text && f.text === want.text)) return;
  }
  throw new Error(`Tab never reached ${JSON.stringify(want)} on ${page.url()}`);
}

/// Tabs to the control and presses Enter, waiting for the page it leads to.
async function activate(page, want) {
  await tabTo(page, want);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
}

async function audit(page, name) {
  check((await page.locator("script").count()) === 0, `${name} has a script`);
  for (const v of await axeViolations(page)) report.violations.push({ page: name, ...v });
  const shot = `${String(report.pages.length + 1).padStart(2, "0")}-${name}`;
  await page.screenshot({ path: `${outDir}/${shot}.png`, fullPage: true });
  report.pages.push({ name: shot, title: await page.title(), path: path(page) });
}

const browser = await chromium.launch(CHROMIUM);
try {
  // The practice submits the referral with the console's form (its errors are tested by
  // console-referral-form.mjs).
  const practice = await browser.newContext({ locale: "en-GB" });
  const gp = await practice.newPage();
  await gp.goto(`${url}${gpPath}`);
  await Promise.all([gp.waitForNavigation(), gp.getByRole("button", { name: "Sign in" }).click()]);
  await gp.goto(`${url}/referrals/new`);
  await gp.getByLabel("NHS number").fill("943 476 5919");
  await gp.getByLabel("Given name").fill("Margaret");
  await gp.getByLabel("Family name").fill("Hughes");
  await gp.locator("#dob-day").fill("17");
  await gp.locator("#dob-month").fill("5");
  await gp.locator("#dob-year").fill("1948");
  await gp.getByLabel("Phone number (optional)").fill("0115 496 0123");
  await gp.getByLabel("Postcode (optional)").fill("NG10 1AB");
  await gp.getByLabel("Phone call").check();
  await gp.getByLabel("Loneliness or isolation").check();
  await gp.getByLabel("Being more active").check();
  await gp.getByLabel("Reason for the referral").fill("Widowed last year, rarely leaves the house, would like company.");
  await gp.getByLabel(/agrees to share this referral/).check();
  await Promise.all([gp.waitForNavigation(), gp.getByRole("button", { name: "Submit referral" }).click()]);
  const made = path(gp).match(/^\/referrals\/([0-9a-f-]{36})$/);
  check(made, `submitting lands on the referral: ${gp.url()}`);
  const referralId = made[1];
  report.referralId = referralId;

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  // Counts any pointer press in the link worker's browser: the journey must make none.
  await context.exposeBinding("__pointer", () => {
    report.clicks += 1;
  });
  await context.addInitScript(() => {
    window.addEventListener("pointerdown", () => window.__pointer(), true);
    window.addEventListener("mousedown", () => window.__pointer(), true);
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  // Sign in: the address, then the link from the email, confirmed.
  await page.goto(`${url}/sign-in`);
  await tabTo(page, { id: "email" });
  await page.keyboard.type(linkWorkerEmail);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  check((await page.title()).startsWith("Check your email"), `after asking for a link: ${await page.title()}`);
  const signIn = await linkInEmail(linkWorkerEmail, `${url}/sign-in/`);
  await page.goto(signIn);
  await activate(page, { text: "Sign in" });
  check(path(page) === "/caseload", `signing in lands on ${page.url()}`);

  // Open the referral from the caseload; assign it (the list of link workers starts at "you").
  await activate(page, { text: "Margaret Hughes" });
  check(path(page) === `/referrals/${referralId}`, `the row opens ${page.url()}`);
  await audit(page, "referral");
  await activate(page, { text: "Assign" });
  check((await page.textContent("body")).includes("The referral is assigned."), "assigned");

  // First contact, with a note.
  await tabTo(page, { id: "contact-note" });
  await page.keyboard.type("Talked for half an hour; she would like to walk with others.");
  await activate(page, { text: "Record first contact" });
  check((await page.textContent("body")).includes("First contact is recorded."), "contact recorded");

  // Find services near her postcode; a postcode that is not one first.
  await activate(page, { text: "Find services" });
  check(path(page) === `/referrals/${referralId}/services`, `find services at ${page.url()}`);
  check((await page.textContent("body")).includes("Long Eaton Walking Group"), "the walking group is found");
  await audit(page, "find-services");
  await tabTo(page, { id: "postcode" });
  await page.keyboard.press("Control+A");
  await page.keyboard.type("NOT A CODE");
  await activate(page, { text: "Search" });
  check((await page.title()).startsWith("Error:"), "a bad postcode is an error");
  check((await page.inputValue("#postcode")) === "NOT A CODE", "the postcode typed is kept");
  await audit(page, "find-services-error");
  await tabTo(page, { id: "postcode" });
  await page.keyboard.press("Control+A");
  await page.keyboard.type("NG10 1AB");
  await activate(page, { text: "Search" });
  await activate(page, { text: "Offer to Long Eaton Walking Group" });
  check(path(page) === `/referrals/${referralId}/offer`, `the offer form at ${page.url()}`);
  await audit(page, "offer-form");
  await tabTo(page, { id: "offer-note" });
  await page.keyboard.type("Keen on birds; mornings suit her best");
  await activate(page, { text: "Send the offer" });
  check((await page.textContent("body")).includes("The offer is sent."), "offer sent");

  // The provider accepts from the link in its email (the provider's own pages are tested elsewhere).
  const offerLink = await linkInEmail(providerEmail, `${url}/offers/`);
  const provider = await browser.newContext({ locale: "en-GB" });
  const providerPage = await provider.newPage();
  await providerPage.goto(offerLink);
  await Promise.all([providerPage.waitForNavigation(), providerPage.getByRole("button", { name: "Accept" }).click()]);
  await provider.close();

  // Back at the referral: the offer accepted, its reference and its email shown; record attendance.
  await page.goto(`${url}/referrals/${referralId}`);
  const body = await page.textContent("body");
  check(body.includes("Accepted") && /OF-[0-9A-F]{4}-[0-9A-F]{4}/.test(body), "the accepted offer and its reference");
  check(body.includes("The offer, to the provider") && body.includes("Sent"), "the offer's email is shown as sent");
  await audit(page, "referral-offered");
  await tabTo(page, { id: "attendance-note" });
  await page.keyboard.type("First walk on Wednesday");
  await activate(page, { text: "Record attendance" });
  check((await page.textContent("body")).includes("Attendance is recorded."), "attendance recorded");

  // Closing without a reason: the error, with the note kept.
  await tabTo(page, { id: "close-note" });
  await page.keyboard.type("Enjoying the walks");
  await activate(page, { text: "Close the referral" });
  check((await page.title()).startsWith("Error:"), "closing without a reason is an error");
  check((await page.inputValue("#close-note")) === "Enjoying the walks", "the note typed is kept");
  await audit(page, "referral-error");

  // Meanwhile a colleague, in a browser of their own, records a contact attempt.
  const colleague = await browser.newContext({ locale: "en-GB" });
  const other = await colleague.newPage();
  await other.goto(`${url}${colleaguePath}`);
  await Promise.all([other.waitForNavigation(), other.getByRole("button", { name: "Sign in" }).click()]);
  await other.goto(`${url}/referrals/${referralId}`);
  await other.fill("#attempt-note", "Rang about transport; no answer");
  await Promise.all([other.waitForNavigation(), other.getByRole("button", { name: "Record contact attempt" }).click()]);
  await colleague.close();

  // The link worker, on the page from before, closes: completed (the first reason), no follow-up
  // measure because she declined (the first of those), each chosen with Space.
  await tabTo(page, { id: "close-reason" });
  await page.keyboard.press("Space");
  await tabTo(page, { id: "close-no-follow-up" });
  await page.keyboard.press("Space");
  await activate(page, { text: "Close the referral" });
  const conflict = await page.textContent("body");
  check((await page.title()).startsWith("Someone else changed this referral"), `conflict page: ${await page.title()}`);
  check(conflict.includes("Priya Link") && conflict.includes("Tried to contact the person"), "who and what changed");
  check(conflict.includes("Enjoying the walks") && conflict.includes("Completed"), "what was typed is kept");
  await audit(page, "conflict");
  await activate(page, { text: "Save what I typed" });
  const closed = await page.textContent("body");
  check(closed.includes("The referral is closed.") && closed.includes("Outcome: Completed"), "closed");
  await audit(page, "closed");
  await context.close();

  // The practice, still signed in, sees the outcome on its own page, with the letter to file.
  await gp.goto(`${url}/referrals/${referralId}`);
  const seen = await gp.textContent("body");
  check(seen.includes("Outcome: Completed"), "the practice sees the outcome");
  check(seen.includes("Download the outcome letter"), "the practice can download the letter to file");
  await audit(gp, "practice-outcome");
  await practice.close();
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
