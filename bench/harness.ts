// The benchmark harness: the shape of a metric group, side-by-side timing
// (warm-up, interleaved repetitions, medians) and a helper that runs inline
// `.rasm` workloads through the public embedding API.
//
// Adding a metric group: write one function `(ctx) => GroupResult` in its own
// file under bench/, wrap it in a BenchGroup and list it in bench/groups.ts.
// Its metrics (flat `key: number`) land in the `--json` object; its rows in
// the human table. Benchmarks never run under the test runner.

import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Session, verify, type Module, type RunResult, type SessionOptions } from "../src/index.js";
import { assemble } from "../src/internals.js";

/** Flat numeric figures; the keys are the public names printed by `--json`. */
export type Metrics = Record<string, number>;

/** One line of the human table. */
export interface Row {
  label: string;
  value: string;
  note?: string;
}

export interface GroupResult {
  metrics: Metrics;
  rows: Row[];
}

export interface BenchContext {
  /** Timed repetitions per measurement (the median is reported). */
  readonly reps: number;
  /** Scale factor for workload sizes (1 normally; smaller with --quick). */
  readonly scale: number;
  /** Progress line; goes to stderr only when stderr is a terminal. */
  progress(message: string): void;
}

export interface BenchGroup {
  /** Short id, used by `--only`. */
  readonly name: string;
  /** Heading in the human table. */
  readonly title: string;
  run(ctx: BenchContext): GroupResult | Promise<GroupResult>;
}

// --- timing -------------------------------------------------------------

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Milliseconds taken by one call of fn. */
export function timeOnce(fn: () => unknown): number {
  const t0 = performance.now();
  sink(fn());
  return performance.now() - t0;
}

let blackhole = 0;
/** Keeps results alive so the JIT cannot drop the work that produced them. */
let gcFn: (() => void) | null | undefined;
/**
 * A full GC if the host lets us have one (the flag is set at run time, so
 * `node main.js` needs no option): between measurements, so that one does not
 * pay for the garbage of another. Whether one was available: collected().
 */
export function collect(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    } catch {
      gcFn = null;
    }
  }
  if (gcFn) {
    gcFn();
    gcFn();
  }
}

/** Whether collect() could force a GC (false before its first call). */
export function collected(): boolean {
  return typeof gcFn === "function";
}

export function sink(v: unknown): void {
  if (typeof v === "number") blackhole = (blackhole + v) | 0;
  else if (v !== undefined && v !== null) blackhole = (blackhole + 1) | 0;
}

/** Reads the black hole (for the report footer, so it is observable). */
export function blackholeValue(): number {
  return blackhole;
}

export interface CompareOptions {
  reps: number;
  /** Untimed runs of each workload first (JIT warm-up). Default 2. */
  warmup?: number;
}

/**
 * Runs several workloads side by side: warm-up runs, then `reps` rounds in
 * which every workload runs once (interleaved, so drift in the machine hits
 * all of them alike). Returns the milliseconds of every round per workload.
 */
export function rounds<K extends string>(
  workloads: Readonly<Record<K, () => unknown>>,
  opts: CompareOptions,
): Record<K, number[]> {
  const keys = Object.keys(workloads) as K[];
  const warmup = opts.warmup ?? 2;
  for (let i = 0; i < warmup; i++) for (const k of keys) sink(workloads[k]());
  const times = {} as Record<K, number[]>;
  for (const k of keys) times[k] = [];
  for (let r = 0; r < opts.reps; r++) {
    // Alternate the order so no workload always runs right after another.
    const order = r % 2 === 0 ? keys : [...keys].reverse();
    for (const k of order) times[k].push(timeOnce(workloads[k]));
  }
  return times;
}

/** Like rounds(), but the median milliseconds per workload. */
export function compare<K extends string>(
  workloads: Readonly<Record<K, () => unknown>>,
  opts: CompareOptions,
): Record<K, number> {
  const times = rounds(workloads, opts);
  const out = {} as Record<K, number>;
  for (const k of Object.keys(times) as K[]) out[k] = median(times[k]);
  return out;
}

/** Median over rounds of a[i] / b[i]: a ratio of runs made back to back, robust to load that comes and goes. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, i) => x / b[i]));
}

/**
 * Picks a size n so that `fn(n)` takes about `targetMs`. Warms up at `start`
 * first (the JIT makes early runs erratic), then doubles n, timing each size
 * three times and keeping the fastest, until a run takes a quarter of the target.
 */
export function calibrateSize(fn: (n: number) => unknown, start: number, targetMs: number, max = 1 << 30): number {
  const warmUntil = performance.now() + Math.max(20, targetMs / 2);
  for (let i = 0; i < 10 || performance.now() < warmUntil; i++) sink(fn(start));
  let n = start;
  for (;;) {
    const t = Math.min(timeOnce(() => fn(n)), timeOnce(() => fn(n)), timeOnce(() => fn(n)));
    if (t >= targetMs / 4 || n >= max) {
      const scaled = Math.round((n * targetMs) / Math.max(t, 0.01));
      return Math.max(1, Math.min(max, scaled));
    }
    n *= 2;
  }
}

// --- guest workloads ----------------------------------------------------

/** Budgets large enough that no measurement is cut short. */
export const BENCH_GAS = 1e12;
export const BENCH_MEM = 1 << 26;

/** The largest gas or memory limit a guest can pass in one word (SPAWN, REFUEL). */
export const I32_MAX = 0x7fffffff;

/** Assembles and verifies inline `.rasm` text. */
export function compile(source: string, name: string): Module {
  return verify(assemble(source, `bench/${name}.rasm`));
}

const quiet = (): void => {};

/** Starts and runs a module to completion; throws if it does not finish `done`. */
export function runGuest(module: Module, args: readonly number[] = [], opts: SessionOptions = {}): RunResult {
  const r = Session.start(module, { gas: BENCH_GAS, mem: BENCH_MEM, stdout: quiet, ...opts, args }).run();
  if (r.status !== "done") throw new Error(`bench workload ${module.name} ended ${r.status}${r.fault ? `: ${r.fault}` : ""}`);
  return r;
}

// --- formatting -------------------------------------------------------------

/** A number with a sensible number of significant digits for the table. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString("en-US");
  return Number(x.toPrecision(digits)).toString();
}

/** Rounds figures for the JSON object (4 significant digits). */
export function round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(4));
}
