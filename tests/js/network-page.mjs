// Opens the /network page in headless Chromium: a GP's token is refused, a network lead signs in with
// theirs and sees the SVG graph and the capacity table. axe-core checks the sign-in form (showing the
// GP's refusal) and the network against WCAG 2.2 AA. Saves a screenshot. Prints a JSON report.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations } from "./browser.mjs";

const [url, leadToken, gpToken, outDir] = process.argv.slice(2);
const browser = await chromium.launch(CHROMIUM);
const fail = async (message) => { console.error(message); await browser.close(); process.exit(1); };
try {
  const gpPage = await (await browser.newContext()).newPage();
  await gpPage.goto(url);
  await gpPage.getByLabel("API token").fill(gpToken);
  await gpPage.getByRole("button", { name: "Sign in" }).click();
  const gpRefused = (await gpPage.textContent("body")).includes("for network leads and link workers");
  const signInViolations = await axeViolations(gpPage);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel("API token").fill(leadToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector("svg[role=img]");
  const report = {
    gpRefused,
    nodes: await page.locator("svg g.node").count(),
    flows: await page.locator("svg path.flow").count(),
    tableRows: await page.locator("table tbody tr").count(),
    title: await page.title(),
    violations: [...signInViolations, ...(await axeViolations(page))],
  };
  await page.screenshot({ path: `${outDir}/network.png`, fullPage: true });
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "trellis_network");
  if (!session || !session.httpOnly || session.sameSite !== "Strict") await fail(`weak session cookie ${JSON.stringify(session)}`);
  if (session.value.includes(leadToken.slice(8))) await fail("the session cookie holds the API token");
  // Signing out is the page's own form (a POST with its anti-forgery token) and ends the session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("API token").waitFor();
  report.signedOut = !(await context.cookies()).some((c) => c.name === "trellis_network" && c.value);
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
