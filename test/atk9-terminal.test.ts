// rar's own lines that quote a guest (a fault's detail holds the path the
// guest gave; inspect, audit and forensics show an image's contents) never
// write raw control characters: an untrusted program or image cannot
// recolour, retitle or rewrite the terminal of whoever runs or inspects it
// through rar's messages. (The program's own output, io.print, is the
// program's: written as it is.) Before, the fault line, `rar inspect`,
// `rar inspect --process 0`, `rar audit` and `rar replay` wrote the guest's
// ESC [31m and ESC ]0;...BEL as they were.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, rarIn } from "./helpers/cli.js";

let dir = "";

// ESC [31m RED ESC ]0;pwn BEL, as the path of an fs.read that fails.
const EVIL = `cap fs.read;
fn main() {
  let p = [27, 91, 51, 49, 109, 82, 69, 68, 27, 93, 48, 59, 112, 119, 110, 7];
  let x = fs.read(p);
  return 0;
}
`;

// C0 controls (but tab and line feed), DEL and C1 controls.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-atk9-term-"));
  mkdirSync(join(dir, "scope"));
  writeFileSync(join(dir, "evil.ent"), EVIL);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a guest's control characters in rar's own lines", () => {
  it("are escaped in the fault line of run, and in inspect, inspect --process, audit and replay", () => {
    const run = rarIn(dir, "run", "evil.ent", "--allow", "fs.read:scope", "--out", "evil.rimg");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("\\x1b[31mRED\\x1b]0;pwn\\x07");
    for (const args of [
      ["run", "evil.ent", "--allow", "fs.read:scope", "--out", "evil2.rimg"],
      ["inspect", "evil.rimg"],
      ["inspect", "evil.rimg", "--process", "0", "--strings"],
      ["audit", "evil.rimg"],
      ["replay", "evil.rimg"],
    ]) {
      const r = rarIn(dir, ...args);
      if (args[0] !== "replay") expect(r.stdout + r.stderr, args.join(" ")).toMatch(/RED/);
      expect(CONTROL.test(r.stdout), `${args.join(" ")}: stdout`).toBe(false);
      expect(CONTROL.test(r.stderr), `${args.join(" ")}: stderr`).toBe(false);
    }
  });

  it("inspect --json keeps the guest's text exact (JSON escapes it)", () => {
    const r = rarIn(dir, "inspect", "evil.rimg", "--json");
    expect(r.code).toBe(0);
    expect(CONTROL.test(r.stdout)).toBe(false);
    expect(JSON.stringify(JSON.parse(r.stdout))).toContain("\\u001b[31mRED");
  });
});
