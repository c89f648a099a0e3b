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

import { verify, type Module, type ModuleDef } from "../src/index.js";
import { Machine, ModuleEmitter, Op, type FnEmitter } from "../src/internals.js";
import { compileGenome, type Layout } from "./compile.js";
import { encodeCases, runBatch } from "./evaluate.js";
import { G } from "./genome.js";

/** Values on both sides of V8's small-integer range, and negative ones. */
const VALUES = [3, -7, 0x40000005, -0x7ffffff0];
const ARITH = [Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.REM, Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR, Op.SHRU];
const CMPS = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE];

// Functions of the exercise module.
const F_ID = 1; // id(x) = x through a plain RET
const F_GET = 2; // LGET; RET
const F_ADD = 3; // ADD; RET
const F_DEEP = 4; // deep(n): recursion that grows the stack and the frames
const F_SCRATCH = 5; // scratch(x) = x through a local of its own (a call that zeroes fresh locals)

/** `before`, then a jump that lands on the next instruction (taken or not, control goes on there). */
function hop(f: FnEmitter, op: Op.JMP | Op.JZ | Op.JNZ, ...before: number[]): void {
  f.code(...before);
  const next = f.label();
  f.jump(op, next);
  f.bind(next);
}

/** The main exercise: every instruction form of the hot loop, twice, with t = 0 then 1 (both ways of each branch). */
function exerciseMain(f: FnEmitter): void {
  const T = 0;
  const X = 1;
  f.reserve(3);
  f.code(Op.PUSH, 64, Op.MGROW, Op.POP, Op.MSIZE, Op.POP, Op.NOP);
  const loop = f.here();
  // V8 collects no type feedback in a function's first calls: every form runs again in the loop.
  // MGROW past twice the memory's length (the host array doubles more than once).
  f.code(Op.MSIZE, Op.POP, Op.MSIZE, Op.ADDI, 300, Op.MGROW, Op.POP);
  for (const x of VALUES) {
    f.code(Op.PUSH, x, Op.LSET, X);
    for (const op of ARITH) f.code(Op.PUSH, x, Op.PUSH, 5, op, Op.POP);
    for (const op of [...ARITH, ...CMPS]) f.code(Op.LGET, X, Op.NOP, Op.LGET, T, Op.ADDI, 3, op, Op.POP);
    for (const op of [Op.NEG, Op.NOT, Op.EQZ]) f.code(Op.PUSH, x, op, Op.POP, Op.LGET, T, op, Op.POP);
    f.code(Op.PUSH, x, Op.DUP, Op.SWAP, Op.OVER, Op.POP, Op.POP, Op.ADDI, 5, Op.POP);
    // An instruction the scheduler runs.
    f.code(Op.GASLEFT, Op.POP);
    f.code(Op.LGET, X, Op.LTEE, 2, Op.POP, Op.LINC, 2, 1);
    // Fused forms: LGET LGET, LGET PUSH, LGET ADDI, LGET LOAD.
    f.code(Op.LGET, X, Op.LGET, T, Op.ADD, Op.POP, Op.LGET, X, Op.PUSH, 2, Op.SUB, Op.POP);
    f.code(Op.LGET, X, Op.ADDI, 9, Op.POP, Op.LGET, T, Op.LOAD, 3, Op.POP);
    // Compare-and-branch, plain and fused, taken or not depending on t.
    for (const cmp of CMPS) {
      for (const k of [0, 1]) {
        hop(f, Op.JZ, Op.LGET, T, Op.PUSH, k, cmp);
        hop(f, Op.JZ, Op.PUSH, k, Op.LGET, T, cmp);
      }
      hop(f, Op.JZ, Op.LGET, T, Op.LGET, X, cmp);
      hop(f, Op.JZ, Op.LGET, X, Op.LGET, T, cmp);
      hop(f, Op.JZ, Op.LGET, T, Op.LGET, T, cmp);
      hop(f, Op.JZ, Op.LGET, X, Op.NOP, Op.LGET, T, cmp);
    }
    hop(f, Op.JZ, Op.LGET, T);
    hop(f, Op.JNZ, Op.LGET, T);
    // The same branches plain (LGET JZ and LGET JNZ are fused).
    hop(f, Op.JZ, Op.LGET, T, Op.NOP);
    hop(f, Op.JNZ, Op.LGET, T, Op.NOP);
    hop(f, Op.JMP);
    // Memory: load (fused with its PUSH, and plain), store, arrays, copy, fill.
    f.code(Op.PUSH, 10, Op.LGET, X, Op.STORE, 1, Op.PUSH, 11, Op.LOAD, 0, Op.POP, Op.PUSH, 11, Op.NOP, Op.LOAD, 0, Op.POP);
    f.code(Op.PUSH, 20, Op.PUSH, 4, Op.STORE, 0, Op.PUSH, 20, Op.LGET, T, Op.LGET, X, Op.ASTORE);
    f.code(Op.PUSH, 20, Op.LGET, T, Op.ALOAD, Op.POP);
    f.code(Op.PUSH, 30, Op.PUSH, 10, Op.PUSH, 8, Op.MCOPY, Op.PUSH, 40, Op.LGET, X, Op.PUSH, 8, Op.MFILL);
    // Calls: plain, fused argument, fused returns, deep recursion.
    f.code(Op.LGET, X, Op.CALL, F_ID, Op.POP, Op.LGET, T, Op.ADDI, 1, Op.CALL, F_ID, Op.POP);
    f.code(Op.LGET, X, Op.CALL, F_GET, Op.POP, Op.LGET, X, Op.PUSH, 1, Op.CALL, F_ADD, Op.POP);
    f.code(Op.LGET, X, Op.CALL, F_SCRATCH, Op.POP, Op.LGET, T, Op.ADDI, 1, Op.CALL, F_SCRATCH, Op.POP);
  }
  f.code(Op.PUSH, 200, Op.CALL, F_DEEP, Op.POP);
  f.code(Op.LINC, T, 1);
  f.code(Op.LGET, T, Op.PUSH, 2, Op.LT);
  f.jump(Op.JNZ, loop);
  f.code(Op.LGET, X, Op.RET);
}

function exercise(): ModuleDef {
  const m = new ModuleEmitter();
  m.declare("main", 0, exerciseMain);
  m.declare("id", 1, (f) => f.code(Op.LGET, 0, Op.NOP, Op.RET));
  m.declare("get", 1, (f) => f.code(Op.LGET, 0, Op.RET));
  m.declare("add", 2, (f) => {
    f.reserve(3);
    f.code(Op.LGET, 0, Op.NOP, Op.LGET, 1, Op.ADD, Op.RET);
  });
  m.declare("deep", 1, (f) => {
    const base = f.label();
    f.code(Op.LGET, 0);
    f.jump(Op.JZ, base);
    f.code(Op.LGET, 0, Op.ADDI, -1, Op.CALL, F_DEEP, Op.RET);
    f.bind(base);
    f.code(Op.PUSH, 0, Op.RET);
  });
  m.declare("scratch", 1, (f) => {
    f.reserve(3);
    f.code(Op.LGET, 0, Op.LSET, 2, Op.LGET, 2, Op.RET);
  });
  return m.build("warmup");
}

/** A module of one function `main` with `nlocals` locals, generated by `body`. */
function program(name: string, nlocals: number, body: (f: FnEmitter) => void): ModuleDef {
  const m = new ModuleEmitter();
  m.declare("main", 0, (f) => {
    f.reserve(nlocals);
    body(f);
  });
  return m.build(name);
}

/** Programs that stop on each way out of the hot loop: faults, and budgets that do not fit. */
function stops(): ModuleDef[] {
  const one = (...words: number[]): ModuleDef => program("warmup-stop", 2, (f) => f.code(Op.PUSH, 8, Op.MGROW, Op.POP, ...words, Op.PUSH, 0, Op.RET));
  const end = (...words: number[]): ModuleDef => program("warmup-end", 0, (f) => f.code(...words));
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
  defs.push(
    program("warmup-spin", 1, (f) => {
      const top = f.here();
      f.code(Op.LGET, 0, Op.LGET, 0, Op.ADD, Op.LSET, 0);
      f.jump(Op.JMP, top);
    }),
  );
  defs.push(one(Op.PUSH, 100000, Op.MGROW));
  defs.push(program("warmup-recurse", 0, (f) => f.code(Op.CALL, 0, Op.RET)));
  return defs;
}

/**
 * Candidates of the shapes the GP compiler emits (compile.ts), whose fused
 * forms no hand-written program above uses: the prologue that reads inputs
 * into locals and grows memory to the output area, printing (digits, and
 * characters until the output area is full), a vector output's appends, and
 * recursion that runs the prologue again until the budget ends.
 */
function candidates(): { layout: Layout; module: Module }[] {
  const text: Layout = { inputs: 2, vector: false, scratch: 1, output: "string", stride: 3, outCap: 6, strings: ["ab"] };
  const vector: Layout = { ...text, output: "vector" };
  const printing = [G.Get, 0, G.PrintI, 0, G.Get, 1, G.PrintC, 0, G.PrintS, 0, G.Push, -12, G.PrintI, 0, G.Push, 0x40000005, G.PrintI, 0, G.Push, -0x7ffffff0, G.PrintI, 0, G.Push, -0x80000000, G.PrintI, 0, G.Get, 0, G.Get, 1, G.Op, Op.LT, G.If, 0, G.Recurse, 0, G.End, 0];
  const appending = [G.OutNew, 0, G.Get, 0, G.OutV, 0, G.Get, 1, G.OutV, 0, G.Recurse, 0];
  return [
    { layout: text, module: verify(compileGenome(Int32Array.from(printing), text, "warmup-print")) },
    { layout: vector, module: verify(compileGenome(Int32Array.from(appending), vector, "warmup-append")) },
  ];
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
  for (const { layout, module } of candidates())
    runBatch([module], encodeCases([{ input: [1, 2], output: "" }, { input: [5, -3], output: "" }], layout.stride), { gas: 20_000, mem: 1 << 16 }, layout);
}
