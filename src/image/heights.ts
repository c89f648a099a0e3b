// Operand-stack height at every instruction of a verified module, by the same
// rules as the verifier (stack effects from the opcode table). Loading an
// image checks each process's sp against these, so a decoded process is
// always one the verified code could have reached.
//
// (The verifier computes the same array and drops it; if Module ever carries
// it, this file becomes a one-liner.)

import type { Module } from "../vm/module.js";
import { OPS, Op, WIDTH } from "../vm/opcodes.js";
import { SPAWN_EXTRA } from "../vm/verify.js";

const cache = new WeakMap<Module, Int32Array>();

/** Height before the instruction at each pc; -1 where no reachable instruction starts. */
export function stackHeights(m: Module): Int32Array {
  const known = cache.get(m);
  if (known) return known;
  const code = m.code;
  const height = new Int32Array(code.length).fill(-1);
  const work: number[] = [];
  for (const fn of m.functions) {
    height[fn.entry] = 0;
    work.push(fn.entry);
    while (work.length > 0) {
      const pc = work.pop() as number;
      const op = code[pc];
      const info = OPS[op];
      let pop = info.pop;
      if (op === Op.CALL) pop = m.nparams[code[pc + 1]];
      else if (op === Op.SPAWN) pop = m.nparams[code[pc + 1]] + SPAWN_EXTRA;
      else if (op === Op.CAP) pop = code[pc + 2];
      const after = height[pc] - pop + info.push;
      const next = pc + WIDTH[op];
      const targets =
        info.flow === "next" ? [next] : info.flow === "jump" ? [code[pc + 1]] : info.flow === "branch" ? [code[pc + 1], next] : [];
      for (const t of targets) {
        if (height[t] === -1) {
          height[t] = after;
          work.push(t);
        }
      }
    }
  }
  cache.set(m, height);
  return height;
}
