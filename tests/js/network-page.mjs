// Opens the /network page in headless Chromium as a console page: a GP practice user, signed in by
// their link, is refused; a network lead, signed in by theirs, lands on the network, chooses the
// locality of a link worker service in the page's GET form, and sees the SVG graph and the capacity
// table. axe-core checks the refusal and the network against WCAG 2.2 AA. The
// session cookie is the console's; signing out ends it. Saves a screenshot. Prints a JSON report.
//
// Arguments: the base URL, the lead's and the GP's sign-in paths (minted by the Rust test), the output
// directory, the id of the link worker service whose locality to choose.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations } from "./browser.mjs";

const [base, leadPath, gpPath, outDir, area] = process.argv.slice(2);
const browser = await chromium.launch(CHROMIUM);
const fail = async (message) => { console.error(message); await browser.close(); process.exit(1); };
const signIn = async (page, path) => {
  await page.goto(base + path);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
};
try {
  const gpPage = await (await browser.newContext()).newPage();
  await signIn(gpPage, gpPath);
  const refusal = await gpPage.goto(`${base}/network`);
  const gpRefused = refusal.status() === 403 && (await gpPage.textContent("body")).includes("for network leads and link workers");
  const refusalViolations = await axeViolations(gpPage);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, leadPath);
  const landed = new URL(page.url()).pathname;
  await page.getByLabel("Locality of").selectOption(area);
  await page.getByRole("button", { name: "Show" }).click();
  await page.waitForURL((u) => u.searchParams.get("area") === area);
  await page.waitForSelector("svg[role=img]");
  const report = {
    chosen: new URL(page.url()).searchParams.get("area") === area
      && (await page.getByLabel("Locality of").inputValue()) === area,
    gpRefused,
    landed,
    nodes: await page.locator("svg g.node").count(),
    flows: await page.locator("svg path.flow").count(),
    tableRows: await page.locator("table tbody tr").count(),
    title: await page.title(),
    violations: [...refusalViolations, ...(await axeViolations(page))],
  };
  await page.screenshot({ path: `${outDir}/network.png`, fullPage: true });
  const session = (await context.cookies()).find((c) => c.name === "trellis_session");
  if (!session || !session.httpOnly || session.sameSite !== "Lax") await fail(`weak session cookie ${JSON.stringify(session)}`);
  // Signing out is the console's own form (a POST with its anti-forgery token) and ends the session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((u) => u.pathname === "/sign-in");
  report.signedOut = !(await context.cookies()).some((c) => c.name === "trellis_session" && c.value);
  const again = await page.goto(`${base}/network`);
  report.afterSignOut = new URL(page.url()).pathname;
  report.afterSignOutStatus = again.status();
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
