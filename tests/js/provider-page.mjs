// Drives the provider's offer page in headless Chromium, as a provider on a phone would use it: from the
// link in the offer email (opened at the SMTP server's web API), accept, see the contact details, confirm
// first attendance; decline another offer with a reason and a note; see the same "not valid" page for an
// expired and an altered link; and a form on another site is refused. Every page is checked at 375px for
// horizontal scrolling, labels, tap-target size, colour contrast and (on the first) focus order and
// visible focus. Screenshots go to `config.screenshots`.
//
// Usage: node provider-page.mjs '<config JSON>'   (or PROVIDER_PAGE_CONFIG='<config JSON>')
// config: { baseUrl, accept: { emailHtml, link }, decline: { emailHtml, link }, opened: { emailHtml, link },
//           expiredUrl, tamperedUrl, screenshots, label }
// Exits non-zero, saying why, on the first failed check. The Rust test then checks the database.
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2] ?? process.env.PROVIDER_PAGE_CONFIG ?? "null");
if (!config) {
  console.error("usage: node provider-page.mjs '<config JSON>'");
  process.exit(2);
}
const appOrigin = new URL(config.baseUrl).origin;
const PHONE_WIDTH = 375;
const CONTACT_DETAILS = ["Hughes", "01154960123", "0115 496 0123", "margaret.hughes@example.org"];
mkdirSync(config.screenshots, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(`${config.label ?? ""}: ${message}`);
}

const userDataDir = mkdtempSync(join(tmpdir(), "trellis-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
  viewport: { width: PHONE_WIDTH, height: 740 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: "en-GB",
});

const problems = []; // console errors, page errors, CSP violations, anything an app page loads
const posts = []; // what the browser sent with each form POST to the app
const report = { label: config.label, checks: [], posts };

function watch(page) {
  page.on("console", (msg) => {
    // Chromium reports every non-2xx document as a failed load; this script asks for 403s and 404s on
    // purpose, and anything else the page loads is caught below.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("request", async (request) => {
    const url = new URL(request.url());
    const fromApp = request.frame()?.url().startsWith(appOrigin);
    if (fromApp && request.resourceType() !== "document") {
      problems.push(`the app page loaded ${request.resourceType()} ${request.url()}`);
    }
    if (request.method() === "POST" && url.origin === appOrigin) {
      const headers = await request.allHeaders();
      posts.push({ origin: headers.origin ?? null, secFetchSite: headers["sec-fetch-site"] ?? null });
    }
  });
}

const page = context.pages()[0] ?? (await context.newPage());
watch(page);

/// Opens the offer email as received and clicks its link, as the provider would.
async function openFromEmail(offer) {
  const response = await page.goto(offer.emailHtml);
  check(response.ok(), `the email HTML is not served (${response.status()})`);
  const anchor = page.locator(`a[href="${offer.link}"]`).first();
  check((await anchor.count()) === 1, `the email does not link to ${offer.link}`);
  const target = await anchor.getAttribute("target");
  if (target === "_blank") {
    await anchor.evaluate((a) => a.removeAttribute("target"));
  }
  await Promise.all([page.waitForURL((url) => url.href.startsWith(appOrigin)), anchor.click()]);
  await page.waitForLoadState("load");
  check(page.url() === offer.link, `the click landed on ${page.url()}`);
}

async function text() {
  return page.locator("body").innerText();
}

async function shot(name) {
  await page.screenshot({ path: join(config.screenshots, `${name}.png`), fullPage: true });
}

/// The checks every page gets, at phone width.
async function checkPage(name) {
  const found = await page.evaluate((phoneWidth) => {
    const out = { issues: [] };
    const doc = document.documentElement;
    if (doc.lang !== "en-GB") out.issues.push(`lang is ${JSON.stringify(doc.lang)}`);
    if (window.innerWidth !== phoneWidth) out.issues.push(`layout width ${window.innerWidth}: no working viewport meta`);
    if (doc.scrollWidth > doc.clientWidth) out.issues.push(`horizontal scroll: ${doc.scrollWidth} > ${doc.clientWidth}`);
    if (document.querySelectorAll("script").length) out.issues.push("the page has a script");

    // Every control has an accessible label.
    for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea, button")) {
      let name = "";
      if (el.tagName === "BUTTON") name = el.innerText.trim();
      else name = [...(el.labels ?? [])].map((l) => l.innerText.trim()).join(" ") || el.getAttribute("aria-label") || "";
      if (!name) out.issues.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name ?? ""}`);
      if (el.type === "radio" && !el.closest("fieldset")?.querySelector("legend")?.innerText.trim()) {
        out.issues.push(`radio ${el.value} is not in a fieldset with a legend`);
      }
    }
    // Tap targets of at least 44 by 44 CSS pixels: buttons, and each radio's whole row.
    for (const el of document.querySelectorAll("button, .choice")) {
      const r = el.getBoundingClientRect();
      if (r.height < 44 || r.width < 44) out.issues.push(`small tap target "${el.innerText.trim()}" ${r.width}x${r.height}`);
    }
    // Colour contrast of every piece of text against the background it sits on.
    const rgb = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) =>
      [r, g, b]
        .map((v) => v / 255)
        .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    out.minContrast = 21;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || !el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      if (style.visibility === "hidden") continue;
      const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      out.minContrast = Math.min(out.minContrast, ratio);
      if (ratio < 4.5) out.issues.push(`contrast ${ratio.toFixed(2)} for "${node.textContent.trim().slice(0, 40)}"`);
    }
    return out;
  }, PHONE_WIDTH);
  check(found.issues.length === 0, `${name}: ${found.issues.join("; ")}`);
  report.checks.push({ page: name, minContrast: Number(found.minContrast.toFixed(2)) });
}

/// Tabs through the page from the top: the order of controls, and that each shows where focus is.
async function focusOrder() {
  await page.evaluate(() => document.activeElement?.blur());
  const order = [];
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const visible = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== "none";
      const name = el.tagName === "BUTTON" ? el.innerText.trim() : [...(el.labels ?? [])].map((l) => l.innerText.trim()).join(" ");
      return { what: `${el.type ?? el.tagName.toLowerCase()}: ${name}`, visible };
    });
    if (!focused || order.some((o) => o.what === focused.what)) break;
    order.push(focused);
  }
  for (const f of order) check(f.visible, `no visible focus on ${f.what}`);
  return order.map((f) => f.what);
}

try {
  // A provider (or a mail scanner) only opens one offer: the Rust test checks that nothing changed.
  await openFromEmail(config.opened);
  check((await text()).includes("Status: Waiting for your answer"), "the opened offer is not waiting");
  await page.reload();
  const leakedField = await page.locator('input[name="csrf"]').first().inputValue();

  // Another site's form, even one that knows the page's hidden token, is refused.
  await page.goto("about:blank");
  await page.setContent(
    `<form method="post" action="${config.opened.link}"><input name="csrf" value="${leakedField}">` +
      `<button name="action" value="accept">Win a prize</button></form>`,
  );
  const [forged] = await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Win a prize" }).click()]);
  check(forged.status() === 403, `a cross-site form got ${forged.status()}`);
  check((await text()).includes("Your answer was not saved"), "the refusal page is not shown");
  const refusedPost = posts.at(-1);
  report.forgedPost = refusedPost;

  // The offer to accept: from its email.
  await openFromEmail(config.accept);
  const summary = await text();
  for (const expected of ["Margaret", "75-84", "Loneliness or isolation", "Being more active", "Keen on birdwatching", "Long Eaton Walking Group", "Status: Waiting for your answer", "Please answer by"]) {
    check(summary.includes(expected), `the summary lacks ${expected}`);
  }
  for (const detail of CONTACT_DETAILS) check(!summary.includes(detail), `${detail} is shown before accepting`);
  await checkPage("offer");
  report.focusOrder = await focusOrder();
  const expectedOrder = [
    "submit: Accept",
    "submit: Add to waiting list",
    "radio: We have no places at the moment",
    "textarea: Anything the link worker should know (optional)",
    "submit: Decline",
  ];
  check(JSON.stringify(report.focusOrder) === JSON.stringify(expectedOrder), `focus order ${JSON.stringify(report.focusOrder)}`);
  await page.evaluate(() => document.activeElement?.blur());
  await shot("01-offer");

  await Promise.all([page.waitForURL(/\?done=accepted$/), page.getByRole("button", { name: "Accept", exact: true }).click()]);
  const accepted = await text();
  for (const expected of ["Thank you: you accepted this offer.", "How to contact Margaret", "Margaret Hughes", "0115 496 0123", "margaret.hughes@example.org", "A phone call"]) {
    check(accepted.includes(expected), `after accepting, the page lacks ${expected}`);
  }
  check((await page.getByRole("status").innerText()).includes("you accepted"), "the confirmation is not a status message");
  check((await page.getByRole("link", { name: "0115 496 0123" }).getAttribute("href")) === "tel:01154960123", "the phone number is not a tel: link");
  await checkPage("accepted");
  await shot("02-accepted");

  await Promise.all([page.waitForURL(/\?done=attended$/), page.getByRole("button", { name: "Confirm first attendance" }).click()]);
  const attended = await text();
  check(attended.includes("Thank you: first attendance confirmed.") && attended.includes("Status: Attending"), "attendance not confirmed");
  check((await page.getByRole("button").count()) === 0, "buttons remain after attendance");
  await checkPage("attended");
  await shot("03-attended");

  // The offer to decline: a reason is required before the browser will send it.
  await openFromEmail(config.decline);
  await page.getByRole("button", { name: "Decline" }).click();
  await page.waitForTimeout(200);
  check(page.url() === config.decline.link, "the form was sent without a reason");
  check(await page.getByLabel("We have no places at the moment").evaluate((r) => r.validity.valueMissing), "no reason is not flagged");
  await page.getByLabel("We have no places at the moment").check();
  await page.getByLabel("Anything the link worker should know (optional)").fill("Full until March.\nTry us again then.");
  await page.getByRole("button", { name: "Decline" }).scrollIntoViewIfNeeded();
  await checkPage("decline chosen");
  await shot("04-decline-chosen");
  await Promise.all([page.waitForURL(/\?done=declined$/), page.getByRole("button", { name: "Decline" }).click()]);
  const declined = await text();
  check(declined.includes("You declined this offer.") && declined.includes("Reason: we have no places at the moment."), "decline not shown");
  for (const detail of CONTACT_DETAILS) check(!declined.includes(detail), `${detail} is shown after declining`);
  await checkPage("declined");
  await shot("05-declined");

  // Links that cannot be used: one page, whatever the reason.
  const expired = await page.goto(config.expiredUrl);
  check(expired.status() === 404, `an expired link got ${expired.status()}`);
  const expiredText = await text();
  check(expiredText.includes("This link is not valid"), "the expired link's page does not say so");
  await checkPage("invalid");
  await shot("06-invalid");
  const tampered = await page.goto(config.tamperedUrl);
  check(tampered.status() === 404, `an altered link got ${tampered.status()}`);
  check((await text()) === expiredText, "an altered link's page differs from an expired link's");

  check(problems.length === 0, `problems in the browser:\n${problems.join("\n")}`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
