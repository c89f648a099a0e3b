// The compiled tier (src/vm/jit.ts, src/vm/execute.ts) is invisible: a
// program stopped at any gas budget is in exactly the state the interpreter
// leaves it in (the image bytes are compared), faults inside compiled blocks
// are reported identically, and a hot module really does get compiled.

import { decodeImage } from "../src/image/decode.js";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { Session } from "../src/session.js";
import { tierOf } from "../src/vm/execute.js";
import type { Module } from "../src/vm/module.js";
import { verifyBundle } from "../src/vm/verify.js";
import { compileSource } from "../lang/ent/compile.js";
import { assemble } from "../lang/asm.js";
import { verify } from "../src/vm/verify.js";

const PROGRAMS: Record<string, { src: string; args: number[] }> = {
  loop: {
    src: `fn count(n) { let i = 0; while i < n { i = i + 1; } return i; }
fn main(args) { return count(args[0]); }`,
    args: [300],
  },
  sieve: {
    src: `fn sieve(n) {
  let a = array(n + 1);
  let c = 0;
  for i in 2..len(a) {
    if a[i] == 0 { c = c + 1; let j = i + i; while j <= n { a[j] = 1; j = j + i; } }
  }
  return c;
}
fn main(args) { let s = 0; for k in 0..args[1] { s = s + sieve(args[0]); } return s; }`,
    args: [60, 2],
  },
  fib: {
    src: `fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }
fn main(args) { return fib(args[0]); }`,
    args: [9],
  },
  arith: {
    // Division, remainder, shifts and comparisons of wrapping values, with a ÷0 fault at the end.
    src: `fn main(args) {
  let x = args[0];
  let s = 0;
  for i in 0..40 {
    s = s + x * i / (i + 1) - (x % (i + 3)) + (x << (i % 7)) + (x >> 2) + (-x ^ i);
    if s > 100000 { s = s / 3; } else { s = s * -7; }
    x = x * 1103515245 + 12345;
  }
  print(s);
  return s / (x - x);
}`,
    args: [123456789],
  },
  bounds: {
    // Array stores and loads walking off the end: index_bounds inside a compiled loop.
    src: `fn fill(a, n) { let i = 0; while true { a[i] = i * n; i = i + 1; if i > n + 2 { return a[i]; } } return 0; }
fn main(args) { let a = array(args[0]); return fill(a, args[0]); }`,
    args: [25],
  },
  deep: {
    // Recursion until the frames do not fit: out_of_mem from a compiled CALL.
    src: `fn down(n) { if n == 0 { return 0; } return 1 + down(n - 1); }
fn main(args) { return down(args[0]); }`,
    args: [100000],
  },
};

function modules(name: string): Module[] {
  return verifyBundle(compileSource(PROGRAMS[name].src, `${name}.ent`).modules);
}

/** Runs a program's freshly verified modules (so tiering starts afresh) with the given gas; returns the image and result. */
function runWith(name: string, jit: boolean, gas: number, mem = 4000): { image: Uint8Array; digest: string; gasUsed: number; status: string; out: string } {
  const [entry, ...linked] = modules(name);
  let out = "";
  const s = Session.start(entry, { gas, mem, args: PROGRAMS[name].args, linked, caps: ["print"], stdout: (t) => void (out += t), record: false, tiering: tiers(jit) });
  const r = s.run();
  return { image: s.snapshot(), digest: s.digest(), gasUsed: r.gasUsed, status: r.status, out };
}

/** Interpreted only, or every module compiled before its first instruction. */
function tiers(jit: boolean): { enabled: boolean; warmGas: number } {
  return { enabled: jit, warmGas: 0 };
}

describe("the compiled tier", () => {
  it("stops every program at every gas budget in exactly the interpreter's state (image bytes equal)", () => {
    for (const name of Object.keys(PROGRAMS)) {
      const full = runWith(name, false, 50_000_000);
      const total = decodeImage(full.image).root.gasUsed;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: total + 5 }), (gas) => {
          const a = runWith(name, false, gas);
          const b = runWith(name, true, gas);
          expect(b.status, `${name} at ${gas}`).toBe(a.status);
          expect(b.out).toBe(a.out);
          expect(Buffer.compare(b.image, a.image), `${name} at ${gas}`).toBe(0);
        }),
        { numRuns: 40 },
      );
    }
  });

  it("reports faults inside compiled blocks like the interpreter: kind, detail, place and gas", () => {
    for (const name of ["arith", "bounds", "deep"]) {
      const a = runWith(name, false, 50_000_000, 20_000);
      const b = runWith(name, true, 50_000_000, 20_000);
      expect(a.status).not.toBe("done");
      expect(b.status).toBe(a.status);
      expect(Buffer.compare(b.image, a.image)).toBe(0);
    }
  });

  it("refueling a compiled run one refused instruction at a time ends like one uninterrupted run", () => {
    for (const name of ["sieve", "fib", "bounds"]) {
      const full = runWith(name, false, 50_000_000);
      const [entry, ...linked] = modules(name);
      const s = Session.start(entry, { gas: 0, mem: 4000, args: PROGRAMS[name].args, linked, caps: ["print"], stdout: () => {}, record: false, tiering: tiers(true) });
      let r = s.run();
      let stops = 0;
      while (r.status === "out_of_gas") {
        s.refuel(s.root.need - (s.root.gasLimit - s.root.gasUsed));
        r = s.run();
        stops++;
      }
      expect(stops).toBeGreaterThan(100);
      // Limits and refuels differ; the execution state and the gas used do not.
      expect(s.digest()).toBe(full.digest);
      expect(r.gasUsed).toBe(full.gasUsed);
    }
  });

  it("compiles a module once it is hot, and not before", () => {
    const [cold] = verifyBundle(compileSource(PROGRAMS.loop.src, "cold.ent").modules);
    Session.start(cold, { gas: 1_000_000, args: [10], record: false }).run();
    expect(tierOf(cold).compiled).toBeNull();
    const [hot] = verifyBundle(compileSource(PROGRAMS.loop.src, "hot.ent").modules);
    const r = Session.start(hot, { gas: 10_000_000, args: [1_000_000], record: false }).run();
    expect(r.value).toBe(1_000_000);
    expect(tierOf(hot).compiled).not.toBeNull();
  });

  it("does not compile a module that only ever runs in short stints, however many", () => {
    const [m] = verifyBundle(compileSource(PROGRAMS.loop.src, "short.ent").modules);
    let total = 0;
    for (let i = 0; i < 200; i++) total += Session.start(m, { gas: 1_000_000, args: [1000], record: false }).run().gasUsed;
    expect(total).toBeGreaterThan(2 * 200_000);
    expect(tierOf(m).compiled).toBeNull();
  });
});

describe("what the compiled code leaves to others", () => {
  it("every instruction is compiled, TRAP, or one the interpreter hands to the scheduler (SCHEDULED), and those it does hand on", async () => {
    const { COMPILED, SCHEDULED } = await import("../src/vm/opcodes.js");
    const { Cpu, Exit, interpret } = await import("../src/vm/interpreter.js");
    const { OPS, Op, WIDTH } = await import("../src/vm/opcodes.js");
    for (let op = 0; op < OPS.length; op++) {
      expect([COMPILED[op] === 1, op === Op.TRAP, SCHEDULED[op] === 1].filter(Boolean), OPS[op].name).toHaveLength(1);
      if (SCHEDULED[op] !== 1) continue;
      // The interpreter never looks past the opcode of an instruction it hands on; operands need not verify.
      const code = new Int32Array(WIDTH[op] + 2);
      code[0] = op;
      const cpu = new Cpu();
      cpu.module = { code, fast: code, frameCost: new Int32Array(1), callInfo: new Int32Array(4) } as unknown as Module;
      cpu.stack = new Int32Array(64);
      cpu.frames = new Int32Array(6);
      cpu.fp = 3;
      cpu.gas = 1000;
      expect(interpret(cpu), OPS[op].name).toBe(Exit.Slow);
      expect(cpu.gas, OPS[op].name).toBe(1000);
    }
  });
});

describe("functions too large to compile", () => {
  it("run interpreted between compiled ones, with the same result and gas", () => {
    // A 40,000-word function (over the per-function limit) called from a compiled loop.
    const big = Array.from({ length: 10_000 }, () => "  LGET 0\n  ADDI 1\n  LSET 0").join("\n");
    const src = `.func main 0 2\n  PUSH 50\n  LSET 0\nloop:\n  LGET 1\n  CALL big\n  LSET 1\n  LINC 0 -1\n  LGET 0\n  JNZ loop\n  LGET 1\n  RET\n.func big 1 1\n${big}\n  LGET 0\n  RET\n`;
    const run = (jit: boolean): { value: unknown; gas: number; compiled: boolean } => {
      const m = verify(assemble(src));
      const r = Session.start(m, { gas: 100_000_000, record: false, tiering: tiers(jit) }).run();
      return { value: r.value, gas: r.gasUsed, compiled: tierOf(m).compiled !== null };
    };
    const a = run(false);
    const b = run(true);
    expect(a.value).toBe(500_000);
    expect(b.compiled).toBe(true);
    expect({ value: b.value, gas: b.gas }).toEqual({ value: a.value, gas: a.gas });
  });
});

describe("compiled blocks keep every value as it was when pushed", () => {
  it("MSIZE pushed before an MGROW in the same block is the old size", () => {
    for (const jit of [false, true]) {
      const m = verify(assemble(".func main 0 0\n  MSIZE\n  PUSH 5\n  MGROW\n  POP\n  RET\n"));
      const r = Session.start(m, { gas: 1000, args: [1, 2], record: false, tiering: tiers(jit) }).run();
      expect(r.value, jit ? "compiled" : "interpreted").toBe(3);
    }
  });
});

describe("a GP run", () => {
  it("gives the same report with every candidate compiled as with none", async () => {
    // The GP harness makes its own machines: each report comes from a fresh copy of
    // the modules whose machines default to the tiering given (no global is touched).
    const report = async (jit: boolean): Promise<unknown> => {
      vi.resetModules();
      vi.doMock("../src/vm/tiering.js", () => ({ DEFAULT_TIERING: Object.freeze(tiers(jit)) }));
      const { builtinProblem } = await import("../gp/problems.js");
      const { buildReport, deterministicPart } = await import("../gp/report.js");
      const { GpRun, configFor } = await import("../gp/run.js");
      const { Machine } = await import("../src/process/scheduler.js");
      expect(new Machine().tiering).toEqual(tiers(jit));
      const p = builtinProblem("fuel-cost", 5);
      const run = new GpRun(p, configFor(p, 5, { pop: 40, gens: 3 }));
      run.run();
      vi.doUnmock("../src/vm/tiering.js");
      return deterministicPart(buildReport(run));
    };
    expect(await report(true)).toEqual(await report(false));
  });
});

describe("blocks that loop on themselves", () => {
  // Jump targets right before the loop use up the chunk's budget for straight-line
  // copies; the loop must still keep its locals (JS variables while it runs) right.
  const head = (nlocals: number, pre: string): string =>
    `.func main 0 ${nlocals}\n${pre}` +
    [0, 1, 2, 3].map((i) => `  PUSH 0\n  JNZ a${i}\n`).join("") +
    "  PUSH 0\n  JNZ M1\n  PUSH 0\n  JNZ M2\n" +
    [0, 1, 2, 3].map((i) => `a${i}: NOP\n`).join("");
  const PROGRAMS = [
    head(1, "  PUSH 3\n  LSET 0\n") + "  NOP\n".repeat(48) + "S: LINC 0 -1\nM1: NOP\nM2: LGET 0\n  JNZ S\n  LGET 0\n  RET\n",
    head(2, "  PUSH 1\n  MGROW\n  POP\n  PUSH 3\n  LSET 0\n") +
      "  NOP\n".repeat(51) +
      "S: PUSH 0\n  LOAD 0\n  LSET 1\nM1: NOP\nM2: PUSH 0\n  LGET 0\n  STORE 0\n  LINC 0 -1\n  LGET 0\n  JNZ S\n  LGET 1\n  RET\n",
  ];
  it("keep their locals right when the copy budget runs out just before them", () => {
    for (const src of PROGRAMS) {
      const run = (jit: boolean): { status: string; value: unknown; gas: number } => {
        const r = Session.start(verify(assemble(src)), { gas: 100_000, record: false, tiering: tiers(jit) }).run();
        return { status: r.status, value: r.value, gas: r.gasUsed };
      };
      expect(run(true)).toEqual(run(false));
    }
    // Generated code is strict: nothing it does can create a global.
    expect("f0_0" in globalThis || "f0_1" in globalThis).toBe(false);
  });

  it("repeat themselves, not the branch before them, when a followed jump leads back to that branch", () => {
    // The body (after JNZ e) ends with JMP to the test; the compiled block follows the jump, so its
    // copy of the test falls through to the body's own start: the block repeats, and the test's
    // gas is charged once per iteration, as the interpreter does. The loop before falls into the
    // test, which falls into the body, so nothing but the body itself says where to go on.
    const src = `.func main 0 2
  PUSH 5
  LSET 1
  PUSH 8
  MGROW
  POP
  PUSH 2
  LSET 0
s: LINC 0 -1
  LGET 0
  JNZ s
w: LGET 1
  PUSH 0
  LE
  JNZ e
  LINC 1 -1
  LGET 1
  LOAD 0
  LSET 0
  JMP w
e: LGET 0
  LGET 1
  ADD
  RET
`;
    const run = (jit: boolean, gas: number): string => {
      const s = Session.start(verify(assemble(src)), { gas, record: false, tiering: tiers(jit) });
      const r = s.run();
      return `${r.status} ${r.gasUsed} ${Buffer.from(s.snapshot()).toString("base64")}`;
    };
    for (let gas = 0; gas <= 140; gas++) expect(run(true, gas), `gas ${gas}`).toBe(run(false, gas));
  });
});
