// Authority comes only from the host (DESIGN §4 "Authority never travels",
// CLI.md "Authority"): an image's grants are requests, negotiated against
// the resuming host's own grants before any instruction runs; host resources
// are named only by the host; audit binds the policy digest to the policy
// the trace records.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { capCovers, capFamily, codePointsToText, type CapHandler } from "../src/caps/registry.js";
import { B, F, type WireValue } from "../src/image/format.js";
import { Session } from "../src/session.js";
import { auditImage } from "../src/trace/audit.js";
import { RarError } from "../src/vm/errors.js";
import { verify } from "../src/vm/verify.js";
import type { Module } from "../src/vm/module.js";
import { ensureBuilt, rarIn, type Out } from "./helpers/cli.js";
import { sealValue, unpackBody } from "./image-fuzz.js";

let dir = "";

function rar(...args: string[]): Out {
  return rarIn(dir, ...args);
}

function ent(source: string): Module {
  return verify(compileSource(source).modules[0]);
}

/** The image with its root's grants replaced and the content digest recomputed: a forged image. */
function withRootCaps(image: Uint8Array, caps: string[]): Uint8Array {
  const body = unpackBody(image);
  const tree = body[B.tree] as WireValue[][];
  tree[0][F.caps] = [...caps].sort();
  return sealValue(body);
}

const READER = `cap fs.read;
fn main() {
  let x = 0;
  for i in 0..40 { x = x + i; }
  puts(fs.read("secret.txt"));
  return x;
}
`;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-authority-"));
  mkdirSync(join(dir, "scope"));
  mkdirSync(join(dir, "other"));
  writeFileSync(join(dir, "scope", "secret.txt"), "inside");
  writeFileSync(join(dir, "reader.ent"), READER);
});

describe("an image brings no authority", () => {
  it("rar resume refuses an image whose grants this host does not give (exit 2, naming it), and leaves it untouched", () => {
    expect(rar("run", "reader.ent", "--allow", "fs.read:scope", "--gas", "60", "--out", "r.rimg").code).toBe(3);
    const before = readFileSync(join(dir, "r.rimg"));
    const r = rar("resume", "r.rimg");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rar: error: .*the image asks for fs\.read:\/.*scope, which this host does not grant/);
    expect(r.stdout).toBe("");
    expect(readFileSync(join(dir, "r.rimg")).equals(before)).toBe(true);
    // A host grant elsewhere does not cover it either.
    expect(rar("resume", "r.rimg", "--allow", "fs.read:other").code).toBe(2);
    expect(rar("run", "r.rimg", "--out", "r2.rimg").code).toBe(2);
    expect(existsSync(join(dir, "r2.rimg"))).toBe(false);
    expect(readFileSync(join(dir, "r.rimg")).equals(before)).toBe(true);
    // The host that grants it (or a wider scope) resumes it.
    const ok = rar("resume", "r.rimg", "--allow", `fs.read:${dir}`, "--out", "r3.rimg");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("inside\n");
  });

  it("a forged image (a grant added, digests recomputed) is refused by the CLI and by Session.fromImage", () => {
    expect(rar("run", "reader.ent", "--allow", "fs.read:scope", "--gas", "60", "--out", "f.rimg").code).toBe(3);
    const forged = withRootCaps(readFileSync(join(dir, "f.rimg")), ["fs.read:/", "io.print"]);
    writeFileSync(join(dir, "forged.rimg"), forged);
    const r = rar("resume", "forged.rimg", "--allow", "fs.read:scope");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the image asks for fs\.read:\/,/);
    expect(readFileSync(join(dir, "forged.rimg")).equals(forged)).toBe(true);
    let err: unknown = null;
    try {
      Session.fromImage(forged, { stdout: () => undefined });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RarError);
    expect((err as RarError).phase).toBe("policy");
    expect((err as RarError).message).toMatch(/fs\.read:\//);
  });

  it("the kv file named in an image's recorded policy is never touched by the resuming host", () => {
    const src = `cap kv.put;\nfn main() {\n  for i in 0..30 { kv.put("k", [i]); }\n  return 0;\n}\n`;
    const sub = join(dir, "kvrun");
    mkdirSync(sub);
    writeFileSync(join(sub, "kv.ent"), src);
    writeFileSync(join(sub, "p.json"), JSON.stringify({ allow: ["kv.put"], kv: "./store.json" }));
    expect(rar("run", join(sub, "kv.ent"), "--policy", join(sub, "p.json"), "--gas", "200", "--out", "kv.rimg").code).toBe(3);
    const stored = readFileSync(join(sub, "store.json"), "utf8");
    const r = rar("resume", "kv.rimg", "--allow", "kv.put");
    expect(r.code).toBe(0);
    expect(readFileSync(join(sub, "store.json"), "utf8")).toBe(stored);
    expect(rar("audit", "kv.rimg").code).toBe(0);
  });

  it("an image that needs a host capability this host has no handler for is refused before it runs (the image kept)", () => {
    const geo: CapHandler = { sig: { args: ["int"], result: "int" }, call: (a) => (a[0] as number) * 2 };
    const m = ent(`cap geo.lookup(int) -> int;\nfn main() {\n  let s = 0;\n  for i in 0..20 { s = s + geo.lookup(i); }\n  return s;\n}\n`);
    const s = Session.start(m, { caps: ["io.print", "geo.lookup"], handlers: { "geo.lookup": geo }, gas: 100 });
    expect(s.run().status).toBe("out_of_gas");
    const image = s.snapshot();
    writeFileSync(join(dir, "geo.rimg"), image);
    const r = rar("resume", "geo.rimg");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/geo\.lookup/);
    expect(readFileSync(join(dir, "geo.rimg")).equals(Buffer.from(image))).toBe(true);
    expect(() => Session.fromImage(image, { caps: ["io.print", "geo.lookup"] })).toThrow(/no handler/);
    const again = Session.fromImage(image, { caps: ["io.print", "geo.lookup"], handlers: { "geo.lookup": geo } });
    again.refuel(100_000);
    expect(again.run()).toMatchObject({ status: "done", value: 380 });
  });

  it("audit refuses an image whose policy digest is not that of the policy its trace records", () => {
    expect(rar("run", "reader.ent", "--allow", "fs.read:scope", "--out", "a.rimg").code).toBe(0);
    const body = unpackBody(readFileSync(join(dir, "a.rimg")));
    const forged = (body[B.policy] as Uint8Array).slice();
    forged[0] ^= 1;
    body[B.policy] = forged;
    writeFileSync(join(dir, "a-forged.rimg"), sealValue(body));
    const r = rar("audit", "a-forged.rimg");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^audit: INVALID: policy digest/);
    expect(rar("audit", "a.rimg").code).toBe(0);
  });
});

// --- property: a host policy bounds whatever an image asks for -------------

const POOL = ["io.print", "clock.now", "random.u32", "kv.get", "kv.get:app", "kv.get:app/x", "kv.get:other", "fs.read:A", "fs.read:A/sub", "fs.read:B"];

const PROBE = `cap clock.now;
cap random.u32;
cap kv.get;
cap fs.read;
fn main() {
  let t = clock.now();
  let r = random.u32();
  let v = kv.get("app/x/k");
  let f = fs.read("sub/f.txt");
  print("all", t, len(v), len(f));
  return 0;
}
`;

describe("negotiation (property)", () => {
  it("resuming under a random host policy: refused before running when the image asks for more, else no call outside the host's grants", () => {
    const root = mkdtempSync(join(tmpdir(), "rar-neg-"));
    mkdirSync(join(root, "A", "sub"), { recursive: true });
    mkdirSync(join(root, "B"));
    writeFileSync(join(root, "A", "sub", "f.txt"), "x");
    const real = (c: string): string => c.replace(/^fs\.read:/, `fs.read:${root}/`);
    const m = ent(PROBE);
    const subset = fc.subarray(POOL).map((xs) => xs.map(real));
    fc.assert(
      fc.property(subset, subset, (asked, host) => {
        const s = Session.start(m, { caps: asked, gas: 3, stdout: () => undefined });
        s.run();
        const image = s.snapshot();
        const covered = asked.every((c) => capCovers(host, c));
        let moved: Session;
        try {
          moved = Session.fromImage(image, { caps: host, stdout: () => undefined });
        } catch (e) {
          expect(e).toBeInstanceOf(RarError);
          expect((e as RarError).phase).toBe("policy");
          expect(covered).toBe(false);
          return;
        }
        expect(covered).toBe(true);
        moved.refuel(1_000_000);
        moved.run();
        for (const e of moved.trace?.events() ?? []) {
          if (e.kind !== "cap" && e.kind !== "cap_error") continue;
          if (e.kind === "cap_error") continue;
          const family = capFamily(e.cap);
          const arg = e.args[0];
          const scope = family === "kv.get" ? codePointsToText(arg as Int32Array) : family === "fs.read" ? `${root}/A/sub/f.txt` : "";
          expect(capCovers(host, scope === "" ? family : `${family}:${scope}`), `${e.cap} under [${host.join(", ")}]`).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});

// --- property: suspension anywhere is transparent, kv and children included --

const WORKLOAD = `cap kv.get;
cap kv.put;
cap clock.now;
cap random.u32;

fn child(n) {
  let s = 0;
  for i in 0..n { s = s + (random.u32() & 15); }
  kv.put("c", [s, n]);
  return s;
}

fn main(args) {
  let n = args[0];
  let total = 0;
  for i in 0..n {
    kv.put("k", [i, i * 3, total]);
    let back = kv.get("k");
    total = total + back[1] + (clock.now() & 7);
    if i % 3 == 0 {
      let h = spawn child(i + 2) with { gas: 100000, mem: 4096, caps: [kv.put, random.u32] };
      resume(h);
      total = total + result(h) + kv.get("c")[1];
    }
  }
  print("total", total);
  return total;
}
`;

describe("snapshot transparency with host state (property)", () => {
  const CAPS = ["io.print", "kv.get", "kv.put", "clock.now", "random.u32"];
  const m = ent(WORKLOAD);

  function whole(n: number): { out: string; value?: number; gasUsed: number; digest: string } {
    let out = "";
    const s = Session.start(m, { caps: CAPS, args: [n], stdout: (t) => void (out += t) });
    const r = s.run();
    return { out, value: r.value, gasUsed: r.gasUsed, digest: s.digest() };
  }

  it("suspended at random budgets and resumed in a fresh session each time: same stdout, result, gasUsed and digest; audit valid", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 40 }), (n, budgets) => {
        const want = whole(n);
        let out = "";
        const stdout = (t: string): void => void (out += t);
        let s = Session.start(m, { caps: CAPS, args: [n], gas: budgets[0], stdout });
        let r = s.run();
        for (let i = 1; r.status === "out_of_gas"; i++) {
          s = Session.fromImage(s.snapshot(), { caps: CAPS, stdout });
          s.refuel(i < budgets.length ? budgets[i] : 10_000_000);
          r = s.run();
        }
        expect(r.status).toBe("done");
        expect(out).toBe(want.out);
        expect(r.value).toBe(want.value);
        expect(r.gasUsed).toBe(want.gasUsed);
        expect(s.digest()).toBe(want.digest);
        expect(auditImage(s.snapshot()).problem).toBeNull();
      }),
      { numRuns: 40 },
    );
  });

  it("an in-memory kv store cannot be lost: without a trace, snapshot refuses while the store holds data", () => {
    const s = Session.start(m, { caps: CAPS, args: [3], gas: 2_000, record: false, stdout: () => undefined });
    s.run();
    expect(() => s.snapshot()).toThrow(/kv/);
  });
});

describe("the real clock and generator", () => {
  it("a host granting the virtual clock does not cover an image asking for the real one, nor may a child hold it under a virtual parent", () => {
    const m = ent(`cap clock.now;\nfn main() {\n  let x = 0;\n  for i in 0..40 { x = x + i; }\n  return clock.now();\n}\n`);
    const s = Session.start(m, { caps: ["clock.now:real"], gas: 30 });
    s.run();
    expect(() => Session.fromImage(s.snapshot(), { caps: ["clock.now"] })).toThrow(/clock\.now:real/);
    expect(capCovers(["clock.now"], "clock.now:real")).toBe(false);
    expect(capCovers(["clock.now:real"], "clock.now:real")).toBe(true);
    expect(capCovers(["kv.get"], "kv.get:app")).toBe(true);
  });
});

describe("the host's scope stays above a restored root", () => {
  it("an image whose root asks for a scope through a symlink out of the host's directory reads nothing outside it", async () => {
    const { symlinkSync } = await import("node:fs");
    const host = join(dir, "hostscope");
    mkdirSync(host);
    writeFileSync(join(dir, "outside.txt"), "outside");
    symlinkSync(dir, join(host, "link"));
    const m = ent(`cap fs.read;\nfn main() {\n  let x = 0;\n  for i in 0..40 { x = x + i; }\n  puts(fs.read("outside.txt"));\n  return 0;\n}\n`);
    // The image asks for fs.read:<host>/link: textually inside the host's scope, really outside it.
    const s = Session.start(m, { caps: ["io.print", `fs.read:${host}/link`], gas: 30, stdout: () => undefined });
    s.run();
    let out = "";
    const moved = Session.fromImage(s.snapshot(), { caps: ["io.print", `fs.read:${host}`], stdout: (t) => void (out += t) });
    moved.refuel(1_000_000);
    const r = moved.run();
    expect(r.status).toBe("fault");
    expect(r.fault).toMatch(/cap_failed/);
    expect(out).toBe("");
  });
});
