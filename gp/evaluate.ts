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

import { verify, type Module, type ModuleDef } from "../src/index.js";
import { Machine, MODULE_LIMITS, ModuleEmitter, Op, PROCESS_WORDS, StatusCode, describeFault } from "../src/internals.js";
import { hasOutArea, secondAt, type Layout } from "./compile.js";
import type { Case, Problem } from "./problems.js";
import { boolError, codePoints, exactError, intError, outputsError, stringError, vectorError } from "./score.js";

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

// Evaluator memory: a header (its memory headroom with no child alive), the
// case blocks, then per candidate a start word (GASLEFT before its first case)
// followed by one record per case.
const G_MEMBASE = 0;
const HEADER = 1;
/**
 * Record words: status, result, gas (GASLEFT right after the child stopped;
 * runBatch turns it into the child's gas), memory (MEMLEFT while the child is
 * alive; runBatch turns it into the child's footprint), then the output area
 * of string, vector and several-integer problems (hasOutArea).
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
 * The evaluator's own gas between two consecutive GASLEFT reads, besides the
 * child's work, from the gas table. Before case i of a candidate it is
 * `start` (i = 0) or `again` plus what was spent after reading case i - 1
 * (`tailDone` if that child finished, else `tailStopped`), plus what is spent
 * before reading case i (`headDone` if this child finished, else
 * `headStopped`).
 */
interface Overheads {
  start: number;
  again: number;
  headDone: number;
  headStopped: number;
  tailDone: number;
  tailStopped: number;
}

// Function indices of the evaluator.
const F_BEGIN = 1;
const F_FINISH = 2;
// Locals of main: the handle of the newest child, and where its record goes.
const L_HANDLE = 0;
const L_RECORD = 1;
// Locals of finish.
const L_CASE = 0;
const L_STATUS = 1;
const L_CHILD = 2;
const L_REC = 3;
const L_VALUE = 4;
const L_GAS = 5;
const L_MEM = 6;

/**
 * The evaluator module (linking `links`, one per candidate). Per candidate k,
 * main holds only the loop that spawns and resumes a child per case (SPAWNX
 * k): `begin` stores the start word and returns the first case block;
 * `finish(block, status, h, record)` records the child, kills it and returns
 * the next case block (or 0). The per-candidate part is small because the
 * evaluator is verified for every batch, at a cost in proportion to its size.
 * The shared part runs once per evaluation, and what costs the host most
 * there is every trip between the hot loop and the scheduler, so the
 * scheduler's instructions come in runs: SPAWNX RESUME, [CLOAD] RESULT
 * GASLEFT MEMLEFT (or GASLEFT MEMLEFT), KILL. The overheads are the gas the
 * emitter counts between the GASLEFT reads.
 */
function evaluatorCode(k: number, block: CaseBlock, budget: Budget, l: Layout, links: readonly string[] = []): { def: ModuleDef; overheads: Overheads } {
  const rec = recordWords(l);
  const casesAt = HEADER;
  const lastCase = casesAt + (block.count - 1) * block.stride;
  const resBase = HEADER + block.words.length;
  const m = new ModuleEmitter();
  let initGas = 0;
  let spawnGas = 0;
  let loopGas = 0;
  let beginTail = 0;
  let overheads: Overheads | undefined;
  m.declare("main", 0, (f) => {
    f.reserve(2);
    f.code(Op.PUSH, G_MEMBASE, Op.MEMLEFT, Op.STORE, 0);
    for (let cand = 0; cand < k; cand++) {
      const region = resBase + cand * (1 + block.count * rec);
      f.emit(Op.PUSH, region);
      f.emit(Op.CALL, F_BEGIN);
      if (block.count === 0) {
        f.emit(Op.POP);
        continue;
      }
      f.takeGas();
      f.emit(Op.PUSH, region + 1 - rec);
      f.emit(Op.LSET, L_RECORD);
      initGas = f.takeGas();
      const head = f.here();
      // Handles are given in order (1, 2, ...): this child's is one more than the last one's.
      f.emit(Op.LINC, L_HANDLE, 1);
      f.emit(Op.LINC, L_RECORD, rec);
      f.emit(Op.DUP);
      f.emit(Op.PUSH, block.stride);
      f.emit(Op.PUSH, budget.gas);
      f.emit(Op.PUSH, budget.mem);
      f.emit(Op.PUSH, 0);
      f.emit(Op.PUSH, 0);
      f.emit(Op.SPAWNX, cand, 0);
      f.bulk(block.stride);
      f.emit(Op.RESUME);
      f.emit(Op.LGET, L_HANDLE);
      f.emit(Op.LGET, L_RECORD);
      f.emit(Op.CALL, F_FINISH);
      spawnGas = f.takeGas();
      f.emit(Op.DUP);
      f.jump(Op.JNZ, head);
      loopGas = f.takeGas();
      f.emit(Op.POP);
    }
    f.emit(Op.PUSH, 0);
    f.emit(Op.RET);
  });
  // begin(region): the start word; the first case block.
  m.declare("begin", 1, (f) => {
    f.code(Op.LGET, 0, Op.GASLEFT);
    f.takeGas();
    f.code(Op.STORE, 0, Op.PUSH, casesAt, Op.RET);
    beginTail = f.takeGas();
  });
  // finish(block, status, h, record): a finished child falls through, a stopped one comes back from the end.
  m.declare("finish", 4, (f) => {
    f.reserve(7);
    const stopped = f.label();
    const last = f.label();
    f.code(Op.LGET, L_STATUS, Op.PUSH, StatusCode.DONE, Op.EQ);
    f.jump(Op.JZ, stopped);
    const pre = f.takeGas();
    // A finished child: its result (and output) first, then the readings.
    f.emit(Op.LGET, L_CHILD);
    if (hasOutArea(l)) {
      f.code(Op.LGET, L_CHILD, Op.PUSH, block.stride, Op.LGET, L_REC, Op.ADDI, R_OUT, Op.PUSH, 1 + l.outCap, Op.CLOAD);
      f.bulk(1 + l.outCap);
    }
    f.code(Op.RESULT, Op.GASLEFT);
    const headDone = f.takeGas();
    f.code(Op.MEMLEFT, Op.LSET, L_MEM, Op.LSET, L_GAS, Op.LSET, L_VALUE);
    f.code(Op.LGET, L_REC, Op.LGET, L_VALUE, Op.STORE, R_VALUE);
    const tailDone = f.takeGas();
    const common = f.here();
    f.code(Op.LGET, L_REC, Op.LGET, L_STATUS, Op.STORE, R_STATUS);
    f.code(Op.LGET, L_REC, Op.LGET, L_GAS, Op.STORE, R_GAS);
    f.code(Op.LGET, L_REC, Op.LGET, L_MEM, Op.STORE, R_MEM);
    f.code(Op.LGET, L_CHILD, Op.KILL);
    // The next case block, or 0 after the last.
    f.code(Op.LGET, L_CASE, Op.PUSH, lastCase, Op.LT);
    f.jump(Op.JZ, last);
    f.code(Op.LGET, L_CASE, Op.ADDI, block.stride, Op.RET);
    const tail = f.takeGas();
    f.bind(last);
    f.code(Op.PUSH, 0, Op.RET);
    f.takeGas();
    f.bind(stopped);
    f.emit(Op.GASLEFT);
    const headStopped = f.takeGas();
    f.code(Op.MEMLEFT, Op.LSET, L_MEM, Op.LSET, L_GAS);
    f.jump(Op.JMP, common);
    const tailStopped = f.takeGas();
    overheads = {
      start: beginTail + initGas + spawnGas + pre,
      again: tail + loopGas + spawnGas + pre,
      headDone,
      headStopped,
      tailDone,
      tailStopped,
    };
  });
  const def = m.build("gp-evaluator", [], links);
  return { def, overheads: overheads as Overheads };
}

/** evalOverhead by everything evaluatorCode reads (a few shapes a run: one per block size). */
const overheadMemo = new Map<string, number>();

/** Gas per evaluation the evaluator spends besides the child's own (an upper bound, from the gas table). */
function evalOverhead(block: CaseBlock, budget: Budget, l: Layout): number {
  const key = `${block.count} ${block.stride} ${budget.gas} ${budget.mem} ${l.output} ${l.outCap}`;
  let n = overheadMemo.get(key);
  if (n === undefined) {
    const o = evaluatorCode(1, block, budget, l).overheads;
    n = Math.max(o.start, o.again) + Math.max(o.headDone, o.headStopped) + Math.max(o.tailDone, o.tailStopped) + 16;
    if (overheadMemo.size >= 64) overheadMemo.clear();
    overheadMemo.set(key, n);
  }
  return n;
}

/**
 * Word arrays kept from batch to batch, by length: the evaluator's memory
 * and a group's records are some 40,000 words each, and a fresh array that
 * size costs more than a thousand evaluations' settling (the allocator
 * zeroes new pages and the collector counts them as outside memory).
 */
class Scratch {
  private readonly byLength = new Map<number, Int32Array>();

  /** An array of exactly n words, with whatever the last user left in it. */
  get(n: number): Int32Array {
    let a = this.byLength.get(n);
    if (a === undefined) {
      if (this.byLength.size >= 4) this.byLength.clear();
      a = new Int32Array(n);
      this.byLength.set(n, a);
    }
    return a;
  }
}
const evaluatorMemory = new Scratch();
const groupRecords = new Scratch();

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
 * under `budget`. At most BATCH modules, and modules x cases x (gas +
 * overhead) must fit the evaluator's measuring window (evaluateAll splits the
 * work so); each must be a verified module whose function 0 takes no
 * parameters.
 */
export function runBatch(
  modules: readonly Module[],
  block: CaseBlock,
  budget: Budget,
  l: Layout,
  /** Where to put the records: into a larger result, as candidates from `candidate` on, cases from `firstCase` on of `count`. */
  out?: { words: Int32Array; count: number; candidate: number; firstCase: number },
): BatchResult {
  const evals = modules.length * block.count;
  const need = evals * (budget.gas + evalOverhead(block, budget, l));
  if (modules.length > BATCH || need > GAS_WINDOW || budget.gas > MAX_EVAL_GAS || budget.mem > MAX_EVAL_MEM)
    throw new Error(`internal: batch of ${modules.length} x ${block.count} evaluations does not fit the evaluator`);
  const rec = recordWords(l);
  const gen = evaluatorCode(modules.length, block, budget, l, modules.map((m) => m.digest));
  const evaluator = verify(gen.def);
  const machine = new Machine({ recycle: true });
  for (const m of modules) machine.intern(m);
  const region = 1 + block.count * rec;
  const memWords = HEADER + block.words.length + modules.length * region;
  // Zeroed as a fresh array would be: a stopped child's record keeps the words it was not given.
  const memory = evaluatorMemory.get(memWords).fill(0);
  memory.set(block.words, HEADER);
  const memHeadroom = budget.mem + 16 * budget.gas + 4096;
  const root = machine.createRoot(
    evaluator,
    0,
    [],
    {
      gas: need + 2 ** 16 + GAS_FLOOR,
      mem: PROCESS_WORDS + memWords + evaluator.frameCost[0] + Math.max(evaluator.frameCost[F_BEGIN], evaluator.frameCost[F_FINISH]) + memHeadroom,
    },
    [],
    memory,
  );
  machine.run(root);
  if (root.status !== StatusCode.DONE)
    throw new Error(`internal: the evaluator stopped ${root.statusName}${root.faultKind ? `: ${describeFault(root)}` : ""}`);
  const mem = root.mem;
  // MEMLEFT was read inside finish, whose frame is charged then too.
  const memBase = mem[G_MEMBASE] - evaluator.frameCost[F_FINISH];
  const words = out?.words ?? new Int32Array(modules.length * block.count * rec);
  const total = out?.count ?? block.count;
  const first = ((out?.candidate ?? 0) * total + (out?.firstCase ?? 0)) * rec;
  for (let k = 0; k < modules.length; k++)
    settle(mem, HEADER + block.words.length + k * region, block.count, rec, memBase, gen.overheads, words, first + k * total * rec);
  return { words, rec, count: total };
}

/**
 * Copies one candidate's records (its start word at `at`, then `count`
 * records) to `words` from `dst` on, turning GASLEFT reads into the gas each
 * child used and MEMLEFT reads into its footprint. (A function of its own: a
 * loop the JIT compiles once, not inside every runBatch.)
 */
function settle(mem: Int32Array, at: number, count: number, rec: number, memBase: number, o: Overheads, words: Int32Array, dst: number): void {
  let before = mem[at];
  let overhead = o.start;
  for (let src = at + 1, end = at + 1 + count * rec; src < end; src += rec, dst += rec) {
    for (let j = 0; j < rec; j++) words[dst + j] = mem[src + j];
    const done = mem[src + R_STATUS] === StatusCode.DONE;
    const after = mem[src + R_GAS];
    words[dst + R_GAS] = before - after - overhead - (done ? o.headDone : o.headStopped);
    words[dst + R_MEM] = memBase - mem[src + R_MEM];
    before = after;
    overhead = o.again + (done ? o.tailDone : o.tailStopped);
  }
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

/**
 * Result records held at once, in words (unless one candidate's need more):
 * this bounds the host memory of a generation's evaluation, and keeps the
 * evaluator's memory and the records copied out of it in the CPU's cache
 * while they are written, read and scored. At the faithful settings of
 * smallest (100 cases, 30-word records) that is 13 candidates per evaluator,
 * where 256 (one per link) ran 10-16 % slower by CPU time.
 */
const RECORDS_PER_BATCH = 40_000;

/** How work is split: candidates per group and cases per chunk, so each evaluator fits its measuring window. */
function plan(modules: number, block: CaseBlock, budget: Budget, l: Layout): { per: number; chunk: number } {
  const perEval = budget.gas + evalOverhead(block, budget, l);
  const chunk = Math.max(1, Math.min(block.count, Math.floor(GAS_WINDOW / perEval)));
  const byGas = Math.floor(GAS_WINDOW / (chunk * perEval));
  const byMemory = Math.floor(RECORDS_PER_BATCH / Math.max(1, block.count * recordWords(l)));
  return { per: Math.max(1, Math.min(BATCH, modules, byGas, byMemory)), chunk };
}

/**
 * Runs modules (at most one group of plan()) on a block, in case chunks that
 * fit the evaluator; records as one BatchResult, in an array the next group
 * reuses (every record of it is written: the chunks cover every case).
 */
function runGroup(modules: readonly Module[], block: CaseBlock, budget: Budget, l: Layout, chunk: number): BatchResult {
  const rec = recordWords(l);
  const words = groupRecords.get(modules.length * block.count * rec);
  for (let c0 = 0; c0 < block.count; c0 += chunk) {
    const c1 = Math.min(block.count, c0 + chunk);
    const part = c0 === 0 && c1 === block.count ? block : sliceBlock(block, c0, c1);
    runBatch(modules, part, budget, l, { words, count: block.count, candidate: 0, firstCase: c0 });
  }
  return { words, rec, count: block.count };
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
  const { per, chunk } = plan(modules.length, block, budget, l);
  for (let k0 = 0; k0 < modules.length; k0 += per) {
    const group = modules.slice(k0, k0 + per);
    each(runGroup(group, block, budget, l, chunk), k0, group.length);
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
  const scored: Outcome[] = [];
  runAll(unique, block, budget, problem.layout, (r, _first, count) => {
    for (let k = 0; k < count; k++) scored.push(scoreCandidate(r, k, block, problem, memWeight));
  });
  const failed = failedOutcome(block.count, problem.penalty);
  return {
    outcomes: index.map((s) => (s < 0 ? failed : scored[s])),
    evaluations: unique.length * block.count,
  };
}
