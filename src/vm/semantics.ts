// What each instruction the hot loop runs computes, written once. The
// interpreter's switch cases (generated into interpreter.ts by
// scripts/gen-interpreter.ts), its fused cases (the parts' definitions in
// sequence) and the compiled tier's JavaScript (jit.ts, at run time) are all
// translated from these rows by translate.ts, so the tiers cannot disagree
// about what an instruction does, when it faults or what it needs.
//
// A row is JavaScript text over a few names (see Semantics). The machine's
// registers and arrays are named as in both tiers' code: stack, sp, bp, fp,
// frames, mem, memSize, memMax, memFree, gas, cpu. Every value pushed is an
// i32 (hence the `| 0`s): the compiled tier keeps values in JS variables, not
// in the Int32Array that would wrap them.
//
// Instructions the scheduler runs (opcodes.ts runs: "scheduler") have no row.

import type { FaultKind } from "./errors.js";
import { OPS } from "./opcodes.js";

/**
 * A reason an instruction does not happen, tested in order before any effect.
 * It faults (kind and detail), or needs more gas than is left (`gas`: the
 * extra beyond its base gas), or more memory (`mem`: the words it needs).
 */
export interface Check {
  readonly if: string;
  readonly fault?: FaultKind;
  /** The fault's detail as cpu.describe arguments: a Detail name (errors.ts) and up to three numbers. */
  readonly detail?: readonly [format: string, ...numbers: string[]];
  /** The fault's detail as fixed text. */
  readonly say?: string;
  readonly gas?: string;
  readonly mem?: string;
}

/**
 * One instruction. In order: `pop` names the words it takes (bottom to top)
 * and `args` its operand words; `let` computes named values; `checks` may
 * stop it; then `do` runs, `local` is assigned and `push` pushes. Names:
 * - `local`: the local slot its "local" operand names;
 * - `SP`: the stack top after its pops; `NEXT`: the pc after it; `HERE`: its pc;
 * - `SELF`: the function whose frame is on top;
 * - `nparams(f)`, `nlocals(f)`, `nfresh(f)` (nlocals - nparams), `entry(f)`,
 *   `frameCost(f)`: facts of function f;
 * - `FRAME_WORDS`, `FRAME_RET`, `FRAME_BP`, `FRAME_FN`: the frame layout (opcodes.ts Frame);
 * - in `do`: `GOTO(pc)` continues at pc (the operand stack is in memory by then),
 *   `DONE(v)` stops the process as done(v), resting at this instruction,
 *   `ZERO(at, n)` zeroes n words of the stack from `at`.
 */
export interface Semantics {
  readonly pop?: readonly string[];
  readonly args?: readonly string[];
  readonly let?: readonly (readonly [name: string, value: string])[];
  readonly checks?: readonly Check[];
  /**
   * One condition that holds exactly when some check does, cheaper than all
   * of them: for a target that only needs to know whether the instruction
   * stops (the compiled tier stops before it and lets the interpreter find
   * which check it is). test/semantics-any.test.ts checks the equivalence.
   */
  readonly any?: string;
  readonly do?: string;
  /** The new value of `local`. */
  readonly local?: string;
  readonly push?: readonly string[];
}

const binary = (expr: string): Semantics => ({ pop: ["a", "b"], push: [expr] });
const compare = (test: string): Semantics => binary(`${test} ? 1 : 0`);

/** The rows, by instruction name. */
const ROWS: Readonly<Record<string, Semantics>> = {
  // --- stack
  NOP: {},
  PUSH: { args: ["k"], push: ["k"] },
  POP: { pop: ["a"] },
  DUP: { pop: ["a"], push: ["a", "a"] },
  SWAP: { pop: ["a", "b"], push: ["b", "a"] },
  OVER: { pop: ["a", "b"], push: ["a", "b", "a"] },
  // --- locals
  LGET: { args: ["l"], push: ["local"] },
  LSET: { args: ["l"], pop: ["a"], local: "a" },
  LTEE: { args: ["l"], pop: ["a"], local: "a", push: ["a"] },
  LINC: { args: ["l", "k"], local: "(local + k) | 0" },
  // --- i32 arithmetic
  ADD: binary("(a + b) | 0"),
  SUB: binary("(a - b) | 0"),
  MUL: binary("Math.imul(a, b)"),
  DIV: {
    pop: ["a", "b"],
    checks: [
      { if: "b === 0", fault: "div_by_zero", detail: ["DivZero", "a"] },
      { if: "a === -2147483648 && b === -1", fault: "overflow", say: "-2147483648 / -1" },
    ],
    push: ["(a / b) | 0"],
  },
  REM: {
    pop: ["a", "b"],
    checks: [{ if: "b === 0", fault: "div_by_zero", detail: ["RemZero", "a"] }],
    push: ["b === -1 ? 0 : (a % b) | 0"],
  },
  ADDI: { args: ["k"], pop: ["a"], push: ["(a + k) | 0"] },
  NEG: { pop: ["a"], push: ["-a | 0"] },
  // --- bitwise (JS takes shift counts modulo 32)
  AND: binary("a & b"),
  OR: binary("a | b"),
  XOR: binary("a ^ b"),
  SHL: binary("a << b"),
  SHR: binary("a >> b"),
  SHRU: binary("(a >>> b) | 0"),
  NOT: { pop: ["a"], push: ["~a"] },
  // --- comparison
  EQ: compare("a === b"),
  NE: compare("a !== b"),
  LT: compare("a < b"),
  LE: compare("a <= b"),
  GT: compare("a > b"),
  GE: compare("a >= b"),
  EQZ: { pop: ["a"], push: ["a === 0 ? 1 : 0"] },
  // --- control
  JMP: { args: ["t"], do: "GOTO(t);" },
  JZ: { args: ["t"], pop: ["c"], do: "if (c === 0) GOTO(t);" },
  JNZ: { args: ["t"], pop: ["c"], do: "if (c !== 0) GOTO(t);" },
  CALL: {
    // The arguments on the stack become the callee's first locals; the rest are zeroed.
    args: ["f"],
    let: [
      ["cost", "frameCost(f)"],
      ["base", "SP - nparams(f)"],
      ["top", "base + nlocals(f)"],
      ["fresh", "nfresh(f)"],
    ],
    checks: [{ if: "cost > memFree", mem: "cost" }],
    do: `memFree -= cost;
// frameCost >= nlocals + maxStack: room for the callee's whole frame.
if (base + cost > stack.length) stack = cpu.stack = growInt32(stack, base + cost, SP);
if (fp + FRAME_WORDS > frames.length) frames = cpu.frames = growInt32(frames, fp + FRAME_WORDS, fp);
ZERO(SP, fresh);
frames[fp + FRAME_RET] = NEXT;
frames[fp + FRAME_BP] = bp;
frames[fp + FRAME_FN] = f;
fp += FRAME_WORDS;
bp = base;
sp = top;
GOTO(entry(f));`,
  },
  RET: {
    pop: ["v"],
    do: `fp -= FRAME_WORDS;
memFree += frameCost(SELF);
sp = bp;
bp = frames[fp + FRAME_BP];
if (fp === 0) DONE(v);
stack[sp++] = v;
GOTO(frames[fp + FRAME_RET]);`,
  },
  TRAP: { args: ["k"], checks: [{ if: "true", fault: "trap", detail: ["Trap", "k"] }] },
  // --- linear memory
  MSIZE: { push: ["memSize"] },
  MGROW: {
    pop: ["n"],
    let: [
      ["extra", "wordGas(n)"],
      ["old", "memSize"],
    ],
    checks: [
      { if: "n < 0", fault: "bad_arg", detail: ["Grow", "n"] },
      { if: "extra > gas", gas: "extra" },
      { if: "n > memFree", mem: "n" },
      { if: "memSize + n > memMax", fault: "mem_limit", detail: ["MemLimit", "memSize + n", "memMax"] },
    ],
    do: `gas -= extra;
memFree -= n;
if (memSize + n > mem.length) mem = cpu.mem = growInt32(mem, memSize + n, memSize);
memSize += n;`,
    push: ["old"],
  },
  LOAD: {
    args: ["k"],
    pop: ["a"],
    let: [["at", "a + k"]],
    checks: [{ if: "at < 0 || at >= memSize", fault: "mem_bounds", detail: ["Load", "at", "memSize"] }],
    push: ["mem[at]"],
  },
  STORE: {
    args: ["k"],
    pop: ["a", "v"],
    let: [["at", "a + k"]],
    checks: [{ if: "at < 0 || at >= memSize", fault: "mem_bounds", detail: ["Store", "at", "memSize"] }],
    do: "mem[at] = v;",
  },
  MCOPY: {
    pop: ["d", "s", "n"],
    let: [["extra", "wordGas(n)"]],
    checks: [
      { if: "n < 0 || d < 0 || d + n > memSize || s < 0 || s + n > memSize", fault: "mem_bounds", detail: ["Copy", "n", "d", "memSize"] },
      { if: "extra > gas", gas: "extra" },
    ],
    do: "gas -= extra;\nmem.copyWithin(d, s, s + n);",
  },
  MFILL: {
    pop: ["d", "v", "n"],
    let: [["extra", "wordGas(n)"]],
    checks: [
      { if: "n < 0 || d < 0 || d + n > memSize", fault: "mem_bounds", detail: ["Fill", "n", "d", "memSize"] },
      { if: "extra > gas", gas: "extra" },
    ],
    do: "gas -= extra;\nmem.fill(v, d, d + n);",
  },
  // --- arrays: [len, e0, e1, ...]; the index is checked against len, the address against memory
  ALOAD: { pop: ["a", "i"], checks: arrayChecks(), any: arrayAny(), push: ["mem[a + 1 + i]"] },
  ASTORE: { pop: ["a", "i", "v"], checks: arrayChecks(), any: arrayAny(), do: "mem[a + 1 + i] = v;" },
};

/**
 * Some array check holds exactly when this does, in i32 comparisons only: a
 * negative address or index (one sign bit); an element past the end of
 * memory, which with both non-negative covers an address past it too (so
 * mem[a] is read only inside memory); or an index not below the length,
 * which a negative length is below every index (so the second check adds
 * nothing).
 */
function arrayAny(): string {
  return "(a | i) < 0 || a + 1 + i >= memSize || i >= mem[a]";
}

function arrayChecks(): Check[] {
  return [
    { if: "a < 0 || a >= memSize", fault: "mem_bounds", detail: ["Array", "a", "memSize"] },
    { if: "mem[a] < 0", fault: "mem_bounds", detail: ["Array", "a", "memSize"] },
    { if: "i < 0 || i >= mem[a]", fault: "index_bounds", detail: ["Index", "i", "mem[a]"] },
    { if: "a + 1 + i >= memSize", fault: "mem_bounds", detail: ["Index", "i", "mem[a]"] },
  ];
}

/** By opcode: the row of every instruction the hot loop runs, undefined for the scheduler's. */
export const SEMANTICS: readonly (Semantics | undefined)[] = OPS.map((o) => {
  const s = ROWS[o.name];
  if ((s === undefined) !== (o.runs === "scheduler")) throw new Error(`semantics: ${o.name} must have a row exactly when the hot loop runs it`);
  if (s !== undefined) agrees(o.name, s);
  return s;
});

/** A row must say what the table says: operands, stack effect (where fixed) and fault kinds. */
function agrees(name: string, s: Semantics): void {
  const o = OPS.find((x) => x.name === name) as (typeof OPS)[number];
  const faults = new Set((s.checks ?? []).flatMap((c) => (c.fault === undefined ? [] : [c.fault])));
  const wrong =
    (s.args ?? []).length !== o.operands.length
      ? "operands"
      : o.popFrom === undefined && ((s.pop ?? []).length !== o.pop || (s.push ?? []).length !== o.push)
        ? "stack effect"
        : faults.size !== o.faults.length || o.faults.some((f) => !faults.has(f))
          ? "fault kinds"
          : "";
  if (wrong !== "") throw new Error(`semantics: the row of ${name} disagrees with the opcode table about its ${wrong}`);
}
