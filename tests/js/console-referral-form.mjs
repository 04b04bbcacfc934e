// The GP practice's referral form and the link worker's caseload in headless Chromium, as people use
// them: the practice signs in, opens the form from its list, types a wrong NHS number, sees the error
// summary and the error by the field, follows the summary's link to the field, fixes it, submits and
// lands on the new referral. The link worker signs in, sees the referral on the caseload, and filters
// the caseload down to an overdue referral the Rust test made (Margaret Hughes). Every page (the form empty and showing errors, the referral, the caseload filtered and not) is
// checked with axe-core against WCAG 2.2 AA and screenshotted. Prints a JSON report.
//
// Argument: a JSON object { url, gpSignInPath, workerSignInPath, outDir }. The sign-in links are minted
// by the Rust test; the emailed round trip is tested there over SMTP.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations, checker } from "./browser.mjs";

const { url, gpSignInPath, workerSignInPath, outDir } = JSON.parse(process.argv[2]);
const check = checker("console referral form");
const path = (page) => new URL(page.url()).pathname;

const browser = await chromium.launch(CHROMIUM);
const report = { pages: [], violations: [], failedRequests: [] };
try {
  const signIn = async (signInPath) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
    const page = await context.newPage();
    page.on("requestfailed", (r) => report.failedRequests.push(r.url()));
    await page.goto(url + signInPath);
    await page.getByRole("button", { name: "Sign in" }).click();
    return page;
  };
  const audit = async (page, name) => {
    // No script of the page's own: everything here works without JavaScript.
    check((await page.locator("script").count()) === 0, `${name} has a script`);
    for (const v of await axeViolations(page)) report.violations.push({ page: name, ...v });
    await page.screenshot({ path: `${outDir}/${name}.png`, fullPage: true });
    report.pages.push({ name, title: await page.title(), path: path(page) });
  };

  // The practice: its list links to the form.
  const gp = await signIn(gpSignInPath);
  check(path(gp) === "/referrals", `the practice lands on ${gp.url()}`);
  await gp.getByRole("link", { name: "Submit a referral" }).click();
  check(path(gp) === "/referrals/new", `the link opens ${gp.url()}`);
  await audit(gp, "01-referral-form");

  await gp.getByLabel("NHS number").fill("943 476 5918");
  await gp.getByLabel("Given name").fill("Ada");
  await gp.getByLabel("Family name").fill("Lovelace");
  await gp.locator("#dob-day").fill("10");
  await gp.locator("#dob-month").fill("12");
  await gp.locator("#dob-year").fill("1950");
  await gp.getByLabel("Phone number (optional)").fill("01332 123456");
  await gp.getByLabel("Postcode (optional)").fill("DE1 1AA");
  await gp.getByLabel("Phone call").check();
  await gp.getByLabel("Loneliness or isolation").check();
  await gp.getByLabel("Being more active").check();
  await gp.getByLabel("Reason for the referral").fill("Lives alone and would like to get out more.");
  await gp.getByLabel(/agrees to share this referral/).check();
  await gp.getByRole("button", { name: "Submit referral" }).click();

  const message = "Enter a valid NHS number: the check digit does not match";
  check((await gp.title()).startsWith("Error:"), `the title says there is an error: ${await gp.title()}`);
  check(await gp.getByRole("heading", { name: "There is a problem" }).isVisible(), "an error summary");
  const summaryLink = gp.getByRole("link", { name: message });
  check(await summaryLink.isVisible(), "the summary names the NHS number's error");
  check((await gp.locator("#nhs-number-error").innerText()).includes(message), "the error is by the field");
  check((await gp.getByLabel("NHS number").inputValue()) === "943 476 5918", "what was typed is kept");
  check((await gp.getByLabel("Given name").inputValue()) === "Ada", "every field is kept");
  check(await gp.getByLabel("Loneliness or isolation").isChecked(), "the needs chosen are kept");
  await audit(gp, "02-referral-form-errors");
  await summaryLink.click();
  check(await gp.evaluate(() => document.activeElement?.id === "nhs-number"), "the summary's link moves focus to the field");

  await gp.getByLabel("NHS number").fill("943 476 5919");
  await gp.getByRole("button", { name: "Submit referral" }).click();
  check(/^\/referrals\/[0-9a-f-]{36}$/.test(path(gp)), `submitting lands on the referral: ${gp.url()}`);
  check(await gp.getByRole("heading", { name: /Ada Lovelace/ }).isVisible(), "the referral is shown");
  check((await gp.locator("main").innerText()).includes("943 476 5919"), "with the NHS number as fixed");
  report.referral = path(gp).split("/").pop();
  await audit(gp, "03-submitted-referral");
  await gp.getByRole("link", { name: "Back to referrals" }).click();
  await audit(gp, "04-practice-referrals");
  report.practiceRows = await gp.locator("table tbody tr").count();

  // The link worker: the caseload, then filtered.
  const worker = await signIn(workerSignInPath);
  check(path(worker) === "/caseload", `the link worker lands on ${worker.url()}`);
  await audit(worker, "05-caseload");
  report.caseloadHasReferral = (await worker.getByRole("link", { name: "Ada Lovelace" }).count()) === 1;
  await worker.getByLabel("Name or NHS number").fill("hughes");
  await worker.getByLabel("Need", { exact: true }).selectOption("loneliness");
  await worker.getByLabel("First contact overdue").check();
  await worker.getByRole("button", { name: "Apply filters" }).click();
  const query = new URL(worker.url()).searchParams;
  check(query.get("q") === "hughes" && query.get("need") === "loneliness" && query.get("overdue") === "yes", `the filters are in the address: ${worker.url()}`);
  check((await worker.getByLabel("Name or NHS number").inputValue()) === "hughes", "the search is kept");
  await audit(worker, "06-caseload-filtered");
  report.filteredRows = await worker.locator("table tbody tr").count();
  report.overdueTags = await worker.getByText("Overdue", { exact: true }).count();
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
