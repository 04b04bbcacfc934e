// The network lead's impact reports page in headless Chromium: reached from the header, every chart an
// SVG image with a title followed by its table, the filter form sent without JavaScript, and a bad
// period shown as an error. Each page is checked with axe-core against WCAG 2.2 AA and screenshotted.
// Prints a JSON report.
//
// Argument: a JSON object { url, signInPath, outDir }.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations, checker } from "./browser.mjs";

const { url, signInPath, outDir } = JSON.parse(process.argv[2]);
const check = checker("console-reports");

const browser = await chromium.launch(CHROMIUM);
const report = { pages: [], violations: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  const page = await context.newPage();
  const failed = [];
  page.on("requestfailed", (r) => failed.push(r.url()));
  const audit = async (name) => {
    check((await page.locator("script").count()) === 0, `${name} has a script`);
    for (const v of await axeViolations(page)) report.violations.push({ page: name, ...v });
    await page.screenshot({ path: `${outDir}/${name}.png`, fullPage: true });
    report.pages.push({ name, title: await page.title(), path: new URL(page.url()).pathname });
  };

  await page.goto(url + signInPath);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Reports" }).click();
  check(new URL(page.url()).pathname === "/reports", `the header's link opens ${page.url()}`);
  report.charts = await page.locator("svg[role=img]").count();
  report.chartsWithTitles = await page.locator("svg[role=img] > title").count();
  report.chartsFollowedByTables = await page.locator("figure + div.wrap > table").count();
  report.tables = await page.locator("section.report table").count();
  const bySource = page.locator("section#referrals-by-source");
  report.sourceBars = await bySource.locator("svg rect").count();
  report.sourceRows = await bySource.locator("tbody tr").count();
  report.sourceCaption = (await bySource.locator("figcaption").count()) ? await bySource.locator("figcaption").textContent() : "";
  report.smallShown = await page.getByRole("cell", { name: "<5", exact: true }).count();
  await audit("01-reports");
  // Filtering is a plain GET form.
  await page.getByLabel("Need", { exact: true }).selectOption("debt");
  await page.getByRole("button", { name: "Show" }).click();
  report.filteredQuery = new URL(page.url()).search;
  report.filteredTotal = await page.locator("section#referrals-by-status tr[data-key=total] td").first().textContent();
  await audit("02-reports-filtered");
  // A period that ends before it starts is an error, shown at the top.
  await page.getByLabel("From", { exact: true }).fill("2026-11-02");
  await page.getByLabel("To", { exact: true }).fill("2026-11-01");
  await page.getByRole("button", { name: "Show" }).click();
  check((await page.title()).startsWith("Error:"), `a backwards period is an error: ${await page.title()}`);
  await audit("03-reports-error");
  report.failedRequests = failed;
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
