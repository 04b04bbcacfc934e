// The network lead's directory pages in headless Chromium: the list, a new service with one mistake
// (its error page), fixed; the service's page; its capacity with a mistake, fixed; and the conflict a
// second tab's save makes. Each page is checked with axe-core against WCAG 2.2 AA and screenshotted.
// Prints a JSON report.
//
// Argument: a JSON object { url, signInPath, provider, walkingGroupId, outDir }. The sign-in link is
// minted by the Rust test.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations, checker } from "./browser.mjs";

const { url, signInPath, provider, walkingGroupId, outDir } = JSON.parse(process.argv[2]);
const check = checker("console-directory");

const browser = await chromium.launch(CHROMIUM);
const report = { pages: [], violations: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  const page = await context.newPage();
  const failed = [];
  page.on("requestfailed", (r) => failed.push(r.url()));
  const audit = async (name, on = page) => {
    check((await on.locator("script").count()) === 0, `${name} has a script`);
    for (const v of await axeViolations(on)) report.violations.push({ page: name, ...v });
    await on.screenshot({ path: `${outDir}/${name}.png`, fullPage: true });
    report.pages.push({ name, title: await on.title(), path: new URL(on.url()).pathname });
  };
  const path = () => new URL(page.url()).pathname;

  await page.goto(url + signInPath);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Directory" }).click();
  check(path() === "/directory", `the header's link opens ${page.url()}`);
  check(await page.getByRole("link", { name: "Long Eaton Walking Group" }).isVisible(), "the walking group is listed");
  check(await page.getByText("Stale", { exact: true }).isVisible(), "stale capacity is marked");
  await audit("01-directory");
  await page.getByLabel("Name", { exact: true }).fill("walking");
  await page.getByRole("button", { name: "Search" }).click();
  check((await page.locator("table tbody tr").count()) === 1, "the search finds the walking group alone");

  // A new service, with one mistake: the postcode.
  await page.goto(url + "/directory");
  await page.getByRole("link", { name: "Add a service" }).click();
  await page.getByLabel("Provider that runs it").selectOption({ label: provider });
  await page.getByLabel("Name", { exact: true }).fill("Men's shed");
  await page.getByLabel("What it is").fill("Woodwork and company, at your own pace.");
  await page.getByLabel("Volunteering").check();
  await page.getByLabel("Befriending").check();
  await page.getByLabel("Name of the place").fill("The old forge");
  await page.getByLabel("Postcode", { exact: true }).fill("NG10 2B");
  await page.getByLabel("Places free now").fill("4");
  await page.getByLabel("Places in all").fill("10");
  await page.getByLabel("Open", { exact: true }).check();
  await page.getByRole("button", { name: "Add the service" }).click();
  check((await page.title()).startsWith("Error:"), `a wrong postcode is an error: ${await page.title()}`);
  const summaryLink = page.getByRole("link", { name: "Enter a real postcode, like NG10 1AA" });
  check(await summaryLink.isVisible(), "the error summary links to the postcode");
  check((await page.getByLabel("Name", { exact: true }).inputValue()) === "Men's shed", "what was typed is kept");
  check(await page.getByLabel("Volunteering").isChecked(), "ticked boxes stay ticked");
  await audit("02-new-service-error");
  await summaryLink.click();
  check(await page.getByLabel("Postcode", { exact: true }).evaluate((e) => e === document.activeElement), "the summary's link moves to the field");
  await page.getByLabel("Postcode", { exact: true }).fill("NG10 2BB");
  await page.getByRole("button", { name: "Add the service" }).click();
  check(await page.getByText("The service was added.").isVisible(), `the service is added: ${page.url()}`);
  const servicePath = path();
  await audit("03-service");

  // Its capacity: a mistake, then the numbers.
  await page.getByLabel("Places free now").fill("eleven");
  await page.getByRole("button", { name: "Save capacity" }).click();
  check((await page.title()).startsWith("Error:"), "a word for a number is an error");
  await audit("04-service-capacity-error");
  await page.getByLabel("Places free now").fill("3");
  await page.getByLabel("Waiting list").check();
  await page.getByRole("button", { name: "Save capacity" }).click();
  check(await page.getByText("The service's capacity was saved.").isVisible(), "the capacity is saved");
  check(await page.getByText(/3 of 10 places free, Waiting list/).isVisible(), "and shown");

  // A second tab saves meanwhile: this tab's details are refused, kept, and it offers to reload.
  const other = await context.newPage();
  await other.goto(url + servicePath);
  await other.getByRole("button", { name: "Save capacity" }).click();
  check(await other.getByText("The service's capacity was saved.").isVisible(), "the other tab saves");
  await other.close();
  await page.getByLabel("Name", { exact: true }).fill("Men's shed (Mondays)");
  await page.getByRole("button", { name: "Save details" }).click();
  check(await page.getByRole("heading", { name: "Someone else changed this service" }).isVisible(), "the conflict is shown");
  check((await page.getByLabel("Name", { exact: true }).inputValue()) === "Men's shed (Mondays)", "the typing is kept");
  await audit("05-conflict");
  await page.getByRole("link", { name: "Reload the service" }).click();
  check((await page.getByLabel("Name", { exact: true }).inputValue()) === "Men's shed", "reloaded as saved");

  // An existing service's page, as the lead finds it.
  await page.goto(url + `/directory/services/${walkingGroupId}`);
  await audit("06-walking-group");
  report.failedRequests = failed;
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
