// Drives the provider's offer page in headless Chromium, as a provider on a phone would use it: from the
// link in the offer email (opened at the SMTP server's web API), accept, see the contact details in answer
// and on reloading, but not on a later opening without the page's cookies, confirm first attendance (after
// which the link no longer works); decline another offer with a reason and a note; see the same "not valid" page for an
// expired and an altered link; and a form on another site is refused. Every page is checked at 375px for
// horizontal scrolling, labels, tap-target size, colour contrast and (on the first) focus order and
// visible focus. Screenshots go to `config.screenshots`.
//
// Usage: node provider-page.mjs '<config JSON>'   (or PROVIDER_PAGE_CONFIG='<config JSON>')
// config: { baseUrl, accept: { emailHtml, link }, decline: { emailHtml, link }, opened: { emailHtml, link },
//           expiredUrl, tamperedUrl, screenshots, label }
// Exits non-zero, saying why, on the first failed check. The Rust test then checks the database.
import { mkdirSync } from "node:fs";
import { bodyText, checkPage as checkPageOf, checker, focusOrder as focusOrderOf, launchPhone, screenshot } from "./browser.mjs";

const config = JSON.parse(process.argv[2] ?? process.env.PROVIDER_PAGE_CONFIG ?? "null");
if (!config) {
  console.error("usage: node provider-page.mjs '<config JSON>'");
  process.exit(2);
}
const appOrigin = new URL(config.baseUrl).origin;
const CONTACT_DETAILS = ["Hughes", "01154960123", "0115 496 0123", "margaret.hughes@example.org"];
mkdirSync(config.screenshots, { recursive: true });

const check = checker(config.label);
const { context, close } = await launchPhone();

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

const text = () => bodyText(page);
const shot = (name) => screenshot(page, config.screenshots, name);
const checkPage = (name) => checkPageOf(page, name, check, report);
const focusOrder = () => focusOrderOf(page, check);

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

  const [acceptAnswer] = await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Accept", exact: true }).click()]);
  check(acceptAnswer.status() === 200, `the acceptance was answered with ${acceptAnswer.status()}`);
  check(page.url() === config.accept.link, `the acceptance's answer is at ${page.url()}`);
  const accepted = await text();
  for (const expected of ["Thank you: you accepted this offer.", "How to contact Margaret", "Margaret Hughes", "0115 496 0123", "margaret.hughes@example.org", "A phone call"]) {
    check(accepted.includes(expected), `after accepting, the page lacks ${expected}`);
  }
  check((await page.getByRole("status").innerText()).includes("you accepted"), "the confirmation is not a status message");
  check((await page.getByRole("link", { name: "0115 496 0123" }).getAttribute("href")) === "tel:01154960123", "the phone number is not a tel: link");
  await checkPage("accepted");
  await shot("02-accepted");

  // The same browser opening the page again within minutes (the reveal cookie) still sees them.
  await page.goto(config.accept.link);
  const reopened = await text();
  check(reopened.includes("Margaret Hughes"), "the accepting browser does not see the contact details again");
  const reveal = (await context.cookies(config.accept.link)).find((c) => c.name === "trellis_offer_reveal");
  check(reveal && reveal.httpOnly && reveal.sameSite === "Strict", `the reveal cookie is ${JSON.stringify(reveal)}`);
  check(reveal.path === new URL(config.accept.link).pathname, `the reveal cookie's path is ${reveal.path}`);
  check(reveal.expires > 0 && reveal.expires * 1000 - Date.now() <= 10 * 60 * 1000 + 5000, "the reveal cookie outlives its minutes");

  // A later plain GET (no cookie, as after its minutes or from a forwarded email) shows the offer without them.
  await context.clearCookies();
  await page.goto(config.accept.link);
  const later = await text();
  for (const detail of CONTACT_DETAILS) check(!later.includes(detail), `${detail} is shown on a later plain GET`);
  check(later.includes("Status: Accepted") && later.includes("contact details were shown when you accepted"), "the later page does not say why");
  await checkPage("accepted, later");
  await shot("02b-accepted-later");

  const [attendedAnswer] = await Promise.all([page.waitForNavigation(), page.getByRole("button", { name: "Confirm first attendance" }).click()]);
  check(attendedAnswer.status() === 200, `the attendance was answered with ${attendedAnswer.status()}`);
  const attended = await text();
  check(attended.includes("Thank you: first attendance confirmed.") && attended.includes("Status: Attending"), "attendance not confirmed");
  check((await page.getByRole("button").count()) === 0, "buttons remain after attendance");
  await checkPage("attended");
  await shot("03-attended");
  const afterAttendance = await page.goto(config.accept.link);
  check(afterAttendance.status() === 404, `the link still works after attendance (${afterAttendance.status()})`);

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
  await close();
}
