// Array bounds hoisted before loops in the compiled tier (src/vm/jit.ts). An
// access through a local's array inside a loop first compares its index with a
// bound read before the loop; the compiled code must still stop, charge and fault exactly where the interpreter does: with the
// index out of bounds, the address not an array, a length word overwritten
// inside the loop (arrays that overlap), and in loops where nothing may be
// hoisted (the local written in the loop, raw stores, computed addresses,
// calls, memory growing).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { compileSource } from "../lang/ent/compile.js";
import { Session } from "../src/session.js";
import { tierOf } from "../src/vm/execute.js";
import type { Module } from "../src/vm/module.js";
import { verify, verifyBundle } from "../src/vm/verify.js";

interface Outcome {
  status: string;
  gasUsed: number;
  value: unknown;
  image: Uint8Array;
}

function outcome(modules: readonly Module[], jit: boolean, gas: number, mem = 4000, args: number[] = []): Outcome {
  const [entry, ...linked] = modules;
  const s = Session.start(entry, { gas, mem, args, linked, caps: [], record: false, tiering: { enabled: jit, warmGas: 0 } });
  const r = s.run();
  return { status: r.status, gasUsed: r.gasUsed, value: r.value, image: s.snapshot() };
}

function same(modules: readonly Module[], gas: number, what: string, mem = 4000, args: number[] = []): Outcome {
  const a = outcome(modules, false, gas, mem, args);
  const b = outcome(modules, true, gas, mem, args);
  expect(b.status, `${what}\nat ${gas}`).toBe(a.status);
  expect(b.gasUsed, `${what}\nat ${gas}`).toBe(a.gasUsed);
  expect(Buffer.compare(b.image, a.image), `${what}\nimage at ${gas}`).toBe(0);
  return a;
}

/** The text of a module's compiled chunks (compiled by running it once). */
function chunkText(modules: readonly Module[]): string {
  outcome(modules, true, 10_000_000);
  const c = tierOf(modules[0]).compiled;
  expect(c).not.toBeNull();
  return c!.chunks.map((f) => f.toString()).join("\n");
}

// Locals of main: 0-2 array addresses (A, B, C), 3 the outer counter, 4 its bound,
// 5 a sum, 6 scratch, 7 the inner counter.
const NL = 8;

/**
 * main: memory of 64 words, three "arrays" at given addresses with given
 * length words (anything: negative, past memory, overlapping), an outer loop
 * of `outer` over `body`, then the sum.
 */
function arrays(addr: readonly number[], lens: readonly number[], body: string, times = 6): string {
  const setLen = addr
    .map((a, k) => (a >= 0 && a < 64 ? `PUSH ${a}\nPUSH ${lens[k]}\nSTORE 0` : ""))
    .filter((s) => s !== "")
    .join("\n");
  return `.func main 0 ${NL}
PUSH 64
MGROW
POP
${setLen}
${addr.map((a, k) => `PUSH ${a}\nLSET ${k}`).join("\n")}
PUSH ${times}
LSET 4
outer:
${body}
LINC 3 1
LGET 3
LGET 4
LT
JNZ outer
LGET 5
RET
.func poke 2 2
LGET 0
PUSH 1
LGET 1
ASTORE
PUSH 0
RET
`;
}

/** A program's modules, verified. */
const asm = (src: string): Module[] => [verify(assemble(src))];

describe("array bounds hoisted before loops", () => {
  it("a loop over arrays in locals reads their bounds before it and checks each index against them first", () => {
    const sum = `fn main(args) {
  let a = array(50);
  let b = array(50);
  for i in 0..50 { a[i] = i * 3; }
  let s = 0;
  for k in 0..args[0] { for i in 0..50 { b[i] = b[i] + a[i]; s = s + b[i]; } }
  return s;
}`;
    const modules = verifyBundle(compileSource(sum, "sum.ent").modules);
    const text = chunkText(modules);
    // Bounds read before a labelled loop, and an access comparing its index with one.
    expect(text).toMatch(/const (B\w+) = [^;]+;\s*\n\s*(b\d+): for \(;;\) \{[^]*?>>> 0\) >= \1 && /);
    // Stores through b are checked not to reach a's length word (or b's own, through a).
    expect(text).toMatch(/const ok\w+ = \(\(f\d+_\d+ - f\d+_\d+ - 1\) >>> 0\) >= R\w+[ ;]/);
    for (const n of [0, 1, 7]) for (const gas of [10_000_000, 900, 2345, 4000]) same(modules, gas, "sum", 4000, [n]);
  });

  it("stops at every gas budget through a loop with hoisted accesses as the interpreter does", () => {
    const src = arrays(
      [10, 30, 50],
      [12, 12, 10],
      `PUSH 0
LSET 7
inner:
LGET 5
LGET 0
LGET 7
ALOAD
ADD
LSET 5
LGET 1
LGET 7
LGET 5
ASTORE
LINC 7 1
LGET 7
PUSH 9
LT
JNZ inner`,
    );
    const modules = asm(src);
    expect(chunkText(modules)).toMatch(/>>> 0\) >= B\w+ && /);
    const total = same(modules, 10_000_000, src).gasUsed;
    for (let gas = 0; gas <= total + 1; gas++) same(modules, gas, src);
  });

  it("faults like the interpreter in hoisted accesses: index out of bounds, an address that is no array, a length past memory", () => {
    const read = (idx: string): string => `PUSH 0
LSET 7
inner:
LGET 5
LGET 0
${idx}
ALOAD
ADD
LSET 5
LINC 7 1
LGET 7
PUSH 12
LT
JNZ inner`;
    const cases: [number[], number[], string][] = [
      [[10, 30, 50], [8, 1, 1], read("LGET 7")], // index reaches the length
      [[10, 30, 50], [20, 1, 1], read("LGET 7\nADDI -3")], // negative index
      [[-4, 30, 50], [5, 1, 1], read("LGET 7")], // negative address
      [[70, 30, 50], [5, 1, 1], read("LGET 7")], // address past memory
      [[60, 30, 50], [-3, 1, 1], read("LGET 7")], // negative length
      [[58, 30, 50], [40, 1, 1], read("LGET 7")], // elements past the end of memory
    ];
    for (const [addr, lens, body] of cases) {
      const src = arrays(addr, lens, body);
      const modules = asm(src);
      const a = same(modules, 10_000_000, src);
      expect(a.status, src).toBe("fault");
      for (let gas = 0; gas <= a.gasUsed + 1; gas += 3) same(modules, gas, src);
    }
  });

  it("an array whose length word another array's store overwrites inside the loop faults where the interpreter does", () => {
    // B starts at A + 3: B's length word is A[2]; the loop shrinks it, then reads B past its new length.
    const body = `PUSH 0
LSET 7
inner:
LGET 0
PUSH 2
PUSH 4
LGET 3
SUB
ASTORE
LGET 5
LGET 1
LGET 7
ALOAD
ADD
LSET 5
LINC 7 1
LGET 7
PUSH 6
LT
JNZ inner`;
    for (const lens of [
      [12, 9, 5],
      [12, 6, 5],
    ]) {
      const src = arrays([10, 13, 50], lens, body);
      const modules = asm(src);
      const a = same(modules, 10_000_000, src);
      expect(a.status, src).toBe("fault");
      for (let gas = 0; gas <= a.gasUsed + 1; gas++) same(modules, gas, src);
    }
    // The same with the store through B reaching A's length word from below (A = B + 2).
    const src = arrays([15, 13, 50], [9, 9, 5], body.replace("LGET 0\nPUSH 2\nPUSH 4", "LGET 1\nPUSH 1\nPUSH 3").replace("LGET 1\nLGET 7\nALOAD", "LGET 0\nLGET 7\nALOAD"));
    const modules = asm(src);
    for (let gas = 0; gas <= same(modules, 10_000_000, src).gasUsed + 1; gas++) same(modules, gas, src);
  });

  it("random loops over overlapping arrays, with and without what stops hoisting, agree between the tiers", () => {
    const arr = fc.integer({ min: 0, max: 2 });
    const idx = fc.oneof(
      fc.constant("LGET 7"),
      fc.constant("LGET 3"),
      fc.integer({ min: -2, max: 12 }).map((k) => `LGET 7\nADDI ${k}`),
      fc.integer({ min: -1, max: 12 }).map((k) => `PUSH ${k}`),
    );
    const val = fc.oneof(fc.constant("LGET 5"), fc.constant("LGET 7"), fc.integer({ min: -3, max: 70 }).map((k) => `PUSH ${k}`));
    const stmt = fc.oneof(
      { weight: 5, arbitrary: fc.tuple(arr, idx).map(([x, i]) => `LGET 5\nLGET ${x}\n${i}\nALOAD\nADD\nLSET 5`) },
      { weight: 4, arbitrary: fc.tuple(arr, idx, val).map(([x, i, v]) => `LGET ${x}\n${i}\n${v}\nASTORE`) },
      // What keeps a loop's accesses from being hoisted, or may change what they see.
      { weight: 1, arbitrary: fc.tuple(arr, fc.integer({ min: -2, max: 60 })).map(([x, a]) => `PUSH ${a}\nLSET ${x}`) },
      { weight: 1, arbitrary: fc.tuple(arr, fc.integer({ min: -1, max: 3 })).map(([x, k]) => `LINC ${x} ${k}`) },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 63 }), val).map(([a, v]) => `PUSH ${a}\n${v}\nSTORE 0`) },
      { weight: 1, arbitrary: fc.tuple(arr, idx, val).map(([x, i, v]) => `LGET ${x}\nLGET 7\nADD\n${i}\n${v}\nASTORE`) },
      { weight: 1, arbitrary: fc.tuple(arr, val).map(([x, v]) => `LGET ${x}\n${v}\nCALL poke\nPOP`) },
      { weight: 1, arbitrary: fc.constant("PUSH 1\nMGROW\nPOP") },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 60 }), val).map(([d, v]) => `PUSH ${d}\n${v}\nPUSH 3\nMFILL`) },
    );
    const inner = fc
      .tuple(fc.array(stmt, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 12 }))
      .map(([b, n]) => `PUSH 0\nLSET 7\ninner:\n${b.join("\n")}\nLINC 7 1\nLGET 7\nPUSH ${n}\nLT\nJNZ inner`);
    const place = fc.integer({ min: -2, max: 66 });
    const len = fc.oneof(fc.integer({ min: -2, max: 14 }), fc.constant(1000));
    fc.assert(
      fc.property(
        fc.tuple(place, place, place),
        fc.tuple(len, len, len),
        fc.array(stmt, { maxLength: 2 }),
        inner,
        fc.integer({ min: 0, max: 3000 }),
        (addr, lens, before, loop, gas) => {
          const src = arrays(addr, lens, [...before, loop].join("\n"), 4);
          const modules = asm(src);
          same(modules, 10_000_000, src);
          same(modules, gas, src);
        },
      ),
      { numRuns: 600 },
    );
  });
});

