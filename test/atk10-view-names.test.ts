// A recorded run's source files are named by its image (untrusted): a file
// named `__proto__` or `constructor` must show its source in `rar view`, like
// any other, not break the page. Before, viewData's sources object took
// `__proto__` as its prototype (the source was lost) and the page looked
// `constructor` up on the object's prototype (a TypeError: nothing shown).

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { newDebugPart } from "../src/debug/record.js";
import { viewData, viewHtml } from "../src/debug/view.js";
import { decodeImage } from "../src/image/decode.js";
import { Session } from "../src/session.js";
import { load } from "./helpers/asm.js";
import { launchChromium } from "./helpers/browser.js";

const SRC = ".func main 0 1\n  PUSH 3\n  PUSH 4\n  ADD\n  RET\n";

function viewOf(file: string): { data: { sources: Record<string, string[]> }; html: string } {
  const s = Session.start(load(SRC, file), { gas: 1000, stdout: () => {} });
  s.history.debug = newDebugPart(new Map([[file, SRC]]));
  s.run();
  const data = viewData(decodeImage(s.snapshot()), "x.rimg") as { sources: Record<string, string[]> };
  return { data, html: viewHtml(data) };
}

describe("source files named like Object's own properties", () => {
  it.each(["__proto__", "constructor", "toString", "hasOwnProperty"])("%s: its source is in the page's data", (file) => {
    const { data, html } = viewOf(file);
    expect(Object.hasOwn(data.sources, file)).toBe(true);
    expect(data.sources[file][1]).toBe("  PUSH 3");
    expect(html).toContain(`${JSON.stringify(file)}:[".func main 0 1"`);
  });

  it("the page shows them in headless chromium without an error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rar-atk10-names-"));
    const context = await launchChromium();
    try {
      for (const file of ["__proto__", "constructor"]) {
        writeFileSync(join(dir, `${file}.html`), viewOf(file).html);
        const page = await context.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(pathToFileURL(join(dir, `${file}.html`)).href);
        expect(errors, file).toEqual([]);
        expect(await page.textContent("#source"), file).toContain("PUSH 3");
        await page.close();
      }
    } finally {
      await context.close();
    }
  }, 120_000);
});
