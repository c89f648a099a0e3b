// Authority never travels (DESIGN §4): a scope is checked on real paths
// against every scope on the caller's chain at the moment of use. A parent
// that narrows a child onto a symlink inside its own scope gives the child no
// more than the parent itself has: NARROW refuses a scope whose real path
// leaves the held one, and a call refuses a path whose real location leaves
// any scope on the chain (also when the link appears after the narrowing).

import fc from "fast-check";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, posix, relative } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { ChainScopes, inside, resolveScoped } from "../src/caps/fs.js";
import { codePointsToText } from "../src/caps/registry.js";
import { runChain, type FsCall } from "./helpers/chain.js";

let top = "";
let scope = "";
let outside = "";

beforeEach(() => {
  top = realpathSync(mkdtempSync(join(tmpdir(), "rar-chain-")));
  scope = join(top, "scope");
  outside = join(top, "outside");
  mkdirSync(join(scope, "in"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(scope, "in", "ok.txt"), "inside");
  writeFileSync(join(outside, "secret.txt"), "secret");
  symlinkSync(outside, join(scope, "link"));
});

const text = (ws: number[]): string => codePointsToText(Int32Array.from(ws));
const read = (path: string): FsCall => ({ cap: "fs.read", args: [path] });

describe("narrowing onto a symlink does not widen authority", () => {
  it("the parent itself cannot read through the link", () => {
    const r = runChain({ narrows: [], calls: [read("link/secret.txt")] }, scope);
    expect(r.outcomes[0].status).toBe("fault");
    expect(r.outcomes[0].fault).toContain("cap_failed");
  });

  it("NARROW refuses a scope whose real path leaves the held scope (cap_denied)", () => {
    const r = runChain({ narrows: ["link"], calls: [read("secret.txt")] }, scope);
    expect(r.status).toBe("fault");
    expect(r.fault).toContain("cap_denied");
    expect(r.reached).toBe(false);
    expect(r.outcomes[0].status).toBe("not_run");
  });

  it("NARROW still accepts a real directory inside the scope, and a path that does not exist yet", () => {
    const r = runChain({ narrows: ["in"], calls: [read("ok.txt")] }, scope);
    expect(r.status).toBe("done");
    expect(text(r.outcomes[0].words)).toBe("inside");
    expect(runChain({ narrows: ["later"], calls: [] }, scope).status).toBe("done");
  });

  it("a scope that becomes a symlink out after the narrowing reaches nothing outside, for any call", () => {
    const calls: FsCall[] = [
      read("secret.txt"),
      { cap: "fs.list", args: [""] },
      { cap: "fs.stat", args: ["secret.txt"] },
      { cap: "fs.write", args: ["secret.txt", [120]] },
      { cap: "fs.write", args: ["new.txt", [120]] },
      { cap: "fs.mkdir", args: ["made"] },
      { cap: "fs.remove", args: ["secret.txt"] },
      { cap: "fs.rename", args: ["secret.txt", "moved.txt"] },
    ];
    const r = runChain({ narrows: ["later"], calls }, scope, () => symlinkSync(outside, join(scope, "later")));
    expect(r.status).toBe("done");
    expect(r.chain.at(-1)).toContain(`fs.read:${join(scope, "later")}`);
    for (const o of r.outcomes) {
      expect(o.status, o.call.cap).toBe("fault");
      expect(o.fault, o.call.cap).toContain("cap_failed");
    }
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret");
    for (const f of ["new.txt", "made", "moved.txt"]) expect(existsSync(join(outside, f)), f).toBe(false);
  });

  it("two levels down: a grandchild narrowed inside a link its parent was narrowed to is refused too", () => {
    mkdirSync(join(outside, "deep"));
    writeFileSync(join(outside, "deep", "x.txt"), "deep secret");
    const r = runChain({ narrows: ["later", "deep"], calls: [read("x.txt")] }, scope, () => symlinkSync(outside, join(scope, "later")));
    expect(r.outcomes[0].status).toBe("fault");
    expect(r.outcomes[0].fault).toContain("cap_failed");
  });
});

describe("the chain check itself", () => {
  it("resolveScoped refuses a path inside the caller's scope that leaves an ancestor's", () => {
    const narrowed = join(scope, "link");
    expect(resolveScoped([narrowed], "secret.txt").real).toBe(join(outside, "secret.txt"));
    expect(() => resolveScoped([narrowed], "secret.txt", true, [[scope], [narrowed]])).toThrow(/escapes the scope/);
  });

  it("a level holding an unscoped grant contains everything; a level whose scopes are gone contains nothing", () => {
    expect(new ChainScopes([[""], [scope]]).contains(join(scope, "in"))).toBe(true);
    expect(new ChainScopes([[join(top, "gone")], [scope]]).contains(join(scope, "in"))).toBe(false);
  });
});

// --- the property ------------------------------------------------------------
// Random trees of directories inside and outside the root's scope, with
// random symlinks (to directories and files on either side, relative or
// absolute, dangling), some of them made only after the narrowing; random
// narrowing chains; random guest paths. Every file holds distinct contents of
// a distinct length and every directory a file of its own name, so what a
// call returned tells which real file or directory it reached. Whatever
// reached the guest, and whatever changed on disk, must lie inside the real
// location of every scope on the caller's chain.

const DIRS = ["s", "s/a", "s/a/b", "s/c", "o", "o/d"];
const contentOf = (id: number): string => `file${id}:${".".repeat(id)}`;

interface Link {
  dir: number;
  name: string;
  /** Index into the targets: a directory, a directory's file, the top, or nowhere. */
  target: number;
  relative: boolean;
  late: boolean;
}

const TARGETS = [...DIRS, ...DIRS.map((d, id) => `${d}/f${id}`), "", "nowhere/x"];
const OUTSIDE_TARGETS = TARGETS.map((t, i) => ({ t, i })).filter(({ t }) => !t.startsWith("s")).map(({ i }) => i);
const LINKS = ["l0", "l1", "l2", "l3"];
const NAMES = ["a", "b", "c", "d", "o", "s", ...DIRS.map((_, id) => `f${id}`), ...LINKS, "new", ".", ".."];

// Weighted towards what can go wrong: links in the scope, leading out of it.
const linkArb: fc.Arbitrary<Link> = fc.record({
  dir: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: DIRS.length - 1 })),
  name: fc.constantFrom(...LINKS),
  target: fc.oneof(fc.constantFrom(...OUTSIDE_TARGETS), fc.integer({ min: 0, max: TARGETS.length - 1 })),
  relative: fc.boolean(),
  late: fc.boolean(),
});
const pathArb = fc.array(fc.constantFrom(...NAMES), { minLength: 0, maxLength: 3 }).map((s) => s.join("/"));
const narrowArb = fc.oneof(fc.constantFrom(...LINKS, "a", "c", "a/b"), pathArb.filter((p) => p !== ""));
const guestPathArb = fc.oneof(fc.constantFrom("", ...NAMES.filter((n) => n.startsWith("f")), ...LINKS), pathArb);
const readArb: fc.Arbitrary<FsCall> = fc.oneof(
  guestPathArb.map((p): FsCall => ({ cap: "fs.read", args: [p] })),
  guestPathArb.map((p): FsCall => ({ cap: "fs.list", args: [p] })),
  guestPathArb.map((p): FsCall => ({ cap: "fs.stat", args: [p] })),
);
const writeArb: fc.Arbitrary<FsCall> = fc.oneof(
  guestPathArb.map((p): FsCall => ({ cap: "fs.write", args: [p, [120, 121]] })),
  guestPathArb.map((p): FsCall => ({ cap: "fs.mkdir", args: [p] })),
  guestPathArb.map((p): FsCall => ({ cap: "fs.remove", args: [p] })),
  fc.tuple(guestPathArb, guestPathArb).map(([a, b]): FsCall => ({ cap: "fs.rename", args: [a, b] })),
);

function makeLink(base: string, l: Link): void {
  const at = join(base, DIRS[l.dir], l.name);
  const to = join(base, TARGETS[l.target]);
  try {
    symlinkSync(l.relative ? relative(dirname(at), to) || "." : to, at);
  } catch {
    // the name is taken: no link
  }
}

/** The real location of a path that need not exist: realpath of its deepest existing ancestor, plus the rest. */
function realLocation(p: string): string {
  const tail: string[] = [];
  for (let q = p; ; q = dirname(q)) {
    try {
      return join(realpathSync(q), ...tail.reverse());
    } catch {
      tail.push(basename(q));
    }
  }
}

/** Every entry under `base`, not following links: path -> what it is. */
function snapshot(base: string): Map<string, string> {
  const out = new Map<string, string>();
  const todo = [base];
  while (todo.length > 0) {
    const d = todo.pop() as string;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(p, `link ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(p, "dir");
        todo.push(p);
      } else out.set(p, `file ${readFileSync(p, "latin1")}`);
    }
  }
  return out;
}

describe("no capability call reaches a real path outside any scope on the chain", () => {
  it("random scope trees, symlinks, narrowing chains and guest paths", () => {
    fc.assert(
      fc.property(
        fc.array(linkArb, { maxLength: 5 }),
        fc.array(fc.option(narrowArb, { nil: null, freq: 4 }), { minLength: 0, maxLength: 3 }),
        fc.array(readArb, { maxLength: 4 }),
        fc.option(writeArb, { nil: null }),
        (links, narrows, reads, write) => {
          const base = realpathSync(mkdtempSync(join(tmpdir(), "rar-chainprop-")));
          try {
            DIRS.forEach((d, id) => {
              mkdirSync(join(base, d), { recursive: true });
              writeFileSync(join(base, d, `f${id}`), contentOf(id));
            });
            for (const l of links) if (!l.late) makeLink(base, l);
            // The scopes each level holds, as NARROW makes them (lexically), root first.
            const texts = [join(base, "s")];
            for (const n of narrows) texts.push(n === null ? texts[texts.length - 1] : posix.resolve(texts[texts.length - 1], n));
            let realScopes: string[] = [];
            let before = new Map<string, string>();
            const calls = write ? [...reads, write] : reads;
            const r = runChain({ narrows, calls }, texts[0], () => {
              for (const l of links) if (l.late) makeLink(base, l);
              realScopes = texts.map(realLocation);
              before = snapshot(base);
            });
            if (!r.reached) {
              // A NARROW was refused: the process that ran it faulted, nothing below it ran.
              expect(r.faults.some((f) => f.startsWith("cap_denied"))).toBe(true);
              expect(r.outcomes.every((o) => o.status === "not_run")).toBe(true);
              return;
            }
            expect(r.chain.map((caps) => caps.find((c) => c.startsWith("fs.read:"))?.slice("fs.read:".length))).toEqual(texts);
            const within = (real: string, what: string): void => {
              for (const s of realScopes) expect(inside(s, real), `${what}: ${real} is outside ${s}`).toBe(true);
            };
            for (const o of r.outcomes) {
              if (o.status !== "done") continue;
              const shown = `${o.call.cap}(${o.call.args[0]})`;
              if (o.call.cap === "fs.read") {
                const id = DIRS.findIndex((_, i) => text(o.words) === contentOf(i));
                expect(id, `${shown} returned unknown contents`).toBeGreaterThanOrEqual(0);
                within(join(base, DIRS[id], `f${id}`), shown);
              } else if (o.call.cap === "fs.list") {
                const names = text(o.words).split("\n");
                const id = DIRS.findIndex((_, i) => names.includes(`f${i}`));
                within(id >= 0 ? join(base, DIRS[id]) : base, shown);
              } else if (o.call.cap === "fs.stat" && o.value >= 0) {
                const id = DIRS.findIndex((_, i) => contentOf(i).length === o.value);
                expect(id, `${shown} returned an unknown size`).toBeGreaterThanOrEqual(0);
                within(join(base, DIRS[id], `f${id}`), shown);
              }
            }
            const after = snapshot(base);
            for (const p of new Set([...before.keys(), ...after.keys()]))
              if (before.get(p) !== after.get(p)) within(p, `${write?.cap}(${write?.args.join(", ")}) changed`);
          } finally {
            rmSync(base, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
