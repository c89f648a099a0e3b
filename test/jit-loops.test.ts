// Loops as structured code in the compiled tier (src/vm/jit.ts): a case in a
// loop carries copies of the other blocks of its innermost loop, so nested
// loops run as nested JS loops. The copies must charge, stop and fault
// exactly where the interpreter does: programs of nested loops over arrays
// (with breaks, branches, faults) are run in both tiers at many gas budgets,
// and at every budget across whole iterations, comparing image bytes.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ENT_WORKLOADS } from "../bench/ent-workloads.js";
import { compileSource } from "../lang/ent/compile.js";
import { Session } from "../src/session.js";
import { CHUNK_WARM_GAS, tierOf } from "../src/vm/execute.js";
import type { Module } from "../src/vm/module.js";
import { verifyBundle } from "../src/vm/verify.js";

interface Run {
  image: Uint8Array;
  status: string;
  gasUsed: number;
  value: unknown;
}

const verified = new Map<string, Module[]>();

/**
 * Runs a program interpreted only, or with every module compiled before its
 * first instruction (its modules are verified once: the compiled code is the
 * same whichever run compiled it).
 */
function run(src: string, jit: boolean, gas: number, args: number[] = []): Run & { modules: Module[] } {
  let modules = verified.get(src);
  if (modules === undefined) {
    modules = verifyBundle(compileSource(src, "loops.ent").modules);
    verified.set(src, modules);
  }
  const [entry, ...linked] = modules;
  const s = Session.start(entry, { gas, mem: 4000, args, linked, caps: [], record: false, tiering: { enabled: jit, warmGas: 0 } });
  const r = s.run();
  return { image: s.snapshot(), status: r.status, gasUsed: r.gasUsed, value: r.value, modules };
}

function same(src: string, gas: number, args: number[] = []): void {
  const a = run(src, false, gas, args);
  const b = run(src, true, gas, args);
  expect(b.status, `at ${gas}`).toBe(a.status);
  expect(b.gasUsed, `at ${gas}`).toBe(a.gasUsed);
  expect(Buffer.compare(b.image, a.image), `image at ${gas}`).toBe(0);
}

/** Three nested loops over an array, an inner loop that exits by break and one by its test (fannkuch's shape). */
const NESTED = `
fn main(args) {
  let n = args[0];
  let a = array(n);
  for i in 0..n { a[i] = (i * 7 + 3) % n; }
  let s = 0;
  let r = 0;
  while r < args[1] {
    let k = a[0];
    while k != 0 {
      let i = 0;
      let j = k;
      while i < j { let t = a[i]; a[i] = a[j]; a[j] = t; i = i + 1; j = j - 1; }
      s = s + 1;
      k = a[0];
      if s > 1000 { break; }
    }
    a[0] = (r + 1) % n;
    r = r + 1;
  }
  return s * 100 + a[1];
}
`;

describe("loops as structured code", () => {
  it("a nested loop is compiled into nested labelled JS loops with a continue of the outer one", () => {
    const r = run(NESTED, true, 10_000_000, [9, 30]);
    expect(r.status).toBe("done");
    const compiled = tierOf(r.modules[0]).compiled;
    expect(compiled).not.toBeNull();
    const text = compiled!.chunks.map((c) => c.toString()).join("\n");
    const outer = /(b\d+): for \(;;\) \{[^]*?b\d+: for \(;;\) \{[^]*?continue \1;/.exec(text);
    expect(outer, "an outer labelled loop holding an inner one and continuing itself").not.toBeNull();
    expect(run(NESTED, false, 10_000_000, [9, 30]).value).toBe(r.value);
  });

  it("stops at every gas budget across whole iterations of nested loops in the interpreter's state", () => {
    // Budgets 0..1500 cover the set-up loop, then every instruction boundary of the first iterations of all three loops.
    expect(run(NESTED, false, 10_000_000, [5, 1]).gasUsed).toBeLessThan(1500);
    for (let gas = 0; gas <= 1500; gas++) same(NESTED, gas, [5, 3]);
  });

  it("faults inside copies of blocks like the interpreter (index out of bounds, division by zero)", () => {
    same(NESTED, 10_000_000, [9, 1_000_000]); // runs until the gas budget ends mid-loop
    const faulting = NESTED.replace("a[0] = (r + 1) % n;", "a[0] = (r + 1) % n; s = s / (r - 2); a[r * 4] = 1;");
    for (const args of [[9, 30], [5, 10]]) {
      const a = run(faulting, false, 10_000_000, args);
      expect(a.status).not.toBe("done");
      same(faulting, 10_000_000, args);
    }
  });

  it("fannkuch's loops are one piece of structured code: the permutation loop holds the flips loop, which holds the swaps", () => {
    // Copies go first to the cases control reaches through the switch, and a chain of more than 8 blocks
    // (fannkuch's loop body) is nested whole: before, the permutation loop went through the switch.
    const w = ENT_WORKLOADS.find((x) => x.key === "fannkuch")!;
    const src = w.source;
    const r = run(src, true, 100_000_000, [7]);
    expect(r.value).toBe(w.native(7));
    const text = tierOf(r.modules[0]).compiled!.chunks.map((c) => c.toString()).join("\n");
    const three = /(b\d+): for \(;;\) \{[^]*?b\d+: for \(;;\) \{[^]*?b\d+: for \(;;\) \{[^]*?continue \1;/.exec(text);
    expect(three, "three nested labelled loops, the outermost continued").not.toBeNull();
    for (const gas of [0, 1000, 5000, 20_000, 123_457]) same(src, gas, [7]);
  });

  it("a loop's check covers the copies nested in it, except after a bulk instruction, and stops like the interpreter at every budget", () => {
    const src = `
fn main(args) {
  let s = 0;
  let i = 0;
  while i < args[0] {
    if i % 3 == 0 { s = s + 2; } else { s = s - 1; }
    let a = array(i % 4 + 1);
    if i % 2 == 0 { s = s + a[0] + 1; } else { s = s * 3; }
    i = i + 1;
  }
  return s;
}`;
    const r = run(src, true, 10_000_000, [12]);
    const text = tierOf(r.modules[0]).compiled!.chunks.map((c) => c.toString()).join("\n");
    // A copy whose gas its loop's check covered: its charge with no check of its own before it.
    expect(text).toMatch(/\{\s*gas -= \d+;/);
    expect(run(src, false, 10_000_000, [12]).value).toBe(r.value);
    for (let gas = 0; gas <= r.gasUsed + 2; gas++) same(src, gas, [12]);
  });

  it("a jump to the block whose case comes next leaves its case by a labelled break and falls into that case", () => {
    const r = run(NESTED, true, 10_000_000, [9, 30]);
    const text = tierOf(r.modules[0]).compiled!.chunks.map((c) => c.toString()).join("\n");
    const label = /break (b\d+_end);/.exec(text);
    expect(label, "a break to the end of a case").not.toBeNull();
    expect(text).toContain(`: ${label![1]}: {`);
    // Stops on either side of such a jump are covered by every budget across whole iterations (above).
  });

  it("a chunk's first calls, kept short until it has run CHUNK_WARM_GAS, stop like the interpreter at budgets around where they end", () => {
    // NESTED runs compiled from its first instruction: the short calls end after about CHUNK_WARM_GAS of its gas.
    // Each budget has a module of its own (a comment tells them apart): compiled code, and its warm-up, belong to the module.
    const fresh = (gas: number): string => `${NESTED}// ${gas}\n`;
    expect(run(fresh(0), false, 10_000_000, [9, 1_000_000]).status).toBe("out_of_gas");
    fc.assert(
      fc.property(fc.integer({ min: CHUNK_WARM_GAS - 3_000, max: CHUNK_WARM_GAS + 3_000 }), (gas) => same(fresh(gas), gas, [9, 1_000_000])),
      { numRuns: 40 },
    );
    const long = run(fresh(-1), true, 1_000_000, [9, 1_000_000]);
    expect(tierOf(long.modules[0]).compiled!.warmed[0]).toBeGreaterThanOrEqual(CHUNK_WARM_GAS);
  });

  it("random programs of nested loops agree between the tiers at random gas budgets", () => {
    fc.assert(
      fc.property(program(), fc.integer({ min: 0, max: 30_000 }), (src, gas) => {
        same(src, gas, [7]);
        same(src, 10_000_000, [7]);
      }),
      { numRuns: 200 },
    );
  });
});

/** Ent programs of loops nested up to three deep over an array, with branches, breaks and faulting statements. */
function program(): fc.Arbitrary<string> {
  const names = ["i", "j", "k", "s", "n"];
  const atom = fc.oneof(fc.constantFrom(...names), fc.integer({ min: -3, max: 9 }).map(String));
  const expr = fc
    .tuple(atom, fc.constantFrom("+", "-", "*", "/", "%", "&", "^"), atom)
    .map(([a, op, b]) => (op === "/" || op === "%" ? `${a} ${op} (${b} + 20)` : `${a} ${op} ${b}`));
  const index = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...names), fc.integer({ min: 0, max: 3 })).map(([v, k]) => `(${v} + ${k}) % n`) },
    { weight: 1, arbitrary: expr },
  );
  const simple = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(index, expr).map(([i, e]) => `a[${i}] = ${e};`) },
    { weight: 3, arbitrary: index.map((i) => `s = s + a[${i}];`) },
    { weight: 2, arbitrary: expr.map((e) => `s = ${e};`) },
    { weight: 1, arbitrary: atom.map((a) => `s = s / (${a} - 1);`) },
  );
  // A loop at depth d counts with w<d> (declared once at the top: loops at one depth never nest) and moves j on.
  const stmts = (depth: number): fc.Arbitrary<string> =>
    fc
      .array(
        depth === 0
          ? simple
          : fc.oneof(
              { weight: 4, arbitrary: simple },
              { weight: 2, arbitrary: fc.tuple(expr, stmts(depth - 1), stmts(depth - 1)).map(([c, t, e]) => `if (${c}) > 2 { ${t} } else { ${e} }`) },
              { weight: 1, arbitrary: expr.map((c) => `if (${c}) > 5 { break; }`) },
              {
                weight: 2,
                arbitrary: fc
                  .tuple(fc.integer({ min: 0, max: 6 }), stmts(depth - 1))
                  .map(([bound, body]) => `w${depth} = 0; while w${depth} < ${bound} { ${body} w${depth} = w${depth} + 1; j = j + 1; }`),
              },
            ),
        { maxLength: 4 },
      )
      .map((xs) => xs.join(" "));
  return fc
    .tuple(stmts(2), fc.integer({ min: 1, max: 12 }))
    .map(
      ([body, times]) => `
fn main(args) {
  let n = args[0];
  let a = array(n);
  let s = 0;
  let j = 1;
  let k = 2;
  let w1 = 0;
  let w2 = 0;
  for i in 0..${times} {
    ${body}
  }
  return s;
}
`,
    );
}
