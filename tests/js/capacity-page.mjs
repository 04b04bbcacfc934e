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
import { mkdirSync } from "node:fs";
import { bodyText, checkPage as checkPageOf, checker, focusOrder as focusOrderOf, launchPhone, screenshot } from "./browser.mjs";

const config = JSON.parse(process.argv[2] ?? process.env.CAPACITY_PAGE_CONFIG ?? "null");
if (!config) {
  console.error("usage: node capacity-page.mjs '<config JSON>'");
  process.exit(2);
}
const appOrigin = new URL(config.baseUrl).origin;
mkdirSync(config.screenshots, { recursive: true });

const check = checker(config.label);
const { context, close } = await launchPhone();

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

const text = () => bodyText(page);
const shot = (name) => screenshot(page, config.screenshots, name);
const checkPage = (name) => checkPageOf(page, name, check, report);
const focusOrder = () => focusOrderOf(page, check);

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
  const leakedField = await page.locator('input[name="csrf"]').first().inputValue();
  await checkPage("capacity");
  report.focusOrder = await focusOrder();
  const expectedOrder = [
    "text: Places free now",
    "text: Places in all",
    `radio: ${OPEN}`,
    "submit: Save places",
    "email: New email address for offers",
    "submit: Save email address",
  ];
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

  // Where offers are sent: the provider's own choice, from its page.
  await page.getByLabel("New email address for offers").fill("bookings@greenspring.example");
  await Promise.all([page.waitForURL(/\?done=email(#.*)?$/), page.getByRole("button", { name: "Save email address" }).click()]);
  const emailSaved = await text();
  check(emailSaved.includes("now go to bookings@greenspring.example"), "the new address is not confirmed");
  await checkPage("email saved");
  await shot("03b-email-saved");

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
  await close();
}
