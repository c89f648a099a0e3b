// Quickening: a copy of verified code in which the first opcode word of some
// common instruction sequences is replaced by a fused opcode. The layout is
// unchanged (same pcs, operands where they were), so a jump into the middle
// of a pair still runs the plain second instruction, and images, pcs and
// disassembly only ever see the original code.
//
// A fused opcode costs the sum of its parts. If that does not fit, the
// interpreter runs the original first instruction alone, so exhaustion still
// happens at exactly the same instruction boundary as without fusion.

import type { FunctionDef } from "./module.js";
import { GAS, OPS, Op, WIDTH } from "./opcodes.js";

/** Fused opcodes; numbered after the public instruction set. */
export const enum Fused {
  LGET_LGET = 100, // LGET a; LGET b
  LGET_PUSH, // LGET a; PUSH k
  LGET_ADDI, // LGET a; ADDI k
  LGET_LOAD, // LGET a; LOAD off
  LT_JZ, // LT; JZ t   (and the other comparisons)
  LE_JZ,
  GT_JZ,
  GE_JZ,
  EQ_JZ,
  NE_JZ,
  LGET_RET, // LGET a; RET
  LGET_ADDI_CALL, // LGET a; ADDI k; CALL f: an argument computed and passed
  ADD_RET, // ADD; RET
  // LGET a; PUSH k; CMP; JZ t  and  LGET a; LGET b; CMP; JZ t: a loop or if test in one dispatch
  LPJ_LT,
  LPJ_LE,
  LPJ_GT,
  LPJ_GE,
  LPJ_EQ,
  LPJ_NE,
  LLJ_LT,
  LLJ_LE,
  LLJ_GT,
  LLJ_GE,
  LLJ_EQ,
  LLJ_NE,
  END,
}

interface Pattern {
  ops: readonly number[];
  fused: Fused;
}

const CMPS = [Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE];

/** Longest patterns first: the first match at a pc wins. */
const PATTERNS: readonly Pattern[] = [
  ...CMPS.map((cmp, i) => ({ ops: [Op.LGET, Op.PUSH, cmp, Op.JZ], fused: Fused.LPJ_LT + i })),
  { ops: [Op.LGET, Op.ADDI, Op.CALL], fused: Fused.LGET_ADDI_CALL },
  { ops: [Op.ADD, Op.RET], fused: Fused.ADD_RET },
  ...CMPS.map((cmp, i) => ({ ops: [Op.LGET, Op.LGET, cmp, Op.JZ], fused: Fused.LLJ_LT + i })),
  ...PAIRS_OF([
  { first: Op.LGET, second: Op.LGET, fused: Fused.LGET_LGET },
  { first: Op.LGET, second: Op.PUSH, fused: Fused.LGET_PUSH },
  { first: Op.LGET, second: Op.ADDI, fused: Fused.LGET_ADDI },
  { first: Op.LGET, second: Op.LOAD, fused: Fused.LGET_LOAD },
  { first: Op.LT, second: Op.JZ, fused: Fused.LT_JZ },
  { first: Op.LE, second: Op.JZ, fused: Fused.LE_JZ },
  { first: Op.GT, second: Op.JZ, fused: Fused.GT_JZ },
  { first: Op.GE, second: Op.JZ, fused: Fused.GE_JZ },
  { first: Op.EQ, second: Op.JZ, fused: Fused.EQ_JZ },
  { first: Op.NE, second: Op.JZ, fused: Fused.NE_JZ },
  { first: Op.LGET, second: Op.RET, fused: Fused.LGET_RET },
]),
];

function PAIRS_OF(pairs: { first: number; second: number; fused: Fused }[]): Pattern[] {
  return pairs.map((p) => ({ ops: [p.first, p.second], fused: p.fused }));
}

/** Gas of every opcode the interpreter may dispatch: public ones, then fused sums. */
export const DISPATCH_GAS: Int32Array = (() => {
  const g = new Int32Array(Fused.END);
  g.set(GAS);
  for (const p of PATTERNS) g[p.fused] = p.ops.reduce((sum, op) => sum + GAS[op], 0);
  return g;
})();

/** PATTERNS by first opcode, longest first (most instructions start none). */
const BY_FIRST: readonly (readonly Pattern[])[] = OPS.map((_, op) => PATTERNS.filter((p) => p.ops[0] === op));

/** The quickened copy of verified code. */
export function quicken(code: Int32Array, functions: readonly FunctionDef[]): Int32Array {
  const fast = code.slice();
  for (const f of functions) {
    for (let pc = f.entry; pc < f.end; pc += WIDTH[code[pc]]) {
      for (const p of BY_FIRST[code[pc]]) {
        if (matches(code, pc, f.end, p.ops)) {
          fast[pc] = p.fused;
          break;
        }
      }
    }
  }
  return fast;
}

function matches(code: Int32Array, pc: number, end: number, ops: readonly number[]): boolean {
  let at = pc;
  for (const op of ops) {
    if (at >= end || code[at] !== op) return false;
    at += WIDTH[op];
  }
  return true;
}

// The public table must stay below the fused range.
if (OPS.length >= 100) throw new Error("opcode table overlaps fused opcodes");
