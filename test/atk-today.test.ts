// Attacks on the day's changes (4e0fa16..): SHA-256 in one place with two
// implementations (src/vm/sha256.ts), the prompts of a Policy object
// (caps/policy.ts recordedPrompt), the CLI bundle (scripts/build-cli.ts) and
// the evaluator's batches (gp/evaluate.ts plan).

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { checkLazyChildProcess, lazyChildProcess } from "../scripts/build-cli.js";
import type { Policy } from "../src/caps/policy.js";
import { auditImage } from "../src/index.js";
import { sha256 as sharedSha256, sha256IsNative } from "../src/vm/sha256.js";
import { ROOT, ensureBuilt, rarIn } from "./helpers/cli.js";
import { problemFromCases } from "../gp/cases.js";
import { buildCandidate } from "../gp/compile.js";
import { encodeCases, evaluateAll, runAll, runBatch, scoreCandidate, type Budget } from "../gp/evaluate.js";
import { GeneSampler } from "../gp/genome.js";
import { Rng } from "../gp/random.js";
import type { Module } from "../src/vm/module.js";
import type { CapHandler } from "../src/caps/registry.js";
import { RarError, Session } from "../src/index.js";
import { compileSource } from "../lang/ent/compile.js";
import { verifyBundle } from "../src/vm/verify.js";
import { load } from "./helpers/asm.js";
import { thrown } from "./helpers/errors.js";

const quiet = { stdout: () => {}, stderr: () => {} };
const handler = (args: ("int" | "array")[], result: "int" | "array", call: CapHandler["call"] = () => 0): CapHandler => ({ sig: { args, result }, call });
const policyOf = (grants: string[], prompts?: string[]): Policy => ({ grants, denials: [], seed: 0, mocks: {}, ...(prompts ? { prompts } : {}) });


/** Calls clock.now. */
const CLOCK = load(".cap clock.now\n.func main 0 0\n  CAP clock.now 0\n  RET\n");
/** Calls h.x with one int. */
const CALL_HX = load(".cap h.x\n.func main 0 0\n  PUSH 41\n  CAP h.x 1\n  RET\n");
/** Calls env.get with one int (a host's own env.get of another signature). */
const ENV_INT = load(".cap env.get\n.func main 0 0\n  PUSH 5\n  CAP env.get 1\n  RET\n");
/** Calls net.fetch with one int (a host's own net.fetch of another signature). */
const FETCH_INT = load(".cap net.fetch\n.func main 0 0\n  PUSH 5\n  CAP net.fetch 1\n  RET\n");
/** Calls env.get("HOME") (the built-in's signature: an array). */
const [ENV_HOME] = verifyBundle(compileSource('cap env.get;\nfn main() { return len(env.get("HOME")); }\n', "main.ent").modules);

describe("a host's Policy object given to Session.fromImage: its prompts are those calls are asked about, as for Session.start", () => {
  // Each prompt is in a form no call is asked about while its grant lets the call run (Session.start refuses each).
  const cases: [typeof CLOCK, string, Record<string, CapHandler>][] = [
    [CLOCK, "clock.now:later", {}],
    [CLOCK, "clock.now@1", {}],
    [CALL_HX, "h.x:y", { "h.x": handler(["int"], "int") }],
  ];

  it("a prompt no call would be asked about is refused at the restore (was: the call ran without asking)", () => {
    for (const [module, prompt, handlers] of cases) {
      const image = Session.start(module, { ...quiet, handlers, policy: policyOf([prompt]) }).snapshot();
      const asked: string[] = [];
      let ran = false;
      const err = thrown(() => {
        const s = Session.fromImage(image, { ...quiet, handlers, policy: policyOf([prompt], [prompt]), onPrompt: (cap) => (asked.push(cap), false) });
        ran = s.run().status === "done";
      });
      expect({ prompt, ran, asked }).toEqual({ prompt, ran: false, asked: [] });
      expect(err, prompt).toBeInstanceOf(RarError);
      expect((err as RarError).key, prompt).toMatch(/^policy\.bad_(prompt|scope)$/);
      expect((err as RarError).message).toContain(prompt);
      // The same policy is refused by Session.start, with the same key.
      const atStart = thrown(() => Session.start(module, { ...quiet, handlers, policy: policyOf([prompt], [prompt]) }));
      expect((atStart as RarError).key).toBe((err as RarError).key);
    }
  });

  it("prompts in the forms calls are asked about still restore and ask", () => {
    const image = Session.start(CLOCK, { ...quiet, policy: policyOf(["clock.now"]) }).snapshot();
    const asked: string[] = [];
    const r = Session.fromImage(image, { ...quiet, policy: policyOf(["clock.now"], ["clock.now"]), onPrompt: (cap) => (asked.push(cap), false) }).run();
    expect(asked).toEqual(["clock.now"]);
    expect(r.status).toBe("fault");
  });
});

describe("a prompt for a built-in family the host's own handler replaces with another signature", () => {
  // The gate reads the key or URL from the first argument as the built-in takes it (an array): an int gives
  // no subject, so the prompt was never asked while the handler ran under the grant.
  const shadows: [typeof CLOCK, string, CapHandler][] = [
    [ENV_INT, "env.get:HOME", handler(["int"], "int", () => 9)],
    [FETCH_INT, "net.fetch:http://127.0.0.1:8080", handler(["int"], "int", () => 9)],
  ];

  it("is refused at the start and at the restore (was: the handler ran without asking)", () => {
    for (const [module, prompt, h] of shadows) {
      const family = prompt.slice(0, prompt.indexOf(":"));
      const asked: string[] = [];
      let ran = false;
      const err = thrown(() => {
        const s = Session.start(module, { ...quiet, handlers: { [family]: h }, policy: policyOf([prompt], [prompt]), onPrompt: (cap) => (asked.push(cap), false) });
        ran = s.run().status === "done";
      });
      expect({ prompt, ran, asked }).toEqual({ prompt, ran: false, asked: [] });
      expect((err as RarError).key, prompt).toBe("policy.bad_prompt");
      expect((err as RarError).message).toContain(prompt);
      const image = Session.start(module, { ...quiet, handlers: { [family]: h }, policy: policyOf([prompt]) }).snapshot();
      const again = thrown(() => Session.fromImage(image, { ...quiet, handlers: { [family]: h }, policy: policyOf([prompt], [prompt]) }).run());
      expect((again as RarError).key, prompt).toBe("policy.bad_prompt");
    }
  });

  it("a host's env.get of the built-in's signature is still asked about by key", () => {
    const asked: string[] = [];
    let called = 0;
    const h = handler(["array"], "array", () => (called++, new Int32Array(0)));
    const s = Session.start(ENV_HOME, { ...quiet, handlers: { "env.get": h }, policy: policyOf(["env.get:HOME"], ["env.get:HOME"]), onPrompt: (cap) => (asked.push(cap), true) });
    expect(s.run().status).toBe("done");
    expect(asked).toEqual(["env.get:HOME"]);
    expect(called).toBe(1);
  });

  it("a host's io.print of another signature is asked about unscoped, as before", () => {
    const PRINT_INT = load(".cap io.print\n.func main 0 0\n  PUSH 5\n  CAP io.print 1\n  RET\n");
    const asked: string[] = [];
    const s = Session.start(PRINT_INT, { ...quiet, handlers: { "io.print": handler(["int"], "int", () => 3) }, policy: policyOf(["io.print"], ["io.print"]), onPrompt: (cap) => (asked.push(cap), true) });
    expect(s.run()).toMatchObject({ status: "done", value: 3 });
    expect(asked).toEqual(["io.print"]);
  });
});

describe("a Policy object is read once, at the start", () => {
  it("prompts the host changes after Session.start change nothing: what is asked is what the start event records (was: the handlers, built at the first call, read the changed list)", () => {
    const policy = policyOf(["clock.now"], ["clock.now"]);
    const asked: string[] = [];
    const s = Session.start(CLOCK, { ...quiet, policy, onPrompt: (cap) => (asked.push(cap), false) });
    (policy.prompts as string[]).length = 0; // the host reuses its array
    expect(s.run().status).toBe("fault");
    expect(asked).toEqual(["clock.now"]);
    // And one added after the start is not asked about (the start event does not record it).
    const later = policyOf(["clock.now"], []);
    const asked2: string[] = [];
    const t = Session.start(CLOCK, { ...quiet, policy: later, onPrompt: (cap) => (asked2.push(cap), false) });
    (later.prompts as string[]).push("clock.now");
    expect(t.run().status).toBe("done");
    expect(asked2).toEqual([]);
  });

  it("a Policy object of the wrong shape is refused with a RarError naming it, never a TypeError", () => {
    const bad: unknown[] = [
      {},
      5,
      { grants: ["clock.now"], denials: [], seed: 0, mocks: {}, prompts: new Set(["clock.now"]) },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: null },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: { "clock.now": { results: [1] } } },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: { "clock.now": null } },
      { grants: ["clock.now"], denials: "x", seed: 0, mocks: {} },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: {}, mounts: 7 },
      { grants: ["clock.now"], denials: [], seed: 0, mocks: {}, mounts: [null] },
    ];
    const image = Session.start(CLOCK, { ...quiet, policy: policyOf(["clock.now"]) }).snapshot();
    for (const policy of bad)
      for (const go of [() => Session.start(CLOCK, { ...quiet, policy: policy as Policy }).run(), () => Session.fromImage(image, { ...quiet, policy: policy as Policy }).run()]) {
        const err = thrown(go);
        expect(err, JSON.stringify(policy)).toBeInstanceOf(RarError);
        expect((err as RarError).key).toBe("usage.bad_options");
        expect((err as RarError).message).toContain("policy");
      }
  });
});

type Sha = typeof import("../src/vm/sha256.js");

/** A fresh copy of src/vm/sha256.ts: noble hashes until its switch. */
async function freshSha(): Promise<Sha> {
  vi.resetModules();
  return import("../src/vm/sha256.js");
}

const refHex = (parts: readonly Uint8Array[]): string => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Views of a larger buffer at any offset, of lengths around the 64-byte block and the 4096-byte one-shot bound. */
const view = fc
  .record({ len: fc.oneof(fc.integer({ min: 0, max: 130 }), fc.integer({ min: 4030, max: 4160 })), off: fc.integer({ min: 0, max: 9 }), fill: fc.integer({ min: 0, max: 255 }) })
  .map(({ len, off, fill }) => new Uint8Array(len + off + 7).map((_, i) => (i * 131 + fill) & 255).subarray(off, off + len));

describe("SHA-256: the same bytes whichever implementation hashes (src/vm/sha256.ts)", () => {
  it("views at odd offsets, empty ones, chunks that straddle 4096, inputs at the switch: every function gives node:crypto's bytes, before and after", async () => {
    const sha = await freshSha();
    const check = (parts: Uint8Array[]): void => {
      const want = refHex(parts);
      expect(hexOf(sha.sha256Chunks(parts))).toBe(want);
      if (parts.length <= 3 && parts.length >= 2) expect(hexOf(sha.sha256Link(parts[0], parts[1], parts[2]))).toBe(want);
      if (parts.length === 1) {
        expect(hexOf(sha.sha256(parts[0]))).toBe(want);
        expect(sha.sha256Hex(parts[0])).toBe(want);
        expect(sha.hex(parts[0])).toBe(Buffer.from(parts[0]).toString("hex"));
      }
    };
    // Exactly at the bounds while noble hashes: one input of 4096 bytes is noble's, 64 KB in all are.
    check([new Uint8Array(0)]);
    check([new Uint8Array(4096).fill(1)]);
    check([new Uint8Array(4096).fill(2).subarray(1), new Uint8Array(1)]);
    expect(sha.sha256IsNative()).toBe(false);
    fc.assert(fc.property(fc.array(view, { minLength: 1, maxLength: 3 }), check), { numRuns: 60 });
    expect(sha.sha256IsNative()).toBe(true);
    fc.assert(fc.property(fc.array(view, { minLength: 1, maxLength: 3 }), check), { numRuns: 60 });
  });

  it("a trace chain whose first links noble hashed and the rest node:crypto is the chain node:crypto alone makes", async () => {
    const events = fc.array(fc.oneof(fc.uint8Array({ maxLength: 90 }), fc.uint8Array({ minLength: 4000, maxLength: 4200 })), { minLength: 1, maxLength: 12 });
    // Sampled, not fc.assert: each run needs its own fresh modules (an await).
    const runs = fc.sample(events, 25);
    for (const encs of runs) {
      const mixed = await freshSha(); // noble until an event over 4 KB, or 64 KB in all
      const native = await freshSha();
      native.sha256(new Uint8Array(5000)); // node:crypto from the first link
      expect(native.sha256IsNative()).toBe(true);
      let a: Uint8Array = new Uint8Array(32);
      let b: Uint8Array = new Uint8Array(32);
      let r: Uint8Array = new Uint8Array(32);
      for (const enc of encs) {
        // A link is prev || enc(e), enc in one or two chunks (trace/chain.ts).
        const cut = enc.length >> 1;
        a = mixed.sha256Link(a, enc.subarray(0, cut), enc.subarray(cut));
        b = native.sha256Link(b, enc);
        r = Uint8Array.from(Buffer.from(refHex([r, enc]), "hex"));
        expect(hexOf(a)).toBe(hexOf(r));
        expect(hexOf(b)).toBe(hexOf(r));
      }
    }
  });

  it("images written after the switch restore, resume and audit in a fresh `rar` (noble hashing), and the other way round", () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "rar-atk-sha-"));
    // Several capability calls (trace links), stopped out of gas so that resume has work to do.
    const LOOP = load(".cap clock.now\n.func main 0 1\nL0:\n  CAP clock.now 0\n  POP\n  JMP L0\n");
    sharedSha256(new Uint8Array(5000)); // this process: node:crypto from now on
    expect(sha256IsNative()).toBe(true);
    const s = Session.start(LOOP, { ...quiet, gas: 2000, policy: policyOf(["clock.now"]) });
    expect(s.run().status).toBe("out_of_gas");
    const bytes = s.snapshot();
    expect(bytes.length).toBeLessThan(4096); // a fresh rar hashes it, and every link, with noble
    const file = join(dir, "a.rimg");
    writeFileSync(file, bytes);
    const audit = rarIn(dir, "audit", file);
    expect(audit.stderr).toBe("");
    expect(audit.stdout).toMatch(/^audit: valid/);
    const resumed = rarIn(dir, "resume", file, "--gas", "3000", "--allow", "clock.now", "--out", join(dir, "b.rimg"));
    expect(resumed.code).toBe(3); // suspended again (CLI.md)
    expect(resumed.stderr).toMatch(/^rar: suspended/);
    expect(resumed.stderr.split("\n").filter((l) => /^\s+at /.test(l))).toEqual([]);
    // Written by a fresh rar (noble): this process (node:crypto) restores and audits it, and resumes it as rar does.
    const back = readFileSync(join(dir, "b.rimg"));
    expect(auditImage(back).valid).toBe(true);
    const again = rarIn(dir, "audit", join(dir, "b.rimg"));
    expect(again.stdout).toMatch(/^audit: valid/);
    const t = Session.fromImage(back, { ...quiet, policy: policyOf(["clock.now"]) });
    expect(t.root.gasLimit).toBe(s.root.gasLimit + 3000);
    expect(t.root.gasUsed).toBeGreaterThan(s.root.gasUsed);
  });
});

describe("the CLI bundle's lazy node:child_process (scripts/build-cli.ts): the build fails loudly when commander changes", () => {
  const commander = readFileSync(join(ROOT, "node_modules", "commander", "lib", "command.js"), "utf8");
  const EAGER = "const childProcess = require('node:child_process');";

  it("commander's own file is rewritten: no eager require left, spawn looked up when used", () => {
    const out = lazyChildProcess(commander, "command.js");
    expect(out).not.toContain(EAGER);
    expect(out).toContain("get spawn()");
  });

  it("a commander whose require, or use of childProcess, is not the one the rewrite knows is refused (was: built, and failed when spawn was wanted, or loaded child_process at start)", () => {
    const variants = [
      commander.replace(EAGER, `const childProcess = require("node:child_process");`), // another spelling: nothing to rewrite
      commander.replace(EAGER, `${EAGER}\n${EAGER}`), // twice
      `${commander}\nchildProcess.fork("x");`, // a use the getter does not give
      `${commander}\nconst cp = childProcess;`, // the object itself
      `${commander}\nchildProcess.execFileSync("x");`,
    ];
    for (const v of variants) expect(() => lazyChildProcess(v, "command.js")).toThrow(/commander changed/);
  });

  it("the built bundle names child_process only in the getter; a bundle that requires it elsewhere, or where commander was not rewritten, is refused", () => {
    ensureBuilt();
    const bundle = readFileSync(join(ROOT, "dist", "src", "cli", "bundle.cjs"), "utf8");
    expect(() => checkLazyChildProcess(bundle)).not.toThrow();
    expect(() => checkLazyChildProcess(`${bundle}\nvar cp=require("node:child_process");`)).toThrow(/child_process/);
    expect(() => checkLazyChildProcess(bundle.replace('{get spawn(){return require("node:child_process").spawn}}', 'require("node:child_process")'))).toThrow(/child_process/);
  });

  // One test per command: a test runs synchronously, and one spawning every command (about 50 processes)
  // held its worker for over a minute on a loaded machine (vitest's own messages then time out).
  const commands = ["run", "disasm", "resume", "inspect", "replay", "audit", "gp", "compile", "trace", "debug", "trace-slice", "view", "worker", "submit", "status", "fetch", "cancel", "caps", "fs"];
  const takesFile = new Set(["run", "disasm", "resume", "inspect", "replay", "audit", "compile", "trace", "debug", "view"]);
  it.each(commands)("the built rar %s: --help, a bad flag and a missing file in one line, no stack trace", (c) => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "rar-atk-cli-"));
    const help = rarIn(dir, c, "--help");
    expect(help.code, c).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^Usage: rar ${c} `));
    const bad = rarIn(dir, c, "--no-such-flag");
    expect(bad.code, c).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr, c).toMatch(/^rar: error: [^\n]+\nsee 'rar [a-z-]+ --help'\n$/);
    if (takesFile.has(c)) {
      const missing = rarIn(dir, c, join(dir, "missing.rimg"));
      expect(missing.code, c).toBe(2);
      expect(missing.stderr.trim().split("\n"), c).toHaveLength(1);
    }
  });

  it("the built rar: an unknown command in one line", () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "rar-atk-cli-"));
    const unknown = rarIn(dir, "frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("rar: error: unknown command 'frobnicate'\nsee 'rar --help'\n");
  });
});

describe("the evaluator's batches (gp/evaluate.ts plan): at most 40,000 record words, unless one candidate's need more", () => {
  /** `count` candidates of a problem, from a seeded sampler. */
  function candidates(problem: ReturnType<typeof problemFromCases>, count: number, seed: number): Module[] {
    const rng = new Rng(seed, 9);
    const sampler = new GeneSampler(problem.pool);
    const out: Module[] = [];
    while (out.length < count) {
      const m = buildCandidate(sampler.genome(rng, rng.range(1, 40)), problem.layout, problem.name);
      if (m && !out.some((x) => x.digest === m.digest)) out.push(m);
    }
    return out;
  }

  /** Outcomes of evaluateAll (in plan()'s groups) and of one runBatch of every candidate (one group, as before the bound). */
  function bothWays(problem: ReturnType<typeof problemFromCases>, modules: Module[], budget: Budget): void {
    const block = encodeCases(problem.train, problem.layout.stride);
    const groups: number[] = [];
    let most = 0;
    runAll(modules, block, budget, problem.layout, (r, _first, count) => {
      groups.push(count);
      most = Math.max(most, r.words.length);
    });
    // Each group holds at most 40,000 record words, or one candidate's.
    expect(most).toBeLessThanOrEqual(Math.max(40_000, block.count * (problem.layout.output === "string" ? problem.layout.outCap + 5 : 4)));
    expect(groups.reduce((a, b) => a + b, 0)).toBe(modules.length);
    const { outcomes } = evaluateAll(modules, block, problem, budget, 0.1);
    const once = runBatch(modules, block, budget, problem.layout);
    modules.forEach((_, k) => expect(outcomes[k]).toEqual(scoreCandidate(once, k, block, problem, 0.1)));
  }

  it("string outputs whose records alone exceed the bound (300 cases of 250 characters: 78,900 words a candidate): one candidate a group, the same outcomes as one batch", () => {
    const r = new Rng(7, 1);
    const text = (): string => Array.from({ length: 250 }, () => (r.range(0, 1) === 0 ? "a" : "b")).join("");
    const cases = (n: number) => Array.from({ length: n }, () => ({ input: [r.range(-50, 50), r.range(-50, 50)], output: text() }));
    const problem = problemFromCases({ name: "long", train: cases(300), test: cases(10) }, "long.json", "long", 3);
    expect(problem.layout.outCap).toBeGreaterThanOrEqual(250);
    const modules = candidates(problem, 5, 11);
    const block = encodeCases(problem.train, problem.layout.stride);
    const groups: number[] = [];
    runAll(modules, block, { gas: 2000, mem: 4096 }, problem.layout, (_r, _f, count) => groups.push(count));
    expect(groups).toEqual([1, 1, 1, 1, 1]);
    bothWays(problem, modules, { gas: 2000, mem: 4096 });
  });

  it("int outputs: groups of the bound's size, the same outcomes as one batch of all", () => {
    const r = new Rng(8, 1);
    const cases = (n: number) => Array.from({ length: n }, () => ({ input: [r.range(-50, 50), r.range(-50, 50)], output: r.range(-100, 100) }));
    const problem = problemFromCases({ name: "ints", train: cases(100), test: cases(10) }, "ints.json", "ints", 3);
    const modules = candidates(problem, 120, 12);
    const block = encodeCases(problem.train, problem.layout.stride);
    const groups: number[] = [];
    runAll(modules, block, { gas: 500, mem: 4096 }, problem.layout, (_r, _f, count) => groups.push(count));
    expect(groups).toEqual([100, 20]); // 40,000 / (100 cases x 4 words)
    bothWays(problem, modules, { gas: 500, mem: 4096 });
  });
});
