// Properties of the VM core over whole classes of programs (fast-check, fixed
// seeds): gas is the sum of executed instruction costs however the work is
// nested; budgets and refuels never change what a program does; untrusted
// bytes never raise a host exception; depth never grows the host stack.

import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { PROCESS_WORDS } from "../src/process/process.js";
import { Session } from "../src/session.js";
import { RarError } from "../src/vm/errors.js";
import { decodeModule, encodeModule, moduleToWire, packr, type ModuleDef } from "../src/vm/module.js";
import { OPS, Op } from "../src/vm/opcodes.js";
import { verify } from "../src/vm/verify.js";
import { BODY_LOCALS, blockArb, load, reference, renderBody, run, runRefueling, start, straightGas, type Tok } from "./helpers/asm.js";
import { nearStackEnd } from "./helpers/stack.js";

const SPAWN_ARGS = (ptr: number, len: number, gas: number, mem: number, grant = 0, trap = 0): string =>
  `PUSH ${ptr}\n PUSH ${len}\n PUSH ${gas}\n PUSH ${mem}\n PUSH ${grant}\n PUSH ${trap}`;

interface Work {
  chunks: Tok[][];
  /** Depth at which each chunk runs (0: called by the root itself). */
  depths: number[];
  /** Gas limit each nested level gives its child; small values make children run out and be refueled. */
  childGas: number;
}

const workArb: fc.Arbitrary<Work> = fc
  .array(fc.tuple(blockArb, fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 4 })
  .chain((items) =>
    fc.record({
      chunks: fc.constant(items.map((i) => i[0])),
      depths: fc.constant(items.map((i) => i[1])),
      // Small limits make children run out and be refueled; below ~2x the refuel loop's own cost
      // (15 gas a round) the cascade of refuels grows exponentially with depth, so stay above it.
      childGas: fc.oneof(fc.constant(1_000_000_000), fc.integer({ min: 30, max: 200 })),
    }),
  );

/**
 * A module whose main runs chunk i at depth depths[i]: main calls nest_i_0, which spawns process
 * nest_i_1 with `childGas`, which spawns nest_i_2, ... down to nest_i_d, which calls the chunk. Each
 * spawning level resumes its child and refuels it by `childGas` whenever it runs out. Apart from the
 * chunks and those refuel loops, every function is straight-line code.
 */
function build(w: Work): string {
  const fns: string[] = [];
  const main: string[] = [".func main 0 0", "  PUSH 0"];
  w.chunks.forEach((toks, i) => {
    fns.push(`.func chunk${i} 0 ${BODY_LOCALS}\n${renderBody(toks, `c${i}_`)}`);
    const d = w.depths[i];
    main.push(`  CALL ${d === 0 ? `chunk${i}` : `nest${i}_0`}`, "  ADD");
    for (let l = 0; l <= d && d > 0; l++) {
      const body =
        l === d
          ? `  CALL chunk${i}\n  RET`
          : `  ${SPAWN_ARGS(0, 0, w.childGas, 1_000_000)}
  SPAWN nest${i}_${l + 1}
  LSET 0
again:
  LGET 0
  RESUME
  PUSH 3
  EQ
  JZ done
  LGET 0
  PUSH ${w.childGas}
  PUSH 0
  REFUEL
  JMP again
done:
  LGET 0
  RESULT
  RET`;
      fns.push(`.func nest${i}_${l} 0 1\n${body}`);
    }
  });
  main.push("  RET");
  return [main.join("\n"), ...fns].join("\n");
}

const fnIndex = (m: ModuleDef, name: string): number => m.functions.findIndex((f) => f.name === name);

/** Gas of a spawning nest level whose child never runs out (its refuel branch never taken). */
function glueGas(m: ModuleDef, fn: string): number {
  const skipped = ["LGET", "PUSH", "PUSH", "REFUEL", "JMP"].reduce((g, n) => g + OPS.find((o) => o.name === n)!.gas, 0);
  return straightGas(m, fn) - skipped;
}

/** Expected gas of the chain running chunk i from nest level `from` down, when no child runs out. */
function chainGas(w: Work, m: ModuleDef, i: number, from: number): number {
  let gas = reference(m, fnIndex(m, `chunk${i}`)).gas;
  const d = w.depths[i];
  for (let l = from; l <= d && d > 0; l++) gas += l === d ? straightGas(m, `nest${i}_${l}`) : glueGas(m, `nest${i}_${l}`);
  return gas;
}

/** Expected total gas and value of main when no child ever runs out: static glue + reference chunk costs. */
function expected(w: Work, m: ModuleDef): { gas: number; value: number } {
  let gas = straightGas(m, "main");
  let value = 0;
  w.chunks.forEach((_, i) => {
    gas += chainGas(w, m, i, 0);
    value = (value + reference(m, fnIndex(m, `chunk${i}`)).value) | 0;
  });
  return { gas, value };
}

describe("(a) gas is the sum of executed instruction costs however the work is nested", () => {
  it("matches a reference model of the chunks plus the static cost of the nesting glue", () => {
    fc.assert(
      fc.property(workArb, (w0) => {
        const w = { ...w0, childGas: 1_000_000_000 };
        const m = load(build(w));
        const exp = expected(w, m);
        const r = run(m);
        expect(r.status).toBe("done");
        expect(r.value).toBe(exp.value);
        expect(r.gasUsed).toBe(exp.gas);
        // Each finished nested process keeps only its bookkeeping words.
        const nested = w.depths.reduce((a, b) => a + b, 0);
        expect(r.memUsed).toBe(PROCESS_WORDS + 1 + nested * PROCESS_WORDS);
        // Every ancestor is charged its whole subtree: a first-level child's gas is its chain's glue + its chunk.
        let h = 0;
        w.chunks.forEach((_, i) => {
          if (w.depths[i] === 0) return;
          const c = r.session.root.children.get(++h)!;
          expect(c.gasUsed).toBe(chainGas(w, m, i, 1));
        });
      }),
      { seed: 20240601, numRuns: 150 },
    );
  });

  it("the same work costs the same at depth 0 and at depth 5, up to the fixed cost of the nesting", () => {
    fc.assert(
      fc.property(blockArb, (toks) => {
        const flat = { chunks: [toks], depths: [0], childGas: 1_000_000_000 };
        const deep = { chunks: [toks], depths: [5], childGas: 1_000_000_000 };
        const mf = load(build(flat));
        const md = load(build(deep));
        const glue = [0, 1, 2, 3, 4].reduce((g, l) => g + glueGas(md, `nest0_${l}`), 0) + straightGas(md, "nest0_5");
        const rf = run(mf);
        const rd = run(md);
        expect(rd.value).toBe(rf.value);
        expect(rd.gasUsed - rf.gasUsed).toBe(glue);
      }),
      { seed: 99, numRuns: 100 },
    );
  });
});

describe("(b) running with any budget and refueling gives the same outcome as one unbounded run", () => {
  it("for every small gas budget k, also when nested children run out and are refueled", () => {
    fc.assert(
      fc.property(workArb, fc.array(fc.integer({ min: 41, max: 400 }), { maxLength: 3 }), (w, bigKs) => {
        const m = load(build(w));
        const ref = run(m, { gas: 1e12 });
        expect(ref.status).toBe("done");
        for (const k of [1, 2, 3, 5, 7, 11, 13, 20, 40, ...bigKs]) {
          if (ref.gasUsed / k > 5000) continue; // keep the run short; larger programs still get the larger ks
          const r = runRefueling(m, k);
          expect(r.status).toBe("done");
          expect(r.value).toBe(ref.value);
          expect(r.gasUsed).toBe(ref.gasUsed);
          expect(r.memUsed).toBe(ref.memUsed);
          expect(r.stops).toBe(Math.ceil(ref.gasUsed / k) - 1);
        }
      }),
      { seed: 7, numRuns: 40 },
    );
  });

  // Five tests of five programs each, not one of 25: a test runs synchronously, and one holding its
  // worker for a minute (a loaded machine, every module compiled: test/jit-suites) times out vitest's messages.
  it.each([0, 1, 2, 3, 4])("for every small memory budget, refueling memory (programs %i of 0-4)", (part) => {
    fc.assert(
      fc.property(workArb, fc.integer({ min: 1, max: 9 }), (w, step) => {
        const m = load(build(w));
        const ref = run(m, { gas: 1e12 });
        expect(ref.status).toBe("done");
        for (let k = 0; k <= ref.memUsed + 40; k += step) {
          const s = start(m, { mem: k, gas: 1e12 });
          let r = s.run();
          while (r.status === "out_of_mem") {
            s.session.refuel(0, step);
            r = s.session.run();
          }
          expect(r.status).toBe("done");
          expect(r.value).toBe(ref.value);
          expect(r.gasUsed).toBe(ref.gasUsed);
          expect(r.memUsed).toBe(ref.memUsed);
        }
      }),
      { seed: 11 + part, numRuns: 5 },
    );
  });
});

describe("(b) exhaustion happens exactly at instruction boundaries", () => {
  it("every stop leaves the deepest process at an instruction the reference reaches with exactly that much gas used", () => {
    let checked = 0;
    fc.assert(
      fc.property(blockArb, fc.constantFrom(0, 1, 3), fc.integer({ min: 1, max: 4 }), (toks, depth, k) => {
        // main -> lvl1 -> ... -> work (the random code is the entry function of the deepest process).
        const fns = [`.func work 0 ${BODY_LOCALS}\n${renderBody(toks)}`];
        for (let l = 0; l < depth; l++) {
          const next = l === depth - 1 ? "work" : `lvl${l + 1}`;
          fns.push(`.func ${l === 0 ? "main" : `lvl${l}`} 0 0\n ${SPAWN_ARGS(0, 0, 1_000_000_000, 1_000_000)}\n SPAWN ${next}\n DUP\n RESUME\n POP\n RESULT\n RET`);
        }
        const m = load(fns.join("\n"));
        const work = fnIndex(m, "work");
        const trace = new Map<number, number>();
        const ref = reference(m, work, trace);
        const s = start(m, { gas: k, entry: depth === 0 ? "work" : "main" });
        let r = s.run();
        while (r.status === "out_of_gas") {
          let leaf = s.root;
          for (let l = 0; l < depth && leaf.children.has(1); l++) leaf = leaf.children.get(1)!;
          if (leaf.module === m && leaf.fp > 0 && leaf.status !== 1 && m.functions[work].entry <= leaf.pc && leaf.pc < m.functions[work].end) {
            expect(trace.get(leaf.gasUsed)).toBe(leaf.pc);
            expect(s.root.need).toBe(OPS[m.code[leaf.pc]].gas);
            checked++;
          }
          s.session.refuel(k);
          r = s.session.run();
        }
        expect(r.status).toBe("done");
        expect(r.value).toBe(ref.value);
      }),
      { seed: 17, numRuns: 150 },
    );
    expect(checked).toBeGreaterThan(1000);
  });
});

// --- (c) untrusted modules --------------------------------------------------

function example(name: string): string {
  return readFileSync(new URL(`../examples/asm/${name}.rasm`, import.meta.url), "utf8");
}

/** Valid modules exercising every instruction group, to mutate. */
const CORPUS: ModuleDef[] = [
  assemble(example("fib")),
  assemble(example("hello")),
  assemble(`.cap io.print
.cap clock.now
.func main 0 3
  PUSH 8
  MGROW
  POP
  PUSH 5
  ${SPAWN_ARGS(0, 4, 500, 500, 1, 2)}
  SPAWN kid
  LTEE 0
  RESUME
  LSET 1
  LGET 0
  PUSH -2
  REQUEST
  POP
  LGET 0
  PUSH 9
  ANSWER
  LGET 0
  RESUME
  POP
  LGET 0
  PUSH 0
  PUSH 1
  PUSH 2
  CLOAD
  LGET 0
  PUSH 1
  PUSH 0
  PUSH 2
  CSTORE
  LGET 0
  PUSH 10
  PUSH 10
  REFUEL
  LGET 0
  STATUS
  LGET 0
  KILL
  GASLEFT
  MEMLEFT
  ADD
  ADD
  INLEN
  ADD
  PUSH 0
  PUSH 1
  PUSH 3
  MCOPY
  PUSH 0
  PUSH 7
  PUSH 2
  MFILL
  RET
.func kid 1 2
  LGET 0
  CAP clock.now 0
  ADD
  YIELD
  PUSH 0
  PUSH 2
  CAP io.print 2
  LGET 0
  PUSH 3
  DIV
  RET`),
  assemble(`.func main 0 1
  PUSH 1
  ${SPAWN_ARGS(0, 1, 200, 200)}
  SPAWN main
  LTEE 0
  RESUME
  LGET 0
  RESUME
  ADD
  RET`),
];

const interesting = fc.oneof(
  fc.integer({ min: 0, max: OPS.length + 2 }),
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(-0x80000000, 0x7fffffff, 65536, 4096),
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
);

type Mutation = { at: number; value: number; kind: "code" | "fn" | "cap" };
const mutationArb = fc.record({
  at: fc.nat(),
  value: interesting,
  kind: fc.constantFrom<Mutation["kind"]>("code", "code", "code", "code", "fn", "cap"),
});

function mutate(def: ModuleDef, muts: Mutation[]): ModuleDef {
  const code = def.code.slice();
  const functions = def.functions.map((f) => ({ ...f }));
  let caps = [...def.caps];
  for (const mu of muts) {
    if (mu.kind === "code") code[mu.at % code.length] = mu.value;
    else if (mu.kind === "fn") {
      const f = functions[mu.at % functions.length] as unknown as Record<string, number>;
      const field = (["nparams", "nlocals", "entry", "end"] as const)[(mu.at >> 4) % 4];
      f[field] = Math.abs(mu.value) % 70000;
    } else caps = mu.value % 2 === 0 ? caps.slice(1) : [...caps, mu.value % 3 === 0 ? "io.print" : "kv.get"];
  }
  return { ...def, code, functions, caps };
}

/** Decode (if bytes), verify and run an untrusted module: a RarError may come from decoding, verifying
 * or starting it (an entry function with parameters); once it runs, it must end with a status. */
function untrusted(input: Uint8Array | ModuleDef): string {
  let session: Session;
  try {
    const def = input instanceof Uint8Array ? decodeModule(input) : input;
    const m = verify(def);
    session = Session.start(m, { gas: 3000, mem: 20000, maxDepth: 8, caps: ["io.print"], stdout: () => {}, args: [3, 1, 2] });
  } catch (e) {
    if (e instanceof RarError) return `rejected:${e.phase}`;
    throw e;
  }
  const r = session.run();
  expect(["done", "fault", "out_of_gas", "out_of_mem", "yielded", "cap_call"]).toContain(r.status);
  expect(r.gasUsed).toBeLessThanOrEqual(3000);
  expect(r.memUsed).toBeLessThanOrEqual(20000);
  return r.status;
}

describe("(c) untrusted bytes and modules never raise a host exception", () => {
  it("random byte strings are rejected with a RarError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(untrusted(bytes)).toMatch(/^rejected:decode$|^rejected:verify$|^rejected:usage$/);
      }),
      { seed: 1, numRuns: 500 },
    );
  });

  it("random instructions with random operands are rejected by the verifier or run to a status", () => {
    // Each instruction comes with 0..8 pushes of small values before it, so that a fair share of
    // the programs pass verification and exercise the process and memory instructions at random.
    const small = fc.integer({ min: -2, max: 12 });
    const instr = fc
      .tuple(fc.array(small, { maxLength: 8 }), fc.integer({ min: 0, max: OPS.length - 1 }), fc.array(small, { minLength: 3, maxLength: 3 }))
      .map(([pushes, op, operands]) => [...pushes.flatMap((v) => [Op.PUSH, v]), op, ...operands.slice(0, OPS[op].operands.length)]);
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.array(instr, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 8 }), (instrs, nlocals) => {
        const words = [...instrs.flat(), Op.PUSH, 0, Op.RET];
        const def: ModuleDef = {
          name: "r",
          caps: ["io.print", "clock.now"],
          functions: [
            { name: "main", nparams: 0, nlocals, entry: 0, end: words.length },
            { name: "two", nparams: 2, nlocals: 2, entry: words.length, end: words.length + 3 },
          ],
          code: Int32Array.from([...words, Op.PUSH, 5, Op.RET]),
        };
        const o = untrusted(def);
        outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      }),
      { seed: 3, numRuns: 4000 },
    );
    // The property is only meaningful if a fair share of random code passes verification and runs.
    const ran = [...outcomes].filter(([k]) => !k.startsWith("rejected")).reduce((n, [, v]) => n + v, 0);
    expect(ran).toBeGreaterThan(200);
  });

  // In four tests (see "refueling memory" above for why).
  it.each([0, 1, 2, 3])("mutated valid modules (code words, function table, manifest) are rejected or run to a status (part %i of 0-3)", (part) => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: CORPUS.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (i, muts) => {
        const o = untrusted(mutate(CORPUS[i], muts));
        outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      }),
      { seed: 5 + part, numRuns: 750 },
    );
    expect([...outcomes.keys()].filter((k) => !k.startsWith("rejected")).length).toBeGreaterThanOrEqual(3);
  });

  it("byte-level mutations of encoded valid modules are rejected or run to a status", () => {
    const encoded = CORPUS.map((d) => encodeModule(d));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: encoded.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (i, flips, cut) => {
          const b = encoded[i].slice();
          for (const [at, v] of flips) b[at % b.length] = v;
          untrusted(cut === undefined ? b : b.subarray(0, cut % b.length));
        },
      ),
      { seed: 9, numRuns: 2000 },
    );
  });

  it("well-shaped wire values with hostile fields are rejected with a RarError", () => {
    const field = fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.uint8Array({ maxLength: 8 }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: CORPUS.length - 1 }), fc.integer({ min: 0, max: 7 }), field, (i, k, v) => {
        const w = moduleToWire(CORPUS[i]);
        w[k] = v;
        untrusted(packr.pack(w));
      }),
      { seed: 13, numRuns: 1000 },
    );
  });
});

// --- (d) depth does not grow the host stack ---------------------------------


/**
 * Each process spawns one child (remaining depth in mem[1], passed down in a copy of its memory) and
 * resumes it; the leaf returns 0 (or spins forever if mem[2] is set), each level adds 1.
 */
const CHAIN = `.func main 0 0
  PUSH 0
  LOAD 1
  JZ leaf
  PUSH 0
  PUSH 0
  LOAD 1
  ADDI -1
  STORE 1
  ${SPAWN_ARGS(0, 3, 1_000_000_000, 1_000_000_000)}
  SPAWN main
  DUP
  RESUME
  POP
  RESULT
  ADDI 1
  RET
leaf:
  PUSH 0
  LOAD 2
  JZ out
spin:
  JMP spin
out:
  PUSH 0
  RET`;

describe("(d) a chain of 1,000 nested processes runs without growing the host stack", () => {
  // About 100 frames of JS stack are left: enough for the VM's fixed call path (it needs ~25 of
  // these frames, verification ~50), far too little for host recursion proportional to guest depth:
  // a plain JS recursion 100 deep already needs ~125, one 1,000 deep ~1,200.
  const HEADROOM = 100;
  const m = load(CHAIN);
  const recur = (n: number): number => (n === 0 ? 0 : 1 + recur(n - 1));
  nearStackEnd(2000, () => 0);

  it("the harness itself catches a host recursion 1,000 deep", () => {
    const deep = (): number => recur(1000);
    deep();
    expect(() => nearStackEnd(HEADROOM, deep)).toThrow(RangeError);
    expect(nearStackEnd(2000, deep)).toBe(1000);
  });

  it("runs and unwinds 1,000 levels near the end of the JS stack", () => {
    const go = (): ReturnType<typeof run> => run(m, { args: [1000, 0] });
    go();
    const r = nearStackEnd(HEADROOM, go);
    expect(r.status).toBe("done");
    expect(r.value).toBe(1000);
    expect(r.memUsed).toBe(PROCESS_WORDS + 3 + 1000 * (PROCESS_WORDS + 3));
  });

  it("suspends 1,000 levels deep and is refueled by the host near the end of the JS stack", () => {
    // The leaf spins forever: the root runs out; every level below stays frozen.
    const s = start(m, { args: [1000, 1], gas: 2_000_000 }); // the resumes down the chain pay levelGas (RESUME)
    const step = (): string => {
      s.session.refuel(1000);
      return s.session.run().status;
    };
    expect(s.run().status).toBe("out_of_gas");
    expect(step()).toBe("out_of_gas");
    for (let i = 0; i < 5; i++) expect(nearStackEnd(HEADROOM, step)).toBe("out_of_gas");
    let p = s.root;
    let depth = 0;
    while (p.children.size > 0) {
      p = p.children.get(1)!;
      depth++;
    }
    expect(depth).toBe(1000);
    expect(p.status).toBe(0);
  });

  it("verifies a 200,000-word function with 50,000 jumps near the end of the JS stack", () => {
    const lines = [".func main 0 0"];
    for (let i = 0; i < 50_000; i++) lines.push(`  JMP a${i}`, `a${i}:`, "  NOP", "  NOP");
    lines.push("  PUSH 0", "  RET");
    const def = assemble(lines.join("\n"));
    const check = (): ReturnType<typeof verify> => verify(def);
    check();
    const mod = nearStackEnd(HEADROOM, check);
    expect(mod.maxStack[0]).toBe(1);
  });
});
