// Running candidates inside rar's own process tree. For a batch of verified
// candidate modules we generate an evaluator module that links them all
// (untrusted imports) and, for every candidate and every case, spawns a child
// with SPAWNX under its own gas and memory limits, RESUMEs it, records its
// status, result, gas and memory footprint (and its output area for string
// problems) in the evaluator's memory, and KILLs it. The evaluator is the root
// of a fresh Machine; the host only lays out the cases beforehand and reads the
// result records afterwards. A candidate that loops, allocates or recurses
// without bound stops out_of_gas / out_of_mem / fault in its own child, is
// recorded, and costs exactly its budget: nothing else happens.

import { Machine } from "../process/scheduler.js";
import { describeFault } from "../process/report.js";
import { PROCESS_WORDS } from "../process/process.js";
import { MODULE_LIMITS, type Module, type ModuleDef } from "../vm/module.js";
import { GAS, Op, StatusCode, bulkGas } from "../vm/opcodes.js";
import { verify } from "../vm/verify.js";
import type { Layout } from "./compile.js";
import type { Case, Problem } from "./problems.js";
import { boolError, codePoints, intError, stringError } from "./score.js";

/** Candidates per evaluator module at most: one link each. */
export const BATCH = MODULE_LIMITS.links;

/** Largest gas limit of one evaluation (so 16 x gas words of MGROW stay measurable, see runBatch). */
export const MAX_EVAL_GAS = 2 ** 26;
/** Largest memory limit of one evaluation, in words. */
export const MAX_EVAL_MEM = 2 ** 29;

// The evaluator measures gas and memory with GASLEFT / MEMLEFT, which saturate
// at 2^31 - 1, so its headroom must stay below that. It must also stay above
// anything one child instruction can ask for, so that a request that does not
// fit stops the child that made it, never the evaluator (DESIGN §2: the
// shallowest process lacking the budget stops): MGROW of n words needs
// n / 16 gas (at most 2^27) and, once its gas fits the child, n <= 16 x the
// child's gas words of memory.
const GAS_FLOOR = 2 ** 28;
const GAS_WINDOW = 2 ** 31 - 1 - GAS_FLOOR - 2 ** 20;

/** Limits of one evaluation (one program on one case). */
export interface Budget {
  readonly gas: number;
  readonly mem: number;
}

/** Cases laid out as the children see them: block i at words[i * stride], [len, inputs...]. */
export interface CaseBlock {
  readonly words: Int32Array;
  readonly count: number;
  readonly stride: number;
  /** Expected outputs: ints, or code points for string problems. */
  readonly expected: readonly (number | readonly number[])[];
}

export function encodeCases(cases: readonly Case[], stride: number): CaseBlock {
  const words = new Int32Array(cases.length * stride);
  cases.forEach((c, i) => {
    words[i * stride] = c.input.length;
    for (let j = 0; j < c.input.length; j++) words[i * stride + 1 + j] = c.input[j];
  });
  const expected = cases.map((c) => (typeof c.output === "string" ? codePoints(c.output) : c.output));
  return { words, count: cases.length, stride, expected };
}

// Evaluator memory: a header word (its memory headroom with no child alive),
// the case blocks, then one record per (candidate, case).
const HEADER = 1;
/** Record words: status, result, gas (the evaluator's GASLEFT delta, then the child's gas), memory (MEMLEFT while the child is alive, then its footprint). */
const R_STATUS = 0;
const R_VALUE = 1;
const R_GAS = 2;
const R_MEM = 3;
const R_OUT = 4;

// Evaluator locals.
const L_LEFT = 0; // cases left
const L_CASE = 1; // case block pointer
const L_REC = 2; // record pointer
const L_H = 3; // child handle
const L_GAS = 4; // GASLEFT before the spawn
const L_ST = 5; // child status
const N_LOCALS = 6;

/** Instructions charged between the two GASLEFT reads besides the child's own work (see evaluatorCode). */
const MEASURE_OPS = [Op.LSET, Op.LGET, Op.PUSH, Op.PUSH, Op.PUSH, Op.PUSH, Op.PUSH, Op.SPAWNX, Op.LTEE, Op.RESUME, Op.LSET, Op.LGET, Op.LGET, Op.GASLEFT];

function recordWords(l: Layout): number {
  return l.output === "string" ? R_OUT + 1 + l.outCap : R_OUT;
}

function evaluatorCode(k: number, block: CaseBlock, budget: Budget, l: Layout): number[] {
  const rec = recordWords(l);
  const resBase = HEADER + block.words.length;
  const c: number[] = [];
  const emit = (...w: number[]): void => void c.push(...w);
  emit(Op.PUSH, 0, Op.MEMLEFT, Op.STORE, 0);
  for (let cand = 0; cand < k; cand++) {
    emit(Op.PUSH, block.count, Op.LSET, L_LEFT, Op.PUSH, HEADER, Op.LSET, L_CASE);
    emit(Op.PUSH, resBase + cand * block.count * rec, Op.LSET, L_REC);
    const head = c.length;
    emit(Op.LGET, L_LEFT, Op.JZ, -1);
    const toNext = c.length - 1;
    // From here to the second GASLEFT: exactly MEASURE_OPS plus the child's work.
    emit(Op.GASLEFT, Op.LSET, L_GAS);
    emit(Op.LGET, L_CASE, Op.PUSH, block.stride, Op.PUSH, budget.gas, Op.PUSH, budget.mem, Op.PUSH, 0, Op.PUSH, 0);
    emit(Op.SPAWNX, cand, 0, Op.LTEE, L_H, Op.RESUME, Op.LSET, L_ST);
    emit(Op.LGET, L_REC, Op.LGET, L_GAS, Op.GASLEFT, Op.SUB, Op.STORE, R_GAS);
    emit(Op.LGET, L_REC, Op.LGET, L_ST, Op.STORE, R_STATUS);
    emit(Op.LGET, L_REC, Op.MEMLEFT, Op.STORE, R_MEM);
    emit(Op.LGET, L_ST, Op.PUSH, StatusCode.DONE, Op.NE, Op.JNZ, -1);
    const toKill = c.length - 1;
    emit(Op.LGET, L_REC, Op.LGET, L_H, Op.RESULT, Op.STORE, R_VALUE);
    if (l.output === "string")
      emit(Op.LGET, L_H, Op.PUSH, block.stride, Op.LGET, L_REC, Op.ADDI, R_OUT, Op.PUSH, 1 + l.outCap, Op.CLOAD);
    c[toKill] = c.length;
    emit(Op.LGET, L_H, Op.KILL);
    emit(Op.LINC, L_LEFT, -1, Op.LINC, L_CASE, block.stride, Op.LINC, L_REC, rec, Op.JMP, head);
    c[toNext] = c.length;
  }
  emit(Op.PUSH, 0, Op.RET);
  return c;
}

/** Gas per evaluation the evaluator spends besides the child's own (an upper bound). */
function evalOverhead(block: CaseBlock, l: Layout): number {
  return 80 + bulkGas(block.stride) + bulkGas(1 + l.outCap);
}

/** Result records of one batch. */
export interface BatchResult {
  /**
   * Records, candidate-major: ((k * count) + case) * rec: status, result,
   * gas the child used, its memory footprint when it stopped, then (string
   * problems) the output area.
   */
  readonly words: Int32Array;
  readonly rec: number;
  readonly count: number;
}

/**
 * Runs every module on every case, each evaluation in its own child process
 * under `budget`. At most BATCH modules, and modules x cases x (gas +
 * overhead) must fit the evaluator's measuring window (evaluateAll splits the
 * work so); each must be a verified module whose function 0 takes no
 * parameters.
 */
export function runBatch(modules: readonly Module[], block: CaseBlock, budget: Budget, l: Layout): BatchResult {
  const evals = modules.length * block.count;
  const need = evals * (budget.gas + evalOverhead(block, l));
  if (modules.length > BATCH || need > GAS_WINDOW || budget.gas > MAX_EVAL_GAS || budget.mem > MAX_EVAL_MEM)
    throw new Error(`internal: batch of ${modules.length} x ${block.count} evaluations does not fit the evaluator`);
  const rec = recordWords(l);
  const code = Int32Array.from(evaluatorCode(modules.length, block, budget, l));
  const def: ModuleDef = {
    name: "gp-evaluator",
    caps: [],
    functions: [{ name: "main", nparams: 0, nlocals: N_LOCALS, entry: 0, end: code.length }],
    code,
    links: modules.map((m) => m.digest),
  };
  const evaluator = verify(def);
  const machine = new Machine();
  for (const m of modules) machine.intern(m);
  const memWords = HEADER + block.words.length + evals * rec;
  const memory = new Int32Array(memWords);
  memory.set(block.words, HEADER);
  const memHeadroom = budget.mem + 16 * budget.gas + 4096;
  const root = machine.createRoot(
    evaluator,
    0,
    [],
    { gas: need + 2 ** 16 + GAS_FLOOR, mem: PROCESS_WORDS + memWords + evaluator.frameCost[0] + memHeadroom },
    [],
    memory,
  );
  machine.run(root);
  if (root.status !== StatusCode.DONE)
    throw new Error(`internal: the evaluator stopped ${root.statusName}${root.faultKind ? `: ${describeFault(root)}` : ""}`);
  let overhead = bulkGas(block.stride);
  for (const op of MEASURE_OPS) overhead += GAS[op];
  const memBase = root.mem[0];
  const words = root.mem.subarray(HEADER + block.words.length, memWords);
  for (let o = 0; o < words.length; o += rec) {
    words[o + R_GAS] -= overhead;
    words[o + R_MEM] = memBase - words[o + R_MEM];
  }
  return { words, rec, count: block.count };
}

/** Some cases of a block (by index), as a block of their own. */
export function selectCases(b: CaseBlock, idx: readonly number[]): CaseBlock {
  const words = new Int32Array(idx.length * b.stride);
  idx.forEach((c, i) => words.set(b.words.subarray(c * b.stride, (c + 1) * b.stride), i * b.stride));
  return { words, count: idx.length, stride: b.stride, expected: idx.map((c) => b.expected[c]) };
}

/** Cases [from, to) of a block, as a block of their own. */
function sliceBlock(b: CaseBlock, from: number, to: number): CaseBlock {
  return { words: b.words.subarray(from * b.stride, to * b.stride), count: to - from, stride: b.stride, expected: b.expected.slice(from, to) };
}

/** Runs any number of modules on a block, in batches and case chunks that fit the evaluator; records as one BatchResult. */
export function runAll(modules: readonly Module[], block: CaseBlock, budget: Budget, l: Layout): BatchResult {
  const rec = recordWords(l);
  const perEval = budget.gas + evalOverhead(block, l);
  const chunk = Math.max(1, Math.min(block.count, Math.floor(GAS_WINDOW / perEval)));
  const per = Math.max(1, Math.min(BATCH, Math.floor(GAS_WINDOW / (chunk * perEval))));
  const words = new Int32Array(modules.length * block.count * rec);
  for (let k0 = 0; k0 < modules.length; k0 += per) {
    const batch = modules.slice(k0, k0 + per);
    for (let c0 = 0; c0 < block.count; c0 += chunk) {
      const c1 = Math.min(block.count, c0 + chunk);
      const r = runBatch(batch, sliceBlock(block, c0, c1), budget, l);
      for (let k = 0; k < batch.length; k++)
        words.set(r.words.subarray(k * r.count * rec, (k + 1) * r.count * rec), ((k0 + k) * block.count + c0) * rec);
    }
  }
  return { words, rec, count: block.count };
}

/** How one candidate did on a set of cases. */
export interface Outcome {
  readonly errors: Float64Array;
  readonly total: number;
  /** Gas used, summed over cases (a stopped case counts what it used: its whole budget for out_of_gas). */
  readonly gas: number;
  /** Memory footprint when each case stopped, summed over cases, in words. */
  readonly mem: number;
  /** Per-case gas + memory, for resource pressure. */
  readonly cost: Float64Array;
  /** Cases that did not finish: fault, out of gas, out of memory. */
  readonly stopped: { fault: number; out_of_gas: number; out_of_mem: number };
}

/** An outcome for a genome that never ran (its module did not verify). */
export function failedOutcome(count: number, penalty: number): Outcome {
  const errors = new Float64Array(count).fill(penalty);
  return { errors, total: penalty * count, gas: 0, mem: 0, cost: new Float64Array(count), stopped: { fault: count, out_of_gas: 0, out_of_mem: 0 } };
}

/** Scores candidate k of a batch against the expected outputs. */
export function scoreCandidate(r: BatchResult, k: number, block: CaseBlock, problem: Problem, memWeight: number): Outcome {
  const errors = new Float64Array(r.count);
  const cost = new Float64Array(r.count);
  const stopped = { fault: 0, out_of_gas: 0, out_of_mem: 0 };
  const kind = problem.layout.output;
  const penalty = problem.penalty;
  const w = r.words;
  let total = 0;
  let gas = 0;
  let mem = 0;
  for (let i = 0; i < r.count; i++) {
    const o = (k * r.count + i) * r.rec;
    const status = w[o + R_STATUS];
    const g = w[o + R_GAS];
    const m = w[o + R_MEM];
    gas += g;
    mem += m;
    cost[i] = g + memWeight * m;
    let e = penalty;
    if (status === StatusCode.DONE) {
      const want = block.expected[i];
      if (kind === "string") {
        const n = Math.max(0, Math.min(w[o + R_OUT], problem.layout.outCap));
        e = stringError(want as readonly number[], Array.from(w.subarray(o + R_OUT + 1, o + R_OUT + 1 + n)), penalty);
      } else if (kind === "bool") e = boolError(want as number, w[o + R_VALUE]);
      else e = intError(want as number, w[o + R_VALUE], penalty);
    } else if (status === StatusCode.FAULT) stopped.fault++;
    else if (status === StatusCode.OUT_OF_GAS) stopped.out_of_gas++;
    else stopped.out_of_mem++;
    errors[i] = e;
    total += e;
  }
  return { errors, total, gas, mem, cost, stopped };
}

/** What candidate k printed or returned on case i (for reports). */
export function outputOf(r: BatchResult, k: number, i: number, l: Layout): string {
  const o = (k * r.count + i) * r.rec;
  const status = r.words[o + R_STATUS];
  if (status !== StatusCode.DONE) return ["ready", "done", "fault", "out_of_gas", "out_of_mem", "yielded", "cap_call"][status] ?? "?";
  if (l.output !== "string") return String(r.words[o + R_VALUE]);
  const n = Math.max(0, Math.min(r.words[o + R_OUT], l.outCap));
  return JSON.stringify(String.fromCodePoint(...Array.from(r.words.subarray(o + R_OUT + 1, o + R_OUT + 1 + n)).map((c) => (c >= 0 && c <= 0x10ffff ? c : 0xfffd))));
}

/**
 * Evaluates modules (null = did not verify: never run) on a case block.
 * Identical modules (same digest) run once. Returns outcomes in input order
 * and the number of evaluations actually run.
 */
export function evaluateAll(
  modules: readonly (Module | null)[],
  block: CaseBlock,
  problem: Problem,
  budget: Budget,
  memWeight: number,
): { outcomes: Outcome[]; evaluations: number } {
  const unique: Module[] = [];
  const slot = new Map<string, number>();
  const index = modules.map((m) => {
    if (!m) return -1;
    let s = slot.get(m.digest);
    if (s === undefined) {
      s = unique.length;
      slot.set(m.digest, s);
      unique.push(m);
    }
    return s;
  });
  const r = runAll(unique, block, budget, problem.layout);
  const scored = unique.map((_, k) => scoreCandidate(r, k, block, problem, memWeight));
  const failed = failedOutcome(block.count, problem.penalty);
  return {
    outcomes: index.map((s) => (s < 0 ? failed : scored[s])),
    evaluations: unique.length * block.count,
  };
}
