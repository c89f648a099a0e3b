// Where rar writes (--out, -o, --log, the image resumed in place): a file is
// written by replacing it atomically (a temporary file renamed over it), so
// a target that is not a regular file must be refused, not replaced. Before,
// `rar run prog.ent --out /dev/null` run as root replaced the device node
// /dev/null with a regular file holding the image (and said "image written");
// a FIFO or socket in the way was destroyed the same way. (The tests use a
// FIFO and a socket in a temporary directory, never /dev.)

import { mkdtempSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ensureBuilt, rarIn } from "./helpers/cli.js";

let dir = "";
let server: Server | null = null;
const LONG = join(ROOT, "examples", "long.ent");

beforeAll(async () => {
  ensureBuilt();
  dir = realpathSync(mkdtempSync(join(tmpdir(), "rar-atk9-out-")));
  execFileSync("mkfifo", [join(dir, "fifo")]);
  symlinkSync(join(dir, "fifo"), join(dir, "to-fifo"));
  server = createServer();
  await new Promise<void>((r) => server?.listen(join(dir, "sock"), r));
  writeFileSync(join(dir, "hello.ent"), 'fn main() { puts("hi"); return 0; }\n');
  expect(rarIn(dir, "run", LONG, "100", "--gas", "1000", "--out", "susp.rimg").code).toBe(3);
});

afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The special files are still what they were. */
function intact(): void {
  expect(statSync(join(dir, "fifo")).isFIFO()).toBe(true);
  expect(statSync(join(dir, "sock")).isSocket()).toBe(true);
}

describe("a target that is not a regular file is refused, never replaced (was: replaced by a regular file, exit 0 or 3)", () => {
  for (const target of ["fifo", "to-fifo", "sock"]) {
    it(`${target}: run --out, run --log, resume --out, compile -o, view --out, fs import --out`, () => {
      const cases: string[][] = [
        ["run", "hello.ent", "--out", target],
        ["run", "hello.ent", "--log", target],
        ["resume", "susp.rimg", "--out", target],
        ["compile", "hello.ent", "-o", target],
        ["view", "susp.rimg", "--out", target],
        ["fs", "susp.rimg", "import", ".", "--out", target],
      ];
      for (const args of cases) {
        const r = rarIn(dir, ...args);
        expect(r.code, args.join(" ")).toBe(2);
        expect(r.stderr, args.join(" ")).toMatch(/^rar: error: [^\n]*(a FIFO|a socket), not a regular file[^\n]*\n$/);
        intact();
      }
    });
  }

  it("a regular file and a link to one are still replaced as before", () => {
    writeFileSync(join(dir, "old.rimg"), "old");
    symlinkSync(join(dir, "old.rimg"), join(dir, "link.rimg"));
    expect(rarIn(dir, "run", "hello.ent", "--out", "old.rimg").code).toBe(0);
    expect(rarIn(dir, "run", "hello.ent", "--out", "link.rimg").code).toBe(0);
    expect(rarIn(dir, "inspect", "old.rimg").code).toBe(0);
  });
});
