// What the browser tests share: how Chromium is launched, and the checks every page of the provider's
// pages gets at phone width (language, viewport, no horizontal scroll, no script, labels, radios in a
// fieldset with a legend, tap-target size, colour contrast; focus order and visible focus).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/// How Chromium is launched: the system's, headless, with nothing talking to the network on its own.
export const CHROMIUM = {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
};

/// The axe-core rules of WCAG 2.2 level AA (and the levels below it).
export const WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/// What axe-core finds against WCAG 2.2 AA on the page as it is now: one entry per rule broken, with the
/// elements breaking it. axe is evaluated by the test rather than added to the page, so the page's own
/// policy holds.
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  const axe = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags } }), WCAG_22_AA);
  return axe.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}

/// A phone's width in CSS pixels: the pages are checked at it.
export const PHONE_WIDTH = 375;

/// A function that throws, naming the run by `label`, when its condition is false.
export function checker(label) {
  return (condition, message) => {
    if (!condition) throw new Error(`${label ?? ""}: ${message}`);
  };
}

/// Chromium as a phone (375px wide, touch, en-GB) with a fresh profile. `close()` closes it and removes
/// the profile.
export async function launchPhone() {
  const userDataDir = mkdtempSync(join(tmpdir(), "trellis-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    ...CHROMIUM,
    viewport: { width: PHONE_WIDTH, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-GB",
  });
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}

/// The text of the page's body, as shown.
export async function bodyText(page) {
  return page.locator("body").innerText();
}

/// Saves a full-page screenshot as `<dir>/<name>.png`.
export async function screenshot(page, dir, name) {
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/// The checks every page gets, at phone width: `check` fails on the first page with an issue, and the
/// page's lowest contrast is added to `report.checks`.
export async function checkPage(page, name, check, report) {
  const found = await page.evaluate((phoneWidth) => {
    const out = { issues: [] };
    const doc = document.documentElement;
    if (doc.lang !== "en-GB") out.issues.push(`lang is ${JSON.stringify(doc.lang)}`);
    if (window.innerWidth !== phoneWidth) out.issues.push(`layout width ${window.innerWidth}: no working viewport meta`);
    if (doc.scrollWidth > doc.clientWidth) out.issues.push(`horizontal scroll: ${doc.scrollWidth} > ${doc.clientWidth}`);
    if (document.querySelectorAll("script").length) out.issues.push("the page has a script");

    // Every control has an accessible label.
    for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea, button")) {
      const name =
        el.tagName === "BUTTON"
          ? el.innerText.trim()
          : [...(el.labels ?? [])].map((l) => l.innerText.trim()).join(" ") || el.getAttribute("aria-label") || "";
      if (!name) out.issues.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name ?? ""}`);
      if (el.type === "radio" && !el.closest("fieldset")?.querySelector("legend")?.innerText.trim()) {
        out.issues.push(`radio ${el.value} is not in a fieldset with a legend`);
      }
    }
    // Tap targets of at least 44 by 44 CSS pixels: buttons, text boxes, and each radio's whole row.
    for (const el of document.querySelectorAll("button, .choice, input.number")) {
      const r = el.getBoundingClientRect();
      if (r.height < 44 || r.width < 44) out.issues.push(`small tap target "${el.innerText?.trim() || el.id}" ${r.width}x${r.height}`);
    }
    // Colour contrast of every piece of text against the background it sits on.
    const rgb = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) =>
      [r, g, b]
        .map((v) => v / 255)
        .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    out.minContrast = 21;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || !el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      if (style.visibility === "hidden" || el.closest(".visually-hidden")) continue;
      const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      out.minContrast = Math.min(out.minContrast, ratio);
      if (ratio < 4.5) out.issues.push(`contrast ${ratio.toFixed(2)} for "${node.textContent.trim().slice(0, 40)}"`);
    }
    return out;
  }, PHONE_WIDTH);
  check(found.issues.length === 0, `${name}: ${found.issues.join("; ")}`);
  report.checks.push({ page: name, minContrast: Number(found.minContrast.toFixed(2)) });
}

/// Tabs through the page from the top: the order of controls, and (through `check`) that each shows
/// where focus is.
export async function focusOrder(page, check) {
  await page.evaluate(() => document.activeElement?.blur());
  const order = [];
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const visible = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== "none";
      const name = el.tagName === "BUTTON" ? el.innerText.trim() : [...(el.labels ?? [])].map((l) => l.innerText.trim()).join(" ");
      return { what: `${el.type ?? el.tagName.toLowerCase()}: ${name}`, visible };
    });
    if (!focused || order.some((o) => o.what === focused.what)) break;
    order.push(focused);
  }
  for (const f of order) check(f.visible, `no visible focus on ${f.what}`);
  return order.map((f) => f.what);
}
