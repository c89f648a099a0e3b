// The time-travel debugger (CLI.md "Inspecting a run"): every command in
// scripted mode on Ent programs with recursion, children, faults, out-of-gas
// and trapped capability calls; `back` after `step` gives back the identical
// state (a property over random programs and step sequences); and a run
// traced across OS processes debugs exactly like an uninterrupted one.

import fc from "fast-check";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../lang/ent/compile.js";
import { Debugger } from "../src/debug/debugger.js";
import { checkpointing, newDebugPart } from "../src/debug/record.js";
import { decodeImage } from "../src/image/decode.js";
import type { Process } from "../src/process/process.js";
import { Session } from "../src/session.js";
import { verify } from "../src/vm/verify.js";
import { ensureBuilt, rarIn } from "./helpers/cli.js";

const PROGRAM = `fn fib(n) {
  if n < 2 { return n; }
  return fib(n - 1) + fib(n - 2);
}
fn boom(x) {
  let a = [1, 2, 3];
  return a[x];
}
fn asks() {
  let t = clock.now();
  return t + 1;
}
cap clock.now;
fn main(args) {
  let f = fib(6);
  print("fib", f);
  let h = spawn boom(7) with { gas: 1000, mem: 4096 };
  let st = resume(h);
  let s = fib<30, 4096>(10) else -1;
  let k = spawn asks() with { gas: 1000, mem: 4096, trap: [clock.now] };
  let q = resume(k);
  answer(k, 41);
  q = resume(k);
  return f + s + result(k);
}
`;

const quiet = { stdout: () => undefined };

/** A debugger over a traced run of `source`. */
function debuggerFor(source: string, opts: { gas?: number; args?: number[]; caps?: string[] } = {}): Debugger {
  const module = verify(compileSource(source, "p.ent").modules[0]);
  const s = Session.start(module, { gas: opts.gas ?? 1e7, args: opts.args ?? [], caps: opts.caps ?? ["io.print", "clock.now"], ...quiet });
  s.history.debug = newDebugPart(new Map([["p.ent", source]]));
  s.run({ checkpoints: checkpointing(s) });
  return new Debugger(decodeImage(s.snapshot()));
}

/** Everything about a tree a debugger shows, by path: registers, stacks, frames, memory, budgets, status. */
function stateOf(root: Process): unknown[] {
  const out: unknown[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop() as Process;
    out.push([p.path, p.status, p.pc, p.sp, p.bp, p.fp, Array.from(p.stack.subarray(0, p.sp)), Array.from(p.frames.subarray(0, p.fp)), Array.from(p.mem.subarray(0, p.memSize)), p.gasUsed, p.memUsed]);
    for (const c of [...p.children.values()].sort((a, b) => b.handle - a.handle)) todo.push(c);
  }
  return out;
}

const stepOf = (where: string): number => Number(/^step (\d+)/.exec(where)?.[1]);

describe("debugger commands", () => {
  const d = debuggerFor(PROGRAM);

  it("where: one line with step, process path, function, FILE:LINE, pc and gas", () => {
    expect(d.run("jump 0")).toMatch(/^step 0 {2}process 0 {2}main {2}p\.ent:14 {2}pc \d+ {2}gas 0\n$/);
  });

  it("step and back move by instructions; back after step is the same state", () => {
    d.run("jump 0");
    const before = stateOf(d.root);
    expect(stepOf(d.run("step"))).toBe(1);
    expect(stepOf(d.run("step 9"))).toBe(10);
    expect(stepOf(d.run("back 10"))).toBe(0);
    expect(stateOf(d.root)).toEqual(before);
  });

  it("step follows recursion into calls; stack shows the frames, locals the parameters", () => {
    const d = debuggerFor(PROGRAM);
    d.run("break fib");
    d.run("continue");
    d.run("continue");
    expect(d.run("where")).toMatch(/ {2}fib {2}p\.ent:2 /);
    const stack = d.run("stack");
    expect(stack).toMatch(/#0 {2}fib/);
    expect(stack).toMatch(/#1 {2}fib/);
    expect(stack).toMatch(/#2 {2}main/);
    expect(d.run("locals")).toMatch(/param 0 = 5 /);
  });

  it("next steps over calls to the next line; finish runs to the caller", () => {
    const d = debuggerFor(PROGRAM);
    expect(d.run("next")).toMatch(/main {2}p\.ent:15 /);
    const at = d.position;
    expect(d.run("next")).toMatch(/main {2}p\.ent:16 /);
    expect(d.position - at).toBeGreaterThan(100); // fib(6) ran inside
    const e = debuggerFor(PROGRAM);
    e.run("next");
    for (let i = 0; i < 20 && !/ fib /.test(e.run("where")); i++) e.run("step");
    expect((e.run("stack").match(/^#/gm) ?? []).length).toBe(2);
    expect(e.run("finish")).toMatch(/main {2}p\.ent:15 /);
    expect((e.run("stack").match(/^#/gm) ?? []).length).toBe(1);
    // finish in a child whose function returns: control goes back to the parent.
    const c = debuggerFor(PROGRAM);
    c.run("break asks");
    c.run("continue");
    expect(c.run("finish")).toMatch(/process 0 {2}main /);
  });

  it("continue stops at a child's fault, why names the fault, its line and the callers", () => {
    const x = debuggerFor(PROGRAM);
    expect(x.run("continue")).toMatch(/^stopped: process 0\.1 fault\nstep \d+ {2}process 0\.1 {2}boom {2}p\.ent:7 /);
    expect(x.run("why")).toMatch(/process 0\.1 faults at its next instruction: fault index_bounds .* boom \(p\.ent:7:\d+\)/);
    expect(x.run("mem 0 4")).toMatch(/^process 0\.1 memory 0\.\.4 of \d+\n {2}0: 0x00000000 0\n/);
  });

  it("why at a run the host interrupted says the host stopped it with gas left, not that it ran out", async () => {
    const source = "fn main() { let i = 0; while i < 100000000 { i = i + 1; } return i; }\n";
    const s = Session.start(verify(compileSource(source, "p.ent").modules[0]), { gas: 1e9, args: [], caps: ["io.print"], ...quiet });
    s.history.debug = newDebugPart(new Map([["p.ent", source]]));
    const stop = new AbortController();
    stop.abort();
    expect((await s.runAsync({ signal: stop.signal, checkpoints: checkpointing(s) })).status).toBe("out_of_gas");
    const x = new Debugger(decodeImage(s.snapshot()));
    x.run("jump end");
    expect(x.run("why")).toMatch(/^the host interrupted the run here \(.*\) with \d+ gas left of 1000000000: process 0 is at .*; the run is resumable\n$/);
  });

  it("continue stops where a sandboxed child runs out of gas; why says which process and by how much", () => {
    const x = debuggerFor(PROGRAM);
    x.run("continue");
    expect(x.run("continue")).toMatch(/^stopped: process 0\.2 out_of_gas/);
    expect(x.run("why")).toMatch(/process 0\.2 ran out of gas: .* needs \d+ gas; 0\.2 had 0 gas left of its limit 30, short by \d+/);
    expect(x.run("children")).toMatch(/0\.1 {2}fault .*\n0\.2 {2}out_of_gas {2}gas 30\/30/);
  });

  it("caps lists the host's answered calls so far and a trapped call waiting for its parent", () => {
    const x = debuggerFor(PROGRAM);
    x.run("break asks");
    x.run("continue");
    expect(x.run("caps")).toMatch(/1 capability call\(s\) answered .*\n {2}event \d+: 0 io\.print/);
    x.run("finish");
    const caps = x.run("caps");
    expect(caps).toMatch(/trapped: process 0\.3 calls clock\.now\(\), waiting for its parent's answer|holds/);
  });

  it("jump end and reverse-continue walk back to the last stop; the end explains the result", () => {
    const x = debuggerFor(PROGRAM);
    expect(x.run("jump end")).toMatch(/ {2}done\n$/);
    expect(x.run("why")).toBe("the run ended: the root returned 49\n");
    expect(x.run("reverse-continue")).toMatch(/^stopped: process 0\.2 out_of_gas/);
    expect(x.run("reverse-continue")).toMatch(/^stopped: process 0\.1 fault/);
    expect(x.run("reverse-continue")).toMatch(/^at the start of the run\nstep 0 /);
  });

  it("the root running out of gas is the end of the run, explained with the shortfall", () => {
    const x = debuggerFor(PROGRAM, { gas: 300 });
    expect(x.run("continue")).toMatch(/^(stopped: process 0 out_of_gas|end of the run: root out_of_gas)/);
    expect(x.run("why")).toMatch(/^process 0 ran out of gas: .* had \d+ gas left of its limit 300/);
  });

  it("refuses unknown commands and bad arguments with one line", () => {
    expect(() => d.run("fly")).toThrow(/unknown command 'fly'/);
    expect(() => d.run("break nowhere.ent:99")).toThrow(/no code at/);
    expect(() => d.run("step x")).toThrow(/not a count/);
    expect(() => d.run("mem 999999 2")).toThrow(/outside process/);
  });
});

describe("back after step", () => {
  /** A random program: locals updated by random arithmetic in a loop, helper calls, an array, a child. */
  const program = fc
    .record({
      n: fc.integer({ min: 1, max: 30 }),
      a: fc.integer({ min: -50, max: 50 }),
      b: fc.integer({ min: 1, max: 9 }),
      op: fc.constantFrom("+", "-", "*", "%", "^"),
      child: fc.boolean(),
      gas: fc.integer({ min: 40, max: 4000 }),
    })
    .map(
      ({ n, a, b, op, child, gas }) => `fn g(x) { return x ${op} ${b}; }
fn kid(v) { let s = 0; for i in 0..v { s = s + i; } return s; }
fn main(args) {
  let arr = [${a}, ${b}, 0];
  let t = ${a};
  for i in 0..${n} { t = g(t) + i; arr[i % 3] = t; }
  ${child ? `let c = kid<${gas}, 4096>(${n}) else -1; t = t + c;` : ""}
  return t;
}
`,
    );

  it("returns to the identical state (stack, locals, memory, gas) for random programs and step sequences", () => {
    fc.assert(
      fc.property(program, fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 200 }), (src, moves, from) => {
        const x = debuggerFor(src);
        x.run(`jump ${from}`);
        for (const n of moves) {
          const before = stateOf(x.root);
          const at = x.position;
          x.run(`step ${n}`);
          const moved = x.position - at;
          x.run(`back ${moved}`);
          expect(x.position).toBe(at);
          expect(stateOf(x.root)).toEqual(before);
          x.run(`step ${n}`);
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe("a run traced across OS processes", () => {
  const dir = mkdtempSync(join(tmpdir(), "rar-debug-"));
  const rar = (...args: string[]) => rarIn(dir, ...args);
  const LONG = `fn chain(n) {
  let steps = 0;
  let x = n;
  while x != 1 {
    if x % 2 == 0 { x = x / 2; } else { x = 3 * x + 1; }
    steps = steps + 1;
  }
  return steps;
}
fn main(args) {
  let total = 0;
  for n in 1..args[0] { total = total + chain(n); if n % 50 == 0 { print("at", n, total); } }
  return total;
}
`;
  beforeAll(() => {
    ensureBuilt();
    writeFileSync(join(dir, "long.ent"), LONG);
  }, 120_000);

  it("debugs step for step like the uninterrupted traced run", async () => {
    expect(rar("trace", "long.ent", "40", "--out", "whole.rimg").code).toBe(0);
    expect(rar("trace", "long.ent", "40", "--gas", "3001", "--out", "moved.rimg").code).toBe(3);
    expect(rar("resume", "moved.rimg", "--gas", "2500").code).toBe(3);
    expect(rar("resume", "moved.rimg", "--gas", "1000000").code).toBe(0);
    const whole = new Debugger(decodeImage(readImage(dir, "whole.rimg")));
    const moved = new Debugger(decodeImage(readImage(dir, "moved.rimg")));
    const end = whole.timeline.end();
    expect(moved.timeline.end()).toBe(end);
    // The host's stop makes the root out_of_gas where the uninterrupted root is ready: limits and that status aside, equal.
    const guest = (root: Process) => stateOf(root).map((s, i) => (i === 0 ? [(s as unknown[])[0], ...(s as unknown[]).slice(2)] : s));
    expect(end).toBeGreaterThan(5000);
    whole.run("jump 0");
    moved.run("jump 0");
    for (let k = 0; k <= end; k++) {
      // Long synchronous work starves the test runner's messages: let them through now and then.
      if (k % 500 === 0) await new Promise((done) => setImmediate(done));
      expect([moved.position, guest(moved.root)], `step ${k}`).toEqual([k, guest(whole.root)]);
      whole.run("step");
      moved.run("step");
    }
    expect(rar("debug", "moved.rimg", "--commands", "jump end;why").stdout).toMatch(/^step \d+ {2}process 0 {2}main .* done\nthe run ended: the root returned \d+\n$/);
  });
});

function readImage(dir: string, name: string): Uint8Array {
  return new Uint8Array(require("node:fs").readFileSync(join(dir, name)));
}
