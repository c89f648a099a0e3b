// `rar view IMAGE --out FILE.html` in a real browser: Debian's chromium,
// headless, driven by playwright-core, loads the page from disk (no server, no
// network), steps through it and finds the line and values the debugger
// shows for the same steps; a screenshot is kept in test-artifacts/.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { Debugger } from "../src/debug/debugger.js";
import { decodeImage } from "../src/image/decode.js";
import { ensureBuilt, rarIn, ROOT } from "./helpers/cli.js";
import { launchChromium } from "./helpers/browser.js";

const ARTIFACTS = join(ROOT, "test-artifacts");
const dir = mkdtempSync(join(tmpdir(), "rar-view-"));
const rar = (...args: string[]) => rarIn(dir, ...args);

const PROGRAM = `fn sq(x) {
  let y = x * x;
  return y;
}
fn main(args) {
  let t = 0;
  for i in 0..4 { t = t + sq(i + 40); }
  let h = spawn sq(7) with { gas: 5, mem: 4096 };
  let st = resume(h);
  print("t", t, st);
  return t;
}
`;

beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(dir, "p.ent"), PROGRAM);
  expect(rar("trace", "p.ent", "--out", "p.rimg").code).toBe(0);
  const v = rar("view", "p.rimg", "--out", "p.html");
  expect(v.code).toBe(0);
}, 120_000);

describe("rar view", () => {
  it("writes one self-contained page: no external resource, the step record inlined", () => {
    const html = readFileSync(join(dir, "p.html"), "utf8");
    expect(html).not.toMatch(/(src|href)=["']?https?:/i);
    expect(html).not.toMatch(/<link /i);
    expect(html).toContain('<script id="data" type="application/json">');
  });

  it("steps in headless chromium and shows the debugger's line, locals and tree", async () => {
    const dbg = new Debugger(decodeImage(new Uint8Array(readFileSync(join(dir, "p.rimg")))));
    const context = await launchChromium();
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const requests: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) requests.push(r.url());
      });
      await page.goto(pathToFileURL(join(dir, "p.html")).href);
      const where = async () => (await page.textContent("#where")) ?? "";
      const step = async () => Number(await page.textContent("#step"));
      expect(await step()).toBe(0);
      // The same line the debugger shows at that step, and the current source line highlighted.
      for (let k = 1; k <= 40; k++) {
        await page.click("#next");
        expect(await step()).toBe(k);
        const line = dbg.run(`jump ${k}`).split("  ");
        expect(await where()).toContain(`process ${line[1].replace("process ", "")}  ${line[2]}  ${line[3]}  ${line[4]}`);
        const n = Number(/:(\d+)$/.exec(line[3])?.[1]);
        expect(await page.getAttribute(`#L${n}`, "class")).toBe("cur");
      }
      // Inside sq: its parameter as the debugger's locals show it.
      dbg.run("jump 0");
      dbg.run("break sq");
      const at = Number(/^step (\d+)/m.exec(dbg.run("continue"))?.[1]);
      await page.fill("#slider", String(at));
      await page.dispatchEvent("#slider", "input");
      expect(await step()).toBe(at);
      expect(await page.textContent("#locals")).toContain("local 0 = 40");
      await page.click("#last");
      expect(await page.textContent("#tree")).toMatch(/0\.1 {2}out_of_gas/);
      expect(await page.textContent("#caps")).toMatch(/io\.print/);
      await page.click("#prev");
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "rar-view.png"), fullPage: true });
      expect(requests).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
