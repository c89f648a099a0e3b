// A warm-up for the VM's hot loop, run once per host process before the first
// evaluation. V8 compiles the interpreter with the type feedback it has seen
// so far; a GP run then meets instruction forms its first candidates never
// used (a fused compare-and-branch, a call that grows the stack, a fault), and
// every new one throws the compiled interpreter away and compiles it again,
// running slowly in between (a dozen times in the first seconds of a run).
// A few short programs that take every path of the hot loop beforehand cost a
// few milliseconds and spare those recompilations. They are ordinary programs
// on a machine of their own: nothing here changes what any candidate computes
// or is charged, and the time they take counts as the run's.

import { Machine } from "../process/scheduler.js";
import type { FunctionDef, ModuleDef } from "../vm/module.js";
import { Op } from "../vm/opcodes.js";
import { verify } from "../vm/verify.js";
import type { Layout } from "./compile.js";
import { encodeCases, runBatch } from "./evaluate.js";

/** Values on both sides of V8's small-integer range, and negative ones. */
const VALUES = [3, -7, 0x40000005, -0x7ffffff0];
const ARITH = [Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.REM, Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR, Op.SHRU];
const CMPS = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE];

/** A module under construction: functions one after the other. */
class Asm {
  private readonly code: number[] = [];
  private readonly functions: FunctionDef[] = [];
  private open: { name: string; nparams: number; nlocals: number; entry: number } | null = null;
  emit(...words: number[]): void {
    for (const w of words) this.code.push(w);
  }
  get pc(): number {
    return this.code.length;
  }
  /** Emits `before`, then a jump; call the result where it lands. */
  jump(op: Op, ...before: number[]): () => void {
    this.emit(...before, op, -1);
    const at = this.code.length - 1;
    return () => void (this.code[at] = this.code.length);
  }
  /** Starts the next function (ending the previous one). */
  fn(name: string, nparams: number, nlocals: number): void {
    this.end();
    this.open = { name, nparams, nlocals, entry: this.code.length };
  }
  private end(): void {
    const f = this.open;
    if (f) this.functions.push({ name: f.name, nparams: f.nparams, nlocals: f.nlocals, entry: f.entry, end: this.code.length });
    this.open = null;
  }
  module(name: string): ModuleDef {
    this.end();
    return { name, caps: [], functions: this.functions, code: Int32Array.from(this.code) };
  }
}

// Functions of the exercise module.
const F_ID = 1; // id(x) = x through a plain RET
const F_GET = 2; // LGET; RET
const F_ADD = 3; // ADD; RET
const F_DEEP = 4; // deep(n): recursion that grows the stack and the frames

/** The main exercise: every instruction form of the hot loop, twice, with t = 0 then 1 (both ways of each branch). */
function exercise(): ModuleDef {
  const a = new Asm();
  const T = 0;
  const X = 1;
  a.fn("main", 0, 3);
  a.emit(Op.PUSH, 64, Op.MGROW, Op.POP, Op.MSIZE, Op.POP, Op.NOP);
  const loop = a.pc;
  for (const x of VALUES) {
    a.emit(Op.PUSH, x, Op.LSET, X);
    for (const op of ARITH) a.emit(Op.PUSH, x, Op.PUSH, 5, op, Op.POP);
    for (const op of [...ARITH, ...CMPS]) a.emit(Op.LGET, X, Op.NOP, Op.LGET, T, Op.ADDI, 3, op, Op.POP);
    for (const op of [Op.NEG, Op.NOT, Op.EQZ]) a.emit(Op.PUSH, x, op, Op.POP, Op.LGET, T, op, Op.POP);
    a.emit(Op.PUSH, x, Op.DUP, Op.SWAP, Op.OVER, Op.POP, Op.POP, Op.ADDI, 5, Op.POP);
    // An instruction the scheduler runs.
    a.emit(Op.GASLEFT, Op.POP);
    a.emit(Op.LGET, X, Op.LTEE, 2, Op.POP, Op.LINC, 2, 1);
    // Fused forms: LGET LGET, LGET PUSH, LGET ADDI, LGET LOAD.
    a.emit(Op.LGET, X, Op.LGET, T, Op.ADD, Op.POP, Op.LGET, X, Op.PUSH, 2, Op.SUB, Op.POP);
    a.emit(Op.LGET, X, Op.ADDI, 9, Op.POP, Op.LGET, T, Op.LOAD, 3, Op.POP);
    // Compare-and-branch, plain and fused, taken or not depending on t.
    for (const cmp of CMPS) {
      for (const k of [0, 1]) {
        a.jump(Op.JZ, Op.LGET, T, Op.PUSH, k, cmp)();
        a.jump(Op.JZ, Op.PUSH, k, Op.LGET, T, cmp)();
      }
      a.jump(Op.JZ, Op.LGET, T, Op.LGET, X, cmp)();
      a.jump(Op.JZ, Op.LGET, X, Op.LGET, T, cmp)();
      a.jump(Op.JZ, Op.LGET, T, Op.LGET, T, cmp)();
      a.jump(Op.JZ, Op.LGET, X, Op.NOP, Op.LGET, T, cmp)();
    }
    a.jump(Op.JZ, Op.LGET, T)();
    a.jump(Op.JNZ, Op.LGET, T)();
    a.jump(Op.JMP)();
    // Memory: load, store, arrays, copy, fill.
    a.emit(Op.PUSH, 10, Op.LGET, X, Op.STORE, 1, Op.PUSH, 11, Op.LOAD, 0, Op.POP);
    a.emit(Op.PUSH, 20, Op.PUSH, 4, Op.STORE, 0, Op.PUSH, 20, Op.LGET, T, Op.LGET, X, Op.ASTORE);
    a.emit(Op.PUSH, 20, Op.LGET, T, Op.ALOAD, Op.POP);
    a.emit(Op.PUSH, 30, Op.PUSH, 10, Op.PUSH, 8, Op.MCOPY, Op.PUSH, 40, Op.LGET, X, Op.PUSH, 8, Op.MFILL);
    // Calls: plain, fused argument, fused returns, deep recursion.
    a.emit(Op.LGET, X, Op.CALL, F_ID, Op.POP, Op.LGET, T, Op.ADDI, 1, Op.CALL, F_ID, Op.POP);
    a.emit(Op.LGET, X, Op.CALL, F_GET, Op.POP, Op.LGET, X, Op.PUSH, 1, Op.CALL, F_ADD, Op.POP);
  }
  a.emit(Op.PUSH, 200, Op.CALL, F_DEEP, Op.POP);
  a.emit(Op.LINC, T, 1);
  a.emit(Op.LGET, T, Op.PUSH, 2, Op.LT, Op.JNZ, loop);
  a.emit(Op.LGET, X, Op.RET);
  a.fn("id", 1, 1);
  a.emit(Op.LGET, 0, Op.NOP, Op.RET);
  a.fn("get", 1, 1);
  a.emit(Op.LGET, 0, Op.RET);
  a.fn("add", 2, 3);
  a.emit(Op.LGET, 0, Op.NOP, Op.LGET, 1, Op.ADD, Op.RET);
  a.fn("deep", 1, 1);
  const base = a.jump(Op.JZ, Op.LGET, 0);
  a.emit(Op.LGET, 0, Op.ADDI, -1, Op.CALL, F_DEEP, Op.RET);
  base();
  a.emit(Op.PUSH, 0, Op.RET);
  return a.module("warmup");
}

/** Programs that stop on each way out of the hot loop: faults, and budgets that do not fit. */
function stops(): ModuleDef[] {
  const one = (...words: number[]): ModuleDef => {
    const a = new Asm();
    a.fn("main", 0, 2);
    a.emit(Op.PUSH, 8, Op.MGROW, Op.POP, ...words, Op.PUSH, 0, Op.RET);
    return a.module("warmup-stop");
  };
  const end = (...words: number[]): ModuleDef => {
    const a = new Asm();
    a.fn("main", 0, 0);
    a.emit(...words);
    return a.module("warmup-end");
  };
  const defs = [
    end(Op.PUSH, 1, Op.PUSH, 2, Op.ADD, Op.RET),
    end(Op.PUSH, 1, Op.NOP, Op.RET),
    one(Op.PUSH, 1, Op.PUSH, 0, Op.DIV),
    one(Op.PUSH, 1, Op.PUSH, 0, Op.REM),
    one(Op.PUSH, -0x80000000, Op.PUSH, -1, Op.REM, Op.PUSH, -0x80000000, Op.PUSH, -1, Op.DIV),
    one(Op.PUSH, 99, Op.LOAD, 0),
    one(Op.PUSH, 99, Op.PUSH, 1, Op.STORE, 0),
    one(Op.PUSH, 99, Op.LSET, 0, Op.LGET, 0, Op.LOAD, 0),
    one(Op.PUSH, 0, Op.PUSH, 5, Op.ALOAD),
    one(Op.PUSH, 99, Op.PUSH, 0, Op.PUSH, 1, Op.ASTORE),
    one(Op.PUSH, -1, Op.MGROW),
    one(Op.PUSH, 0x7fffffff, Op.MGROW),
    one(Op.PUSH, 0, Op.PUSH, 4, Op.PUSH, 99, Op.MCOPY),
    one(Op.PUSH, 0, Op.PUSH, 4, Op.PUSH, 99, Op.MFILL),
    one(Op.TRAP, 1),
  ];
  // Out of gas inside a fused pair and on a bulk instruction's extra gas; out of memory on a call.
  const spin = new Asm();
  spin.fn("main", 0, 1);
  const top = spin.pc;
  spin.emit(Op.LGET, 0, Op.LGET, 0, Op.ADD, Op.LSET, 0, Op.JMP, top);
  defs.push(spin.module("warmup-spin"));
  defs.push(one(Op.PUSH, 100000, Op.MGROW));
  const rec = new Asm();
  rec.fn("main", 0, 0);
  rec.emit(Op.CALL, 0, Op.RET);
  defs.push(rec.module("warmup-recurse"));
  return defs;
}

let warmed = false;

/** Runs the warm-up programs once per host process (later calls do nothing). */
export function warmUp(): void {
  if (warmed) return;
  warmed = true;
  const machine = new Machine();
  machine.run(machine.createRoot(verify(exercise()), 0, [], { gas: 1_000_000, mem: 100_000 }));
  const children = stops().map((def) => verify(def));
  for (const m of children) {
    const machine = new Machine();
    machine.run(machine.createRoot(m, 0, [], { gas: 20_000, mem: 4096 }));
  }
  // The same programs once more as the children of an evaluator, as candidates run.
  const layout: Layout = { inputs: 1, vector: false, scratch: 0, output: "int", stride: 2, outCap: 0, strings: [] };
  runBatch(children, encodeCases([{ input: [1], output: 0 }], layout.stride), { gas: 20_000, mem: 4096 }, layout);
}
