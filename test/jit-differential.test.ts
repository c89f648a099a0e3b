// Differential testing of the compiled tier against the interpreter: random
// programs made of everything the compiler translates (stack shuffles,
// locals, wrapping arithmetic, division faults, memory and array access in
// and out of bounds, growing, copying and filling memory, calls, loops that
// jump to their own start) mixed with instructions it hands on (GASLEFT,
// MEMLEFT, TRAP), run with random gas and memory limits. Whatever stops them,
// the image bytes must be identical.

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { Session } from "../src/session.js";
import { tiering } from "../src/vm/execute.js";
import { verify } from "../src/vm/verify.js";

const NL = 5;
const local = fc.integer({ min: 0, max: NL - 1 });
const small = fc.integer({ min: -3, max: 40 });
const word = fc.oneof(small, fc.constantFrom(-2147483648, 2147483647, -1, 65536));
const bin = fc.constantFrom("ADD", "SUB", "MUL", "DIV", "REM", "AND", "OR", "XOR", "SHL", "SHR", "SHRU", "EQ", "NE", "LT", "LE", "GT", "GE");
const un = fc.oneof(fc.constantFrom("NEG", "NOT", "EQZ"), word.map((k) => `ADDI ${k}`));

/** Stack-neutral snippets (each leaves the operand stack as it found it). */
const simple: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(word, word, bin, local).map(([a, b, op, k]) => `PUSH ${a}\nPUSH ${b}\n${op}\nLSET ${k}`),
  fc.tuple(local, local, bin, local).map(([i, j, op, k]) => `LGET ${i}\nLGET ${j}\n${op}\nLSET ${k}`),
  fc.tuple(local, un, local).map(([i, op, k]) => `LGET ${i}\n${op}\nLTEE ${k}\nPOP`),
  fc.tuple(local, small).map(([k, c]) => `LINC ${k} ${c}`),
  fc.tuple(local, local).map(([i, k]) => `LGET ${i}\nDUP\nADD\nLSET ${k}`),
  fc.tuple(local, local, local).map(([i, j, k]) => `LGET ${i}\nLGET ${j}\nSWAP\nSUB\nLSET ${k}`),
  fc.tuple(local, local, local).map(([i, j, k]) => `LGET ${i}\nLGET ${j}\nOVER\nADD\nMUL\nLSET ${k}`),
  fc.tuple(small, small, local).map(([a, off, k]) => `PUSH ${a}\nLOAD ${off}\nLSET ${k}`),
  fc.tuple(local, small, local).map(([i, off, k]) => `LGET ${i}\nLOAD ${off}\nLSET ${k}`),
  fc.tuple(small, local, small).map(([a, i, off]) => `PUSH ${a}\nLGET ${i}\nSTORE ${off}`),
  fc.tuple(small, local, local).map(([a, i, k]) => `PUSH ${a}\nLGET ${i}\nALOAD\nLSET ${k}`),
  fc.tuple(small, small, local).map(([a, i, v]) => `PUSH ${a}\nPUSH ${i}\nLGET ${v}\nASTORE`),
  fc.tuple(small, local).map(([n, k]) => `PUSH ${n}\nMGROW\nLSET ${k}`),
  fc.tuple(local, local).map(([i, k]) => `MSIZE\nLGET ${i}\nMGROW\nADD\nLSET ${k}`),
  fc.tuple(small, small, small).map(([d, s, n]) => `PUSH ${d}\nPUSH ${s}\nPUSH ${n}\nMCOPY`),
  fc.tuple(small, local, small).map(([d, v, n]) => `PUSH ${d}\nLGET ${v}\nPUSH ${n}\nMFILL`),
  fc.tuple(local, local, local).map(([i, j, k]) => `LGET ${i}\nLGET ${j}\nCALL two\nLSET ${k}`),
  fc.tuple(local, local).map(([i, k]) => `LGET ${i}\nCALL down\nLSET ${k}`),
  local.map((k) => `GASLEFT\nLSET ${k}`),
  local.map((k) => `MEMLEFT\nLSET ${k}`),
  fc.constant("MSIZE\nPOP"),
  fc.constant("TRAP 1").map((t) => t),
);

let labels = 0;
const stmt: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: simple },
  // A loop whose test and body form one block that jumps to its own start.
  { weight: 2, arbitrary: fc.tuple(local, fc.array(simple, { minLength: 1, maxLength: 3 })).map(([k, body]) => {
    const l = `s${labels++}`;
    return `${l}:\nLINC ${k} -1\n${body.filter((b) => b !== "TRAP 1").join("\n")}\nLGET ${k}\nPUSH 0\nGT\nJNZ ${l}`;
  }) },
  // A loop with a forward exit and a backward jump.
  { weight: 1, arbitrary: fc.tuple(local, fc.array(simple, { minLength: 1, maxLength: 3 })).map(([k, body]) => {
    const l = `w${labels++}`;
    return `${l}:\nLGET ${k}\nPUSH 0\nLE\nJNZ ${l}e\nLINC ${k} -1\n${body.filter((b) => b !== "TRAP 1").join("\n")}\nJMP ${l}\n${l}e:`;
  }) },
);

function program(stmts: readonly string[], init: readonly number[]): string {
  return `.func main 0 ${NL}
${init.map((v, k) => `PUSH ${v}\nLSET ${k}`).join("\n")}
${stmts.join("\n")}
LGET 0
LGET 1
ADD
RET
.func two 2 2
LGET 0
LGET 1
SUB
LGET 1
MUL
RET
.func down 1 1
LGET 0
PUSH 0
LE
JNZ base
LGET 0
ADDI -1
CALL down
ADDI 3
RET
base:
PUSH 7
RET
`;
}

function outcome(src: string, jit: boolean, gas: number, mem: number): { status: string; image: Uint8Array } {
  tiering.enabled = jit;
  tiering.warmGas = 0;
  const m = verify(assemble(src));
  const s = Session.start(m, { gas, mem, args: [3, 1, 4, 1, 5, 9, 2, 6], record: false });
  const r = s.run();
  return { status: r.status, image: s.snapshot() };
}

afterAll(() => {
  tiering.enabled = true;
  tiering.warmGas = 200_000;
});

describe("compiled tier vs interpreter on random programs", () => {
  it("stop in the same state whatever the program and the limits", () => {
    const statuses = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.array(stmt, { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: -2, max: 12 }), { minLength: NL, maxLength: NL }),
        fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 20_000 })),
        fc.oneof(fc.integer({ min: 40, max: 200 }), fc.constant(1 << 16)),
        (stmts, init, gas, mem) => {
          const src = program(stmts, init);
          const a = outcome(src, false, gas, mem);
          const b = outcome(src, true, gas, mem);
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          expect(b.status, src).toBe(a.status);
          expect(Buffer.compare(b.image, a.image), src).toBe(0);
        },
      ),
      { numRuns: 1500 },
    );
    // Meaningful only if programs end in every way.
    for (const st of ["done", "fault", "out_of_gas", "out_of_mem"]) expect(statuses.get(st) ?? 0, st).toBeGreaterThan(20);
  });
});
