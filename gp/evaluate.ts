// Running candidates inside rar's own process tree. For a batch of verified
// candidate modules and a block of cases, every candidate runs on every case
// as a child process of an evaluator process, under its own gas and memory
// limits and with no capabilities: the harness spawns it (Machine.spawnChild,
// what SPAWNX does; for each case after the first it starts the same child
// over, Machine.respawnChild, what a kill and a spawn give), runs it until it
// stops (Machine.run of the child), reads its status, result, gas, memory
// footprint and output area from the VM's own meters, and after the last
// case kills it (Machine.killChild, what KILL does; the next spawn reuses its
// host buffers). A candidate that loops, allocates or recurses
// without bound stops out_of_gas / out_of_mem / fault in its own child, is
// recorded, and costs exactly its budget: nothing else happens.

import { verify, type Module } from "../src/index.js";
import { Machine, ModuleEmitter, Op, type Process, StatusCode, newFloats } from "../src/internals.js";
import { hasOutArea, secondAt, type Layout } from "./compile.js";
import type { Case, Problem } from "./problems.js";
import { boolError, codePoints, exactError, intError, outputsError, stringError, vectorError } from "./score.js";

/** Largest gas limit of one evaluation. */
export const MAX_EVAL_GAS = 2 ** 26;
/** Largest memory limit of one evaluation, in words. */
export const MAX_EVAL_MEM = 2 ** 29;

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
  /** Expected outputs: ints, code points for string problems, elements (or the integers) for vector (ints) problems. */
  readonly expected: readonly (number | readonly number[])[];
}

/** Lays out cases as blocks of `stride` words: [len, inputs...], and a second input where secondAt puts it. */
export function encodeCases(cases: readonly Case[], stride: number): CaseBlock {
  const words = new Int32Array(cases.length * stride);
  cases.forEach((c, i) => {
    words[i * stride] = c.input.length;
    for (let j = 0; j < c.input.length; j++) words[i * stride + 1 + j] = c.input[j];
    const s = c.second;
    if (typeof s === "number") words[i * stride + secondAt(stride, "int")] = s;
    else if (s !== undefined) {
      const at = i * stride + secondAt(stride, "vector");
      words[at] = s.length;
      for (let j = 0; j < s.length; j++) words[at + 1 + j] = s[j];
    }
  });
  const expected = cases.map((c) => (typeof c.output === "string" ? codePoints(c.output) : c.output));
  return { words, count: cases.length, stride, expected };
}

/**
 * Record words: status, result (of a finished child, else 0), the gas the
 * child used, its memory footprint when it stopped, then the output area of
 * string, vector and several-integer problems (hasOutArea; a finished
 * child's, else zeros).
 */
const R_STATUS = 0;
const R_VALUE = 1;
const R_GAS = 2;
const R_MEM = 3;
const R_OUT = 4;

function recordWords(l: Layout): number {
  return hasOutArea(l) ? R_OUT + 1 + l.outCap : R_OUT;
}

/**
 * The evaluator process: the parent of every child, a root that never runs
 * (its code only returns). Its limits hold any child's: a request that does
 * not fit stops the child that made it, never the evaluator (DESIGN §2: the
 * shallowest process lacking the budget stops).
 */
let holder: Module | null = null;

function evaluatorModule(): Module {
  if (holder === null) {
    const m = new ModuleEmitter();
    m.declare("main", 0, (f) => f.code(Op.PUSH, 0, Op.RET));
    holder = verify(m.build("gp-evaluator"));
  }
  return holder;
}

/** Result records of one batch. */
export interface BatchResult {
  /**
   * Records, candidate-major: ((k * count) + case) * rec: status, result,
   * gas the child used, its memory footprint when it stopped, then (string,
   * vector and several-integer problems) the output area.
   */
  readonly words: Int32Array;
  readonly rec: number;
  readonly count: number;
}

/**
 * Runs every module on every case, each evaluation in its own child process
 * under `budget`; each must be a verified module whose function 0 takes no
 * parameters.
 */
export function runBatch(
  modules: readonly Module[],
  block: CaseBlock,
  budget: Budget,
  l: Layout,
  /** Where to put the records (every word of them is written): into a larger result, from candidate `candidate` on. */
  out?: { words: Int32Array; count: number; candidate: number },
): BatchResult {
  if (budget.gas > MAX_EVAL_GAS || budget.mem > MAX_EVAL_MEM || out?.count !== undefined && out.count !== block.count)
    throw new Error(`internal: batch of ${modules.length} x ${block.count} evaluations under gas ${budget.gas}, memory ${budget.mem}`);
  const rec = recordWords(l);
  const words = out?.words ?? new Int32Array(modules.length * block.count * rec);
  const machine = new Machine({ recycle: true });
  // Room for any child (a child's footprint never exceeds its own limit), and gas for as long as any batch runs.
  const evaluator = machine.createRoot(evaluatorModule(), 0, [], { gas: Number.MAX_SAFE_INTEGER, mem: Number.MAX_SAFE_INTEGER });
  const limits = { gas: budget.gas, mem: budget.mem };
  let o = (out?.candidate ?? 0) * block.count * rec;
  for (const m of modules) {
    // One child per module, started over for each case after the first (what a kill and a spawn give).
    let child: Process | null = null;
    for (let at = 0, end = block.count * block.stride; at < end; at += block.stride, o += rec) {
      if (child === null) child = machine.spawnChild(evaluator, m, 0, block.words, at, block.stride, limits);
      else machine.respawnChild(child, block.words, at, block.stride);
      machine.run(child);
      record(child, words, o, l, block.stride);
    }
    if (child !== null) machine.killChild(child);
  }
  return { words, rec, count: block.count };
}

/** A stopped child's record at words[o]: its status, result, gas, footprint and (finished, hasOutArea) output area. */
function record(child: Process, words: Int32Array, o: number, l: Layout, stride: number): void {
  const status = child.status;
  const done = status === StatusCode.DONE;
  words[o + R_STATUS] = status;
  words[o + R_VALUE] = done ? child.value : 0;
  words[o + R_GAS] = child.gasUsed;
  words[o + R_MEM] = child.memUsed;
  if (!hasOutArea(l)) return;
  const n = 1 + l.outCap;
  if (!done) {
    for (let j = 0; j < n; j++) words[o + R_OUT + j] = 0;
    return;
  }
  if (child.memSize < stride + n) throw new Error(`internal: a finished child's memory (${child.memSize} words) holds no output area`);
  const mem = child.mem;
  for (let j = 0; j < n; j++) words[o + R_OUT + j] = mem[stride + j];
}

/** Some cases of a block (by index), as a block of their own. */
export function selectCases(b: CaseBlock, idx: readonly number[]): CaseBlock {
  const words = new Int32Array(idx.length * b.stride);
  idx.forEach((c, i) => words.set(b.words.subarray(c * b.stride, (c + 1) * b.stride), i * b.stride));
  return { words, count: idx.length, stride: b.stride, expected: idx.map((c) => b.expected[c]) };
}

/**
 * Result records held at once, in words (unless one candidate's need more):
 * this bounds the host memory of a generation's evaluation, and keeps the
 * records in the CPU's cache while they are written, read and scored. At the
 * faithful settings of smallest (100 cases, 30-word records) that is 13
 * candidates a group.
 */
const RECORDS_PER_BATCH = 40_000;

/**
 * The records array of a group, kept from group to group by length: a fresh
 * array of some 40,000 words costs more than settling a thousand evaluations
 * (the allocator zeroes new pages and the collector counts them as outside
 * memory). Every record of it is written again (runBatch).
 */
const groupRecords = new Map<number, Int32Array>();

function recordsOf(n: number): Int32Array {
  let a = groupRecords.get(n);
  if (a === undefined) {
    if (groupRecords.size >= 4) groupRecords.clear();
    a = new Int32Array(n);
    groupRecords.set(n, a);
  }
  return a;
}

/**
 * Runs any number of modules on a block; `each` sees the records of every
 * group of candidates, in order (valid during that call only: the next group
 * reuses the array).
 */
export function runAll(
  modules: readonly Module[],
  block: CaseBlock,
  budget: Budget,
  l: Layout,
  each: (r: BatchResult, first: number, count: number) => void,
): void {
  const rec = recordWords(l);
  const per = Math.max(1, Math.min(modules.length, Math.floor(RECORDS_PER_BATCH / Math.max(1, block.count * rec))));
  for (let k0 = 0; k0 < modules.length; k0 += per) {
    const group = modules.slice(k0, k0 + per);
    const words = recordsOf(group.length * block.count * rec);
    each(runBatch(group, block, budget, l, { words, count: block.count, candidate: 0 }), k0, group.length);
  }
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

/** Scores candidate k of a batch against the expected outputs, into `errors` and `cost` (r.count entries each, every one written). */
export function scoreCandidate(
  r: BatchResult,
  k: number,
  block: CaseBlock,
  problem: Problem,
  memWeight: number,
  errors = newFloats(r.count),
  cost = newFloats(r.count),
): Outcome {
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
        e = problem.exact
          ? exactError(want as readonly number[], w, o + R_OUT + 1, n)
          : stringError(want as readonly number[], Array.from(w.subarray(o + R_OUT + 1, o + R_OUT + 1 + n)), penalty);
      } else if (kind === "vector") {
        // The count word is 1 + the length; 0 (or less): the program never wrote a vector (no output: the penalty).
        const n = Math.min(w[o + R_OUT] - 1, problem.layout.outCap);
        if (n >= 0) e = vectorError(want as readonly number[], Array.from(w.subarray(o + R_OUT + 1, o + R_OUT + 1 + n)), problem.vectorError ?? "levenshtein", penalty);
      } else if (kind === "ints") {
        const want2 = want as readonly number[];
        e = outputsError(want2, w[o + R_OUT], w, o + R_OUT + 1, penalty / want2.length);
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
  if (!hasOutArea(l)) return String(r.words[o + R_VALUE]);
  if (l.output === "vector") {
    const n = Math.min(r.words[o + R_OUT] - 1, l.outCap);
    return n < 0 ? "no output" : JSON.stringify(Array.from(r.words.subarray(o + R_OUT + 1, o + R_OUT + 1 + n)));
  }
  if (l.output === "ints") {
    const set = r.words[o + R_OUT];
    return Array.from({ length: l.outCap }, (_, k) => ((set >> k) & 1 ? String(r.words[o + R_OUT + 1 + k]) : "-")).join(" ");
  }
  const n = Math.max(0, Math.min(r.words[o + R_OUT], l.outCap));
  // One code point at a time: spreading a long output into fromCodePoint overflows the call's arguments.
  let text = "";
  for (const c of r.words.subarray(o + R_OUT + 1, o + R_OUT + 1 + n)) text += String.fromCodePoint(c >= 0 && c <= 0x10ffff ? c : 0xfffd);
  return JSON.stringify(text);
}

/** FNV-1a over the words, kept to a small integer (a Map key without boxing). */
export function hashWords(a: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i], 0x01000193);
  return h & 0x3fffffff;
}

export function sameWords(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Evaluates modules (null = did not verify: never run) on a case block.
 * Identical modules (same digest) run once. Returns outcomes in input order
 * and the number of evaluations actually run. A module listed again as the
 * same object is found by identity, and two objects are compared by digest
 * only when their code is the same: GpRun gives one object per code, so a
 * run never encodes and hashes its candidates to find the identical ones.
 */
export function evaluateAll(
  modules: readonly (Module | null)[],
  block: CaseBlock,
  problem: Problem,
  budget: Budget,
  memWeight: number,
): { outcomes: Outcome[]; evaluations: number } {
  const unique: Module[] = [];
  const slot = new Map<Module, number>();
  const byCode = new Map<number, number[]>();
  const index = modules.map((m) => {
    if (!m) return -1;
    let s = slot.get(m);
    if (s !== undefined) return s;
    const h = hashWords(m.code);
    const same = byCode.get(h);
    s = same?.find((u) => sameWords(unique[u].code, m.code) && unique[u].digest === m.digest);
    if (s === undefined) {
      s = unique.length;
      unique.push(m);
      if (same) same.push(s);
      else byCode.set(h, [s]);
    }
    slot.set(m, s);
    return s;
  });
  const scored: Outcome[] = [];
  // Errors and costs are carved from slabs (newFloats): a typed array with a buffer of its own
  // costs microseconds to make and collect, as much as some of the evaluations it records.
  const n = block.count;
  runAll(unique, block, budget, problem.layout, (r, _first, count) => {
    for (let k = 0; k < count; k++) scored.push(scoreCandidate(r, k, block, problem, memWeight, newFloats(n), newFloats(n)));
  });
  const failed = failedOutcome(block.count, problem.penalty);
  return {
    outcomes: index.map((s) => (s < 0 ? failed : scored[s])),
    evaluations: unique.length * block.count,
  };
}
