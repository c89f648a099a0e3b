// Quickening: a copy of verified code in which the first opcode word of some
// common instruction sequences is replaced by a fused opcode. The layout is
// unchanged (same pcs, operands where they were), so a jump into the middle
// of a sequence still runs the plain instructions, and images, pcs and
// disassembly only ever see the original code.
//
// A fused opcode costs the sum of its parts. If that does not fit, the
// interpreter runs the original first instruction alone, so exhaustion still
// happens at exactly the same instruction boundary as without fusion. What a
// fused opcode does is its parts' rows in semantics.ts, translated in
// sequence (scripts/gen-interpreter.ts): a part that cannot run stops there,
// with the parts before it done, exactly as the plain sequence would.

import type { FunctionDef } from "./module.js";
import { GAS, OPS, Op, WIDTH } from "./opcodes.js";
import { copyWords } from "./slab.js";

/** Fused opcodes are numbered from here, in FUSED order, after the public instruction set. */
export const FUSED_BASE = 100;

const CMPS = [Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE];

/**
 * The fused opcodes: the instruction sequence each stands for. Only the last
 * instruction of a sequence may jump, call or return.
 */
export const FUSED: readonly (readonly Op[])[] = [
  [Op.LGET, Op.LGET],
  [Op.LGET, Op.PUSH],
  [Op.LGET, Op.ADDI],
  [Op.LGET, Op.LOAD],
  ...CMPS.map((cmp) => [cmp, Op.JZ]),
  [Op.LGET, Op.RET],
  // An argument computed and passed.
  [Op.LGET, Op.ADDI, Op.CALL],
  [Op.ADD, Op.RET],
  // A loop or if test in one dispatch.
  ...CMPS.map((cmp) => [Op.LGET, Op.PUSH, cmp, Op.JZ]),
  ...CMPS.map((cmp) => [Op.LGET, Op.LGET, cmp, Op.JZ]),
  // Words of memory into locals (an argument block read into locals, two at a time), and a word read.
  [Op.PUSH, Op.LOAD, Op.LSET, Op.PUSH, Op.LOAD, Op.LSET],
  [Op.PUSH, Op.LOAD, Op.LSET],
  [Op.PUSH, Op.LOAD],
  // Memory grown to a fixed size: PUSH n; MSIZE; SUB; MGROW; POP.
  [Op.PUSH, Op.MSIZE, Op.SUB, Op.MGROW, Op.POP],
  // Bounded appends (the GP output helpers emit and append, gp/compile.ts): a length read and
  // checked against a cap, a value stored, the length bumped.
  [Op.PUSH, Op.LOAD, Op.DUP, Op.PUSH, Op.GE, Op.JNZ],
  [Op.DUP, Op.PUSH, Op.GE, Op.JNZ],
  [Op.DUP, Op.PUSH, Op.GT, Op.JNZ],
  [Op.DUP, Op.LGET, Op.STORE, Op.ADDI, Op.PUSH, Op.SWAP, Op.STORE, Op.PUSH, Op.RET],
  [Op.DUP, Op.LGET, Op.STORE],
  [Op.ADDI, Op.PUSH, Op.SWAP, Op.STORE, Op.PUSH, Op.RET],
  [Op.PUSH, Op.RET],
  // Branches on a local, and a constant into a local.
  [Op.LGET, Op.JZ],
  [Op.LGET, Op.JNZ],
  [Op.PUSH, Op.LSET],
  // Decimal digits (the GP output helper print_int, gp/compile.ts): a power of ten found, then each digit emitted.
  [Op.LGET, Op.LGET, Op.DIV, Op.PUSH, Op.GE, Op.JZ],
  [Op.LGET, Op.PUSH, Op.MUL, Op.LSET, Op.JMP],
  [Op.LGET, Op.LGET, Op.DIV, Op.PUSH, Op.REM, Op.ADDI, Op.CALL],
  [Op.POP, Op.LGET, Op.PUSH, Op.DIV, Op.LSET, Op.JMP],
];

/** One past the last fused opcode. */
export const FUSED_END = FUSED_BASE + FUSED.length;

/** A fused opcode's name: its parts' names joined by `_`. */
export function fusedName(fused: number): string {
  return FUSED[fused - FUSED_BASE].map((op) => OPS[op].name).join("_");
}

/** Gas of every opcode the interpreter may dispatch: public ones, then fused sums. */
export const DISPATCH_GAS: Int32Array = (() => {
  const g = new Int32Array(FUSED_END);
  g.set(GAS);
  FUSED.forEach((ops, i) => (g[FUSED_BASE + i] = ops.reduce((sum, op) => sum + GAS[op], 0)));
  return g;
})();

/**
 * Fused opcodes by their first two instructions (key: first x OPS.length +
 * second), longest first: the first match at a pc wins. Every sequence has
 * two instructions or more, so most pcs are settled by one lookup.
 */
const BY_PAIR: readonly (readonly number[])[] = (() => {
  // Dense, every entry an array (most the one empty one): a sparse array would be a slow dictionary.
  const none: number[] = [];
  const t: number[][] = new Array<number[]>(OPS.length * OPS.length).fill(none);
  FUSED.forEach((ops, i) => {
    const key = ops[0] * OPS.length + ops[1];
    if (t[key] === none) t[key] = [];
    t[key].push(FUSED_BASE + i);
  });
  for (const list of t) list.sort((a, b) => FUSED[b - FUSED_BASE].length - FUSED[a - FUSED_BASE].length);
  return t;
})();

/** The quickened copy of verified code. */
export function quicken(code: Int32Array, functions: readonly FunctionDef[]): Int32Array {
  const fast = copyWords(code);
  for (const f of functions) {
    const end = f.end;
    for (let pc = f.entry; pc < end; pc += WIDTH[code[pc]]) {
      const second = pc + WIDTH[code[pc]];
      if (second >= end) continue;
      const list = BY_PAIR[code[pc] * OPS.length + code[second]];
      for (let k = 0; k < list.length; k++) {
        if (matches(code, pc, end, FUSED[list[k] - FUSED_BASE])) {
          fast[pc] = list[k];
          break;
        }
      }
    }
  }
  return fast;
}

function matches(code: Int32Array, pc: number, end: number, ops: readonly number[]): boolean {
  let at = pc;
  for (let k = 0; k < ops.length; k++) {
    if (at >= end || code[at] !== ops[k]) return false;
    at += WIDTH[ops[k]];
  }
  return true;
}

// The public table must stay below the fused range, and only a sequence's last instruction may leave it.
if (OPS.length > FUSED_BASE) throw new Error("opcode table overlaps fused opcodes");
for (const ops of FUSED) {
  if (ops.length < 2) throw new Error(`quicken: ${ops.map((op) => OPS[op].name).join(" ")} is no sequence`);
  if (ops.slice(0, -1).some((op) => OPS[op].flow !== "next" || op === Op.CALL))
    throw new Error(`quicken: only the last instruction of ${ops.map((op) => OPS[op].name).join(" ")} may jump, call or return`);
}
