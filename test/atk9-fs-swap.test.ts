// A directory swapped for a link between the check and the use (DESIGN §4: a
// scope is checked on real paths at the moment of use). Guests cannot make
// links, but someone else on the host can: here a second process swaps
// SCOPE/d, again and again, between a real directory (holding v) and a link
// to a directory outside the scope (holding v and a marker). Whatever the
// timing, no call may remove, create, rename, move in or list anything
// outside: each acts through a handle of the directory it checked (fs.ts
// DirHandle), never through the path again.
//
// Before the fix these failed within a few hundred calls: fs.remove("d/v")
// removed OUTSIDE/v, fs.write("d/new") created OUTSIDE/new, fs.rename("d/v",
// "moved") moved OUTSIDE/v into the scope, fs.list("d") listed OUTSIDE.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fsHandlers, type Mount } from "../src/caps/fs.js";
import { textToCodePoints, type CapContext, type CapValue } from "../src/caps/registry.js";

const SWAPPER = `
const fs = require("fs"), path = require("path");
const scope = process.argv[1];
const A = path.join(scope, "A"), L = path.join(scope, "L"), d = path.join(scope, "d");
for (;;) {
  // A real d that is neither A nor L was made by an fs.mkdir in between: out of the way.
  try { if (fs.existsSync(A) && fs.existsSync(L) && !fs.lstatSync(d).isSymbolicLink()) fs.rmSync(d, { recursive: true }); } catch {}
  try { fs.renameSync(A, d); } catch {}
  try { fs.renameSync(d, A); } catch {}
  try { fs.writeFileSync(path.join(A, "v"), "in", { flag: "wx" }); } catch {}
  try { fs.renameSync(L, d); } catch {}
  try { fs.renameSync(d, L); } catch {}
}`;

/** Calls per family: without the fix each family escaped within a few hundred. */
const CALLS = 3_000;

let swapper: ChildProcess | null = null;
let base = "";

afterEach(() => {
  swapper?.kill("SIGKILL");
  swapper = null;
  if (base) rmSync(base, { recursive: true, force: true });
});

function setup(): { scope: string; outside: string; untouched: () => boolean } {
  base = realpathSync(mkdtempSync(join(tmpdir(), "rar-atk9-swap-")));
  const scope = join(base, "scope");
  const outside = join(base, "outside");
  mkdirSync(scope);
  mkdirSync(outside);
  mkdirSync(join(scope, "A"));
  writeFileSync(join(scope, "A", "v"), "in");
  symlinkSync(outside, join(scope, "L"));
  writeFileSync(join(outside, "v"), "secret");
  writeFileSync(join(outside, "marker"), "");
  swapper = spawn(process.execPath, ["-e", SWAPPER, scope], { stdio: "ignore" });
  const untouched = (): boolean => readdirSync(outside).sort().join() === "marker,v" && readFileSync(join(outside, "v"), "utf8") === "secret";
  return { scope, outside, untouched };
}

const text = (s: string): Int32Array => textToCodePoints(s);

/** Runs `call` CALLS times (failures are fine: they are refusals) and stops at the first sign of an escape. */
async function hammer(untouched: () => boolean, call: (i: number) => CapValue | Promise<CapValue>, leaked: (r: CapValue) => boolean = () => false): Promise<number> {
  let escapes = 0;
  for (let i = 0; i < CALLS && escapes === 0; i++) {
    // Now and then let the test runner's own messages through.
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    try {
      const r = call(i);
      if (!(r instanceof Promise) && leaked(r)) escapes++;
    } catch {
      // refused: a cap_failed fault for the guest
    }
    if (!untouched()) escapes++;
  }
  return escapes;
}

const listed = (r: CapValue): boolean => typeof r !== "number" && String.fromCodePoint(...r).includes("marker");

describe("a directory on the way swapped for a link to outside, while calls run", () => {
  for (const [name, mounted] of [
    ["a host directory scope", false],
    ["a mount", true],
  ] as const) {
    describe(`through ${name}`, () => {
      const handlersFor = (scope: string): { h: ReturnType<typeof fsHandlers>; ctx: CapContext; p: (s: string) => Int32Array } => {
        const mounts: Mount[] = mounted ? [{ guest: "/m", host: scope, readOnly: false }] : [];
        return {
          h: fsHandlers(mounts),
          ctx: { path: "0", scopes: [scope], chain: [[scope]], maxWords: 1 << 20 },
          p: (s) => text(mounted ? `/m/${s}` : s),
        };
      };

      it("fs.remove never removes a file outside", async () => {
        const { scope, untouched } = setup();
        const { h, ctx, p } = handlersFor(scope);
        expect(await hammer(untouched, () => h["fs.remove"].call([p("d/v")], ctx))).toBe(0);
      });

      it("fs.write never creates or changes a file outside", async () => {
        const { scope, untouched } = setup();
        const { h, ctx, p } = handlersFor(scope);
        expect(await hammer(untouched, () => h["fs.write"].call([p("d/new"), Int32Array.of(65)], ctx))).toBe(0);
        expect(await hammer(untouched, () => h["fs.write"].call([p("d/v"), Int32Array.of(66)], ctx))).toBe(0);
      });

      it("fs.rename never moves a file outside, in or out", async () => {
        const { scope, untouched } = setup();
        const { h, ctx, p } = handlersFor(scope);
        expect(await hammer(untouched, () => h["fs.rename"].call([p("d/v"), p("moved")], ctx))).toBe(0);
      });

      it("fs.mkdir never makes a directory outside", async () => {
        const { scope, untouched } = setup();
        const { h, ctx, p } = handlersFor(scope);
        expect(await hammer(untouched, (i) => h["fs.mkdir"].call([p(`d/n${i}/x`)], ctx))).toBe(0);
      });

      it("fs.list never lists outside", async () => {
        const { scope, untouched } = setup();
        const { h, ctx, p } = handlersFor(scope);
        expect(await hammer(untouched, () => h["fs.list"].call([p("d")], ctx), listed)).toBe(0);
      });
    });
  }
});
