// Files the host reads on a user's word (a program, an image, a policy, a kv
// store, a directory to import): never more than stated before reading,
// never a stack trace or an internal error, and `rar fs import` takes only
// what lies under DIR, even while someone swaps its entries for links.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, ftruncateSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ensureBuilt, rarIn } from "./helpers/cli.js";

let dir = "";
let swapper: ChildProcess | null = null;

beforeAll(() => {
  ensureBuilt();
  dir = realpathSync(mkdtempSync(join(tmpdir(), "rar-atk9-files-")));
});

afterAll(() => {
  swapper?.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A sparse file of `bytes` (no pages written). */
function sparse(name: string, bytes: number): string {
  const p = join(dir, name);
  const fd = openSync(p, "w");
  ftruncateSync(fd, bytes);
  closeSync(fd);
  return p;
}

function expectOneLine(r: { code: number; stdout: string; stderr: string }, message: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^rar: error: [^\n]+\n$/);
  expect(r.stderr).toMatch(message);
}

describe("an input file too large to take", () => {
  it("a 1 GiB source is refused before it is read (was: read whole, then exit 4 'internal error: Cannot create a string longer than 0x1fffffe8 characters')", () => {
    sparse("huge.ent", 2 ** 30);
    expectOneLine(rarIn(dir, "run", "huge.ent"), /huge\.ent: larger than 67108864 bytes/);
    sparse("huge.rasm", 2 ** 30);
    expectOneLine(rarIn(dir, "run", "huge.rasm"), /huge\.rasm: larger than 67108864 bytes/);
  });

  it("a 3 GiB image is refused in one line (was: 'The value of \"length\" is out of range. It must be >= 0. Received -1073741824')", () => {
    sparse("huge.rimg", 3 * 2 ** 30);
    expectOneLine(rarIn(dir, "inspect", "huge.rimg"), /huge\.rimg: larger than 2147483647 bytes/);
    expectOneLine(rarIn(dir, "resume", "huge.rimg"), /huge\.rimg: larger than 2147483647 bytes/);
  });

  it("a 600 MB policy file or kv store is refused before it is read (was: read whole, then ERR_STRING_TOO_LONG)", () => {
    sparse("huge.json", 600 * 2 ** 20);
    writeFileSync(join(dir, "kv.ent"), "cap kv.get;\nfn main() { return 0; }\n");
    expectOneLine(rarIn(dir, "run", "kv.ent", "--policy", "huge.json"), /huge\.json: larger than 536870888 bytes/);
    writeFileSync(join(dir, "kvp.json"), JSON.stringify({ allow: ["kv.get"], kv: "huge.json" }));
    expectOneLine(rarIn(dir, "run", "kv.ent", "--policy", "kvp.json"), /cannot read the kv store \(larger than 536870888 bytes/);
  });
});

// Swaps each DIR/fI, again and again, between a regular file (a hard link of
// spare/plain) and a relative link to ../secret.txt (outside DIR).
const SWAPPER = `
const fs = require("fs"), path = require("path");
const [dir, spare, n] = [process.argv[1], process.argv[2], Number(process.argv[3])];
for (let k = 0; ; k++) {
  const i = k % n, f = path.join(dir, "f" + i), t = path.join(spare, "t");
  try { fs.rmSync(t, { force: true }); fs.symlinkSync("../secret.txt", t); fs.renameSync(t, f); } catch {}
  try { fs.rmSync(t, { force: true }); fs.linkSync(path.join(spare, "plain"), t); fs.renameSync(t, f); } catch {}
}`;

describe("rar fs import of a directory whose entries are swapped for links meanwhile", () => {
  it("never takes in a file outside DIR (was: a file lstat saw was opened following the link put there since, and the secret was imported)", async () => {
    const N = 200;
    const importDir = join(dir, "in");
    const spare = join(dir, "spare");
    mkdirSync(importDir);
    mkdirSync(spare);
    writeFileSync(join(dir, "secret.txt"), "SECRET-OUTSIDE");
    writeFileSync(join(spare, "plain"), "plain");
    for (let i = 0; i < N; i++) linkSync(join(spare, "plain"), join(importDir, `f${i}`));
    symlinkSync("../secret.txt", join(spare, "unused")); // relative links are what import accepts
    const long = join(ROOT, "examples", "long.ent");
    expect(rarIn(dir, "run", long, "100", "--gas", "1000", "--out", "base.rimg").code).toBe(3);
    swapper = spawn(process.execPath, ["-e", SWAPPER, importDir, spare, String(N)], { stdio: "ignore" });
    let imported = 0;
    let leaked = 0;
    for (let run = 0; run < 12 && leaked === 0; run++) {
      const r = await new Promise<{ code: number; stderr: string }>((done) => {
        const c = spawn(process.execPath, [join(ROOT, "dist", "src", "cli", "bin.cjs"), "fs", "base.rimg", "import", "in", "--out", `i${run}.rimg`], { cwd: dir });
        let stderr = "";
        c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        c.on("exit", (code) => done({ code: code ?? -1, stderr }));
      });
      // Either imported (each entry a file or a link as lstat saw it) or refused in one line: never a stack trace.
      expect(r.stderr).toMatch(/^rar: (imported|error: )[^\n]*\n$/);
      if (r.code === 0) {
        imported++;
        if (readFileSync(join(dir, `i${run}.rimg`)).includes("SECRET-OUTSIDE")) leaked++;
      } else expect(r.code).toBe(2);
    }
    swapper.kill("SIGKILL");
    swapper = null;
    expect(leaked).toBe(0);
    expect(imported).toBeGreaterThan(0);
    expect(existsSync(join(dir, "secret.txt"))).toBe(true);
  }, 120_000);
});
