// Drives the provider's capacity page in headless Chromium, as a provider on a phone would use it: from
// the link in the capacity-check email (opened at the SMTP server's web API), see the capacity as
// recorded, type impossible numbers and see what to put right, then type real ones, choose a status,
// save, and see the confirmation; a form on another site is refused, and an expired link gets the plain
// "not valid" page. Every page is checked at 375px for horizontal scrolling, labels, radios in a fieldset
// with a legend, tap-target size and colour contrast; the first for focus order and visible focus.
// Screenshots go to `config.screenshots`.
//
// Usage: node capacity-page.mjs '<config JSON>'   (or CAPACITY_PAGE_CONFIG='<config JSON>')
// config: { baseUrl, emailHtml, link, expiredUrl, screenshots, label }
// Exits non-zero, saying why, on the first failed check. The Rust test then checks the database.
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2] ?? process.env.CAPACITY_PAGE_CONFIG ?? "null");
if (!config) {
  console.error("usage: node capacity-page.mjs '<config JSON>'");
  process.exit(2);
}
const appOrigin = new URL(config.baseUrl).origin;
const PHONE_WIDTH = 375;
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

const problems = []; // console errors, page errors, CSP violations, requests off the app
const report = { label: config.label, checks: [] };

const page = context.pages()[0] ?? (await context.newPage());
// Chromium logs every non-2xx document as a console error; the 422, 403 and 404 pages here are provoked.
const PROVOKED = /^Failed to load resource: the server responded with a status of (422|403|404) /;
page.on("console", (msg) => {
  if (msg.type() === "error" && !msg.text().includes("favicon") && !PROVOKED.test(msg.text())) {
    problems.push(`console: ${msg.text()}`);
  }
});
page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
page.on("request", (request) => {
  const url = new URL(request.url());
  const fromApp = request.frame()?.url().startsWith(appOrigin);
  if (fromApp && url.origin !== appOrigin && !url.protocol.startsWith("data")) {
    problems.push(`the app page loaded ${request.url()}`);
  }
});

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
    for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea, button")) {
      const name =
        el.tagName === "BUTTON"
          ? el.innerText.trim()
          : [...(el.labels ?? [])].map((l) => l.innerText.trim()).join(" ") || el.getAttribute("aria-label") || "";
      if (!name) out.issues.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name ?? ""}`);
      if (el.type === "radio" && !el.closest("fieldset")?.querySelector("legend")?.innerText.trim()) {
        out.issues.push(`radio ${el.value} is not in a fieldset with a legend`);
      }
    }
    // Tap targets of at least 44 by 44 CSS pixels: buttons, text boxes, and each radio's whole row.
    for (const el of document.querySelectorAll("button, .choice, input.number")) {
      const r = el.getBoundingClientRect();
      if (r.height < 44 || r.width < 44) out.issues.push(`small tap target "${el.innerText?.trim() || el.id}" ${r.width}x${r.height}`);
    }
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
      if (style.visibility === "hidden" || el.closest(".visually-hidden")) continue;
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

const OPEN = "Yes, we are taking people now";
const WAITLIST = "We are taking names for a waiting list";

try {
  // From the email as received: its button is the link.
  const email = await page.goto(config.emailHtml);
  check(email.ok(), `the email HTML is not served (${email.status()})`);
  const anchor = page.locator(`a[href="${config.link}"]`).first();
  check((await anchor.count()) === 1, `the email does not link to ${config.link}`);
  if ((await anchor.getAttribute("target")) === "_blank") await anchor.evaluate((a) => a.removeAttribute("target"));
  await Promise.all([page.waitForURL((url) => url.href.startsWith(appOrigin)), anchor.click()]);
  await page.waitForLoadState("load");
  check(page.url() === config.link, `the click landed on ${page.url()}`);

  const shown = await text();
  for (const expected of ["Places at Long Eaton Walking Group", "5 of 20 places free", "Last confirmed", "Are you taking people now?"]) {
    check(shown.includes(expected), `the page lacks ${expected}`);
  }
  check((await page.getByLabel("Places free now").inputValue()) === "5", "places free is not filled in as recorded");
  check((await page.getByLabel("Places in all").inputValue()) === "20", "places in all is not filled in as recorded");
  check(await page.getByLabel(OPEN).isChecked(), "the recorded status is not chosen");
  const leakedField = await page.locator('input[name="csrf"]').inputValue();
  await checkPage("capacity");
  report.focusOrder = await focusOrder();
  const expectedOrder = ["text: Places free now", "text: Places in all", `radio: ${OPEN}`, "submit: Save places"];
  check(JSON.stringify(report.focusOrder) === JSON.stringify(expectedOrder), `focus order ${JSON.stringify(report.focusOrder)}`);
  await page.evaluate(() => document.activeElement?.blur());
  await shot("01-capacity");

  // Impossible numbers: the page says what to put right, keeps what was typed, and saves nothing.
  await page.getByLabel("Places free now").fill("30");
  await page.getByLabel("Places in all").fill("15");
  const [problem] = await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Save places" }).click()]);
  check(problem.status() === 422, `impossible numbers got ${problem.status()}`);
  check((await page.title()).startsWith("Error: "), `the title does not say there is an error: ${await page.title()}`);
  const summary = page.getByRole("alert");
  check((await summary.innerText()).includes("Places free (30) cannot be more than places in all (15)"), "no clear message");
  check((await page.getByLabel("Places free now").inputValue()) === "30", "what was typed is lost");
  const describedBy = await page.getByLabel("Places free now").getAttribute("aria-describedby");
  check(describedBy?.split(" ").includes("available-error"), `the error is not tied to its box: ${describedBy}`);
  await checkPage("problem");
  await shot("02-problem");
  await summary.getByRole("link").first().click();
  check(new URL(page.url()).hash === "#available", "the summary's link does not lead to the box");

  // Real numbers and a status: saved, and confirmed.
  await page.getByLabel("Places free now").fill("3");
  await page.getByLabel("Places in all").fill("15");
  await page.getByLabel(WAITLIST).check();
  await Promise.all([page.waitForURL(/\?done=updated(#.*)?$/), page.getByRole("button", { name: "Save places" }).click()]);
  const saved = await text();
  check(saved.includes("Thank you: the places at Long Eaton Walking Group are saved."), "no confirmation");
  check((await page.getByRole("status").innerText()).includes("are saved"), "the confirmation is not a status message");
  check(saved.includes("3 of 15 places free") && saved.includes(WAITLIST), "the page does not show what was saved");
  check(await page.getByLabel(WAITLIST).isChecked(), "the saved status is not chosen");
  await checkPage("saved");
  await shot("03-saved");

  // Another site's form, even one that knows the page's hidden token, is refused.
  await page.goto("about:blank");
  await page.setContent(
    `<form method="post" action="${config.link}"><input name="csrf" value="${leakedField}">` +
      `<input name="available" value="0"><input name="maximum" value="0"><input name="status" value="closed">` +
      `<button>Win a prize</button></form>`,
  );
  const [forged] = await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Win a prize" }).click()]);
  check(forged.status() === 403, `a cross-site form got ${forged.status()}`);
  check((await text()).includes("Your update was not saved"), "the refusal page is not shown");

  // An expired link: the plain page.
  const expired = await page.goto(config.expiredUrl);
  check(expired.status() === 404, `an expired link got ${expired.status()}`);
  check((await text()).includes("This link is not valid"), "the expired link's page does not say so");
  await checkPage("invalid");
  await shot("04-invalid");

  check(problems.length === 0, `problems in the browser:\n${problems.join("\n")}`);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
