// `rar view` pages show what a guest and its image chose: file names, source
// lines, function names, process paths. None of it may become markup in the
// page (CSP allows inline script, so an injected `onerror` would run): the
// page is loaded in headless chromium (as test/debug-view.test.ts does) and
// stepped through every step; no dialog opens, no element the page did not
// make appears, and the hostile text shows as text.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, rarIn } from "./helpers/cli.js";
import { launchChromium } from "./helpers/browser.js";

const dir = mkdtempSync(join(tmpdir(), "rar-atk10-xss-"));
const FN = "x<img/src=1/onerror=alert(1)>";
const FILE = 'a"><img src=2 onerror=alert(2)>.rasm';
const SOURCE = [
  "; </script><script>alert(3)</script> <!-- <svg/onload=alert(4)>",
  ".func main 0 1",
  `  CALL ${FN}`,
  "  RET ; <img src=5 onerror=alert(5)>",
  `.func ${FN} 0 1`,
  "  PUSH 1",
  "  RET",
  "",
].join("\n");

beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(dir, FILE), SOURCE);
  expect(rarIn(dir, "trace", FILE, "--out", "x.rimg").code).toBe(0);
  expect(rarIn(dir, "view", "x.rimg", "--out", "x.html").code).toBe(0);
}, 120_000);

describe("rar view of hostile names", () => {
  it("renders them as text at every step: no dialog, no injected element", async () => {
    const context = await launchChromium();
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(pathToFileURL(join(dir, "x.html")).href);
      const steps = Number(await page.getAttribute("#slider", "max"));
      const wheres: string[] = [];
      for (let k = 0; k <= steps; k++) {
        wheres.push((await page.textContent("#where")) ?? "");
        expect(await page.locator("img, svg script, script:not(#data):not(:last-of-type), iframe").count()).toBe(0);
        expect(await page.locator("svg").count()).toBe(2);
        if (k < steps) await page.click("#next");
      }
      const text = (await page.textContent("body")) ?? "";
      expect(text).toContain("<img src=5 onerror=alert(5)>");
      expect(wheres.some((w) => w.includes(FN))).toBe(true);
      expect(dialogs).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});
