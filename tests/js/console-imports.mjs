// Opens the console's /directory/imports page in headless Chromium: a GP practice user, signed in by
// their link, is refused; a network lead goes there from the directory and sees each import run with
// its counts, warnings and rejections. axe-core checks the refusal and the page against WCAG 2.2 AA.
// Saves a screenshot. Prints a JSON report.
//
// Arguments: the base URL, the lead's and the GP's sign-in paths (minted by the Rust test), the output
// directory.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations } from "./browser.mjs";

const [base, leadPath, gpPath, outDir] = process.argv.slice(2);
const browser = await chromium.launch(CHROMIUM);
const signIn = async (page, path) => {
  await page.goto(base + path);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
};
try {
  const gpPage = await (await browser.newContext()).newPage();
  await signIn(gpPage, gpPath);
  const refusal = await gpPage.goto(`${base}/directory/imports`);
  const gpRefused = refusal.status() === 403 && (await gpPage.textContent("body")).includes("for the network lead");
  const refusalViolations = await axeViolations(gpPage);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, leadPath);
  await page.goto(`${base}/directory`);
  await page.getByRole("link", { name: "Import reports" }).click();
  await page.waitForURL((u) => u.pathname === "/directory/imports");
  const report = {
    gpRefused,
    title: await page.title(),
    runs: await page.locator("section.run h2").allTextContents(),
    warnings: await page.locator("table:has(caption:text('Warnings')) tbody tr").allTextContents(),
    rejections: await page.locator("table:has(caption:text('Rejections')) tbody tr").allTextContents(),
    failures: await page.locator("dt:text('Why it failed') + dd").allTextContents(),
    violations: [...refusalViolations, ...(await axeViolations(page))],
  };
  await page.screenshot({ path: `${outDir}/directory-imports.png`, fullPage: true });
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
