// `rar trace-slice IMAGE --from S --to T --out OUT` (CLI.md): an
// inspection-only image of steps S..T that debug (and view) accept with the
// same states as the whole run, and that replay, audit and resume refuse.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Debugger } from "../src/debug/debugger.js";
import { decodeImage } from "../src/image/decode.js";
import { ensureBuilt, rarIn } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "rar-slice-"));
const rar = (...args: string[]) => rarIn(dir, ...args);
const load = (name: string) => new Debugger(decodeImage(new Uint8Array(readFileSync(join(dir, name)))));

const PROGRAM = `fn sq(x) { return x * x; }
fn main(args) {
  let t = 0;
  for i in 0..args[0] { t = t + sq(i); if i % 500 == 0 { print("i", i, t); } }
  return t;
}
`;

beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(dir, "p.ent"), PROGRAM);
  expect(rar("trace", "p.ent", "3000", "--out", "whole.rimg").code).toBe(0);
  expect(rar("trace-slice", "whole.rimg", "--from", "20000", "--to", "20400", "--out", "slice.rimg").code).toBe(0);
}, 120_000);

describe("trace slices", () => {
  it("debug visits steps S..T of a slice with the states of the whole run", () => {
    const whole = load("whole.rimg");
    const slice = load("slice.rimg");
    expect(slice.position).toBe(20000);
    for (let k = 20000; k <= 20400; k += 37) {
      whole.run(`jump ${k}`);
      expect(slice.run(`jump ${k}`)).toBe(whole.run("where"));
      expect(slice.run("stack")).toBe(whole.run("stack"));
      expect(slice.run("locals")).toBe(whole.run("locals"));
    }
    expect(slice.run("jump 99999")).toMatch(/^step 20400 /);
    expect(slice.run("jump 5")).toMatch(/^step 20000 /);
    expect(rar("debug", "slice.rimg", "--commands", "where;step 10;back 3").stdout).toMatch(/^step 20000 .*\nstep 20010 .*\nstep 20007 /);
  });

  it("is refused by replay, audit and resume: one line, exit 2", () => {
    for (const args of [["replay", "slice.rimg"], ["audit", "slice.rimg"], ["resume", "slice.rimg"], ["run", "slice.rimg"]]) {
      const r = rar(...args);
      expect(r.code, args[0]).toBe(2);
      expect(r.stderr).toMatch(/^rar: error: slice\.rimg is a trace slice \(steps 20000\.\.20400\): inspection only/);
    }
  });

  it("refuses a range that is backwards or past the run", () => {
    expect(rar("trace-slice", "whole.rimg", "--from", "10", "--to", "5", "--out", "x.rimg").code).toBe(2);
    expect(rar("trace-slice", "whole.rimg", "--from", "999999999", "--to", "999999999", "--out", "x.rimg").stderr).toMatch(/past its end/);
  });
});
