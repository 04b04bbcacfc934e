// The staff console's pages in headless Chromium: sign in (an empty address first, then the right one),
// the emailed link's confirmation page, the referral list and one referral. Each page is checked with
// axe-core against WCAG 2.2 AA and screenshotted. Prints a JSON report.
//
// Argument: a JSON object { url, signInPath, referralId, outDir }. The sign-in link is minted by the
// Rust test; the emailed round trip is tested there over SMTP.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";
import { CHROMIUM, checker } from "./browser.mjs";

const { url, signInPath, referralId, outDir } = JSON.parse(process.argv[2]);
const check = checker("console");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

const browser = await chromium.launch(CHROMIUM);
const report = { pages: [], violations: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  const page = await context.newPage();
  const failed = [];
  page.on("requestfailed", (r) => failed.push(r.url()));
  const audit = async (name) => {
    // The pages work without JavaScript: they have no script of their own. axe-core is evaluated by the
    // test rather than added to the page, so the page's own policy holds.
    check((await page.locator("script").count()) === 0, `${name} has a script`);
    await page.evaluate(axeSource);
    const axe = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags } }), WCAG_22_AA);
    for (const v of axe.violations) {
      report.violations.push({ page: name, id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) });
    }
    await page.screenshot({ path: `${outDir}/${name}.png`, fullPage: true });
    report.pages.push({ name, title: await page.title(), path: new URL(page.url()).pathname.replace(/tsi_[0-9a-f]+/, "tsi_…") });
  };

  await page.goto(url);
  check(new URL(page.url()).pathname === "/sign-in", `a signed-out visit to / lands on ${page.url()}`);
  await audit("01-sign-in");
  await page.getByRole("button", { name: "Email me a sign-in link" }).click();
  check((await page.title()).startsWith("Error:"), "an empty address is an error");
  check(await page.getByRole("link", { name: "Enter your work email address" }).isVisible(), "error summary links to the field");
  await audit("02-sign-in-error");
  await page.getByLabel("Work email address").fill("dr.patel@practice.example");
  await page.getByRole("button", { name: "Email me a sign-in link" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await audit("03-check-email");

  await page.goto(url + signInPath);
  await audit("04-confirm-sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();
  check(new URL(page.url()).pathname === "/referrals", `signing in lands on ${page.url()}`);
  await audit("05-referrals");
  report.rows = await page.locator("table tbody tr").count();
  await page.getByRole("link", { name: /Margaret Hughes/ }).first().click();
  check(new URL(page.url()).pathname === `/referrals/${referralId}`, `the row opens ${page.url()}`);
  await audit("06-referral");

  await page.goto(url + signInPath);
  await audit("07-link-ended");
  report.failedRequests = failed;
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
