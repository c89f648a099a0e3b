// Differential testing of the compiled tier against the interpreter: random
// programs made of everything the compiler translates (stack shuffles,
// locals, wrapping arithmetic, division faults, memory and array access in
// and out of bounds, growing, copying and filling memory, calls, loops that
// jump to their own start) mixed with instructions it hands on (GASLEFT,
// MEMLEFT, TRAP), run with random gas and memory limits. Whatever stops them,
// the image bytes must be identical.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assemble } from "../lang/asm.js";
import { Session } from "../src/session.js";
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

function outcome(src: string, jit: boolean, gas: number, mem: number): { status: string; gasUsed: number; image: Uint8Array } {
  const m = verify(assemble(src));
  // Compiled before the first instruction, or never.
  const s = Session.start(m, { gas, mem, args: [3, 1, 4, 1, 5, 9, 2, 6], record: false, tiering: { enabled: jit, warmGas: 0 } });
  const r = s.run();
  return { status: r.status, gasUsed: r.gasUsed, image: s.snapshot() };
}

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

  it("agree on programs cut into many small blocks, with values on the stack across jumps", () => {
    // Code where about 40% of instructions are jump targets (many blocks start
    // with operands on the stack and many straight-line copies are made), built
    // from a seed by a small deterministic generator.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const src = denseProgram(seed);
        let verified = true;
        try {
          verify(assemble(src));
        } catch {
          verified = false;
        }
        fc.pre(verified);
        const total = outcome(src, false, 3000, 2000).gasUsed;
        for (const gas of [3000, seed % (total + 2), (seed >> 8) % (total + 2)])
          for (const mem of [2000, 200 + (seed % 100)]) {
            const a = outcome(src, false, gas, mem);
            const b = outcome(src, true, gas, mem);
            expect(b.status, src).toBe(a.status);
            expect(Buffer.compare(b.image, a.image), `${src}\ngas ${gas} mem ${mem}`).toBe(0);
          }
      }),
      // 1780838458: a block ending in MGROW whose next block's check was once left to it (gas went below 0).
      { numRuns: 400, examples: [[1780838458]] },
    );
  });
});

/** A random program over 4 locals, a jump target on ~40% of instructions, from `seed`. */
function denseProgram(seed: number): string {
  let x = seed;
  const ri = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    return Math.floor((x / 0x80000000) * n);
  };
  const pick = <T>(a: readonly T[]): T => a[ri(a.length)];
  const words = [0, 1, 2, 3, -1, 5, 17, 31, 32, -2147483648, 2147483647, 65536, -7];
  const items: { text: string; h: number; jump?: "cond" | "jmp" }[] = [];
  let h = 0;
  const n = 20 + ri(60);
  for (let i = 0; i < n; i++) {
    const at = h;
    const emit = (text: string, d: number): void => {
      items.push({ text, h: at });
      h += d;
    };
    if (h > 6) {
      emit(pick(["POP", `LSET ${ri(4)}`, "ADD", "MUL"]), -1);
      continue;
    }
    const r = ri(28);
    if (r < 2) emit(`PUSH ${pick(words)}`, 1);
    else if (r < 4) emit(`LGET ${ri(4)}`, 1);
    else if (r === 4 && h >= 1) emit(`LSET ${ri(4)}`, -1);
    else if (r === 5 && h >= 1) emit(`LTEE ${ri(4)}`, 0);
    else if (r === 6) emit(`LINC ${ri(4)} ${pick(words)}`, 0);
    else if (r < 9 && r >= 7 && h >= 2) emit(pick(["ADD", "SUB", "MUL", "DIV", "REM", "AND", "OR", "XOR", "SHL", "SHR", "SHRU", "EQ", "NE", "LT", "LE", "GT", "GE"]), -1);
    else if (r === 9 && h >= 1) emit(pick(["NEG", "NOT", "EQZ", `ADDI ${pick(words)}`]), 0);
    else if (r === 10 && h >= 1) emit("DUP", 1);
    else if (r === 11 && h >= 2) emit("SWAP", 0);
    else if (r === 12 && h >= 2) emit("OVER", 1);
    else if (r === 13 && h >= 1) emit("POP", -1);
    else if (r === 14) emit("MSIZE", 1);
    else if (r === 15 && h >= 1) emit(`LOAD ${pick([0, 1, -1, 3])}`, 0);
    else if (r === 16 && h >= 2) emit(`STORE ${pick([0, 1, 2])}`, -2);
    else if (r === 17 && h >= 1) emit("PUSH 31\nAND\nMGROW", 0);
    else if (r === 18 && h >= 3) emit(pick(["MCOPY", "MFILL"]), -3);
    else if (r === 19 && h >= 2) emit("CALL two", -1);
    else if (r === 20 && h >= 1) emit("CALL one", 0);
    else if (r >= 21 && r <= 23 && h >= 1) {
      items.push({ text: "", h: h - 1, jump: "cond" });
      h--;
    } else if (r === 24) items.push({ text: "", h, jump: "jmp" });
    else if (r === 25 && h >= 2) emit("ALOAD", -1);
    else if (r === 26 && h >= 3) emit("ASTORE", -3);
    else emit("NOP", 0);
  }
  const label = items.map(() => ri(10) < 4);
  const lines = items.map((it, i) => {
    const pre = label[i] ? `L${i}: ` : "";
    if (!it.jump) return pre + it.text;
    // A jump goes to a labelled instruction with the same stack height.
    const targets = items.map((_, j) => j).filter((j) => label[j] && items[j].h === it.h && !items[j].jump);
    if (targets.length === 0) return pre + (it.jump === "cond" ? "POP" : "NOP");
    return `${pre}${it.jump === "cond" ? pick(["JZ", "JNZ"]) : "JMP"} L${pick(targets)}`;
  });
  return `.func main 0 4
  PUSH 40
  MGROW
  POP
  PUSH 5
  PUSH 3
  STORE 0
${lines.join("\n")}
  PUSH 9
  RET
.func two 2 3
  LGET 0
  LGET 1
  SUB
  LTEE 2
  LGET 2
  MUL
  RET
.func one 1 1
  LINC 0 1
  LGET 0
  PUSH 3
  AND
  JZ z
  LGET 0
  RET
z: LGET 0
  LGET 0
  MUL
  RET
`;
}
