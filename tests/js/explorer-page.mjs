// Opens the GraphiQL explorer at /graphql in headless Chromium and uses it as a person would: the
// documentation explorer shows the schema, typing in the editor offers completion, and a query run with
// a bearer token pasted in the headers editor answers as that token's user. Every request the page makes
// must succeed (no CDN, nothing blocked by the page's policy) and the console must stay free of errors.
// axe-core then checks the page against WCAG 2.2 AA. Saves a screenshot; prints a JSON report.
import { chromium } from "playwright-core";
import { CHROMIUM, axeViolations } from "./browser.mjs";

const [url, token, outDir] = process.argv.slice(2);

const browser = await chromium.launch(CHROMIUM);
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB" });
  const page = await context.newPage();
  const report = { failedRequests: [], consoleErrors: [], requests: [], authorizedPosts: 0 };
  page.on("requestfailed", (r) => report.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) report.failedRequests.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
  });
  page.on("request", (r) => {
    report.requests.push(r.url());
    if (r.method() === "POST" && r.headers()["authorization"] === `Bearer ${token}`) report.authorizedPosts += 1;
  });
  page.on("console", (m) => {
    if (m.type() === "error") report.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => report.consoleErrors.push(`uncaught: ${e.message}`));

  await page.goto(url);
  await page.locator(".graphiql-container").waitFor();
  report.title = await page.title();

  // The documentation explorer lists the root types, and under Query its fields.
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  const docs = page.locator(".graphiql-doc-explorer");
  await docs.getByText("query:").waitFor();
  await docs.locator("a.graphiql-doc-explorer-type-name", { hasText: /^Query$/ }).first().click();
  await docs.locator(".graphiql-doc-explorer-title", { hasText: "Query" }).waitFor();
  report.queryFields = await docs.locator(".graphiql-doc-explorer-field-name").allTextContents();

  // Completion: typing the start of a field offers the schema's fields.
  const editor = page.locator(".graphiql-query-editor .CodeMirror");
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type("{ refer", { delay: 30 });
  const hints = page.locator(".CodeMirror-hints");
  await hints.waitFor();
  report.completions = await hints.locator("li").allTextContents();
  await page.keyboard.press("Escape");

  // The bearer token goes in the headers editor and is sent with the query.
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type("{ me { user { name role } } }");
  await page.getByRole("button", { name: "Headers" }).click();
  await page.locator(".graphiql-editor-tool .CodeMirror").last().click();
  await page.keyboard.type(`{"Authorization": "Bearer ${token}"`);
  await page.getByRole("button", { name: "Execute query (Ctrl-Enter)" }).click();
  const result = page.locator(".graphiql-response");
  await result.getByText('"role"').waitFor();
  report.result = JSON.parse(await page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue()));

  await page.screenshot({ path: `${outDir}/explorer.png` });

  // GraphiQL's dialogs add a <style> element of their own: it must carry the page's nonce.
  await page.getByRole("button", { name: "Open settings dialog" }).click();
  await page.getByRole("dialog").waitFor();
  report.dialogStyles = await page.evaluate(() =>
    [...document.querySelectorAll("style")].map((s) => Boolean(s.nonce) && s.sheet !== null),
  );
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached" });

  report.violations = await axeViolations(page);
  report.external = report.requests.filter((r) => !r.startsWith(new URL(url).origin) && !r.startsWith("data:"));
  delete report.requests;
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
