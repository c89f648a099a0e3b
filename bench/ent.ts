// Ent (issue 5): fib, a counting loop and a sieve written in Ent, compiled by
// the project's compiler and run through a Session, side by side with the same
// code in plain JS on i32 values (interleaved rounds, median of the paired
// ratios). Sizes come from main's args so --quick can shrink them.

import { Session, compileSource, verify, type Module } from "../src/index.js";
import { BENCH_GAS, BENCH_MEM, type BenchContext, type BenchGroup, type GroupResult, fmt, median, pairedRatio, rounds } from "./harness.js";

interface EntWorkload {
  key: string;
  label: (args: readonly number[]) => string;
  source: string;
  args: (scale: number) => number[];
  native: (args: readonly number[]) => number;
}

const FIB_ENT = `
fn fib(n) {
  if n < 2 { return n; }
  return fib(n - 1) + fib(n - 2);
}
fn main(args) { return fib(args[0]); }
`;

const LOOP_ENT = `
fn count(n) {
  let i = 0;
  while i < n { i = i + 1; }
  return i;
}
fn main(args) { return count(args[0]); }
`;

const SIEVE_ENT = `
fn sieve(n) {
  let a = array(n + 1);
  let c = 0;
  for i in 2..len(a) {
    if a[i] == 0 {
      c = c + 1;
      let j = i + i;
      while j <= n { a[j] = 1; j = j + i; }
    }
  }
  return c;
}
fn main(args) {
  let s = 0;
  for k in 0..args[1] { s = s + sieve(args[0]); }
  return s;
}
`;

function jsFib(n: number): number {
  return n < 2 ? n : (jsFib(n - 1) + jsFib(n - 2)) | 0;
}

function jsCount(n: number): number {
  let i = 0;
  while (i < n) i = (i + 1) | 0;
  return i;
}

function jsSieve(n: number): number {
  const a = new Int32Array(n + 1);
  let c = 0;
  for (let i = 2; i < a.length; i++) {
    if (a[i] === 0) {
      c = (c + 1) | 0;
      let j = i + i;
      while (j <= n) {
        a[j] = 1;
        j = (j + i) | 0;
      }
    }
  }
  return c;
}

function jsSieves(n: number, times: number): number {
  let s = 0;
  for (let k = 0; k < times; k++) s = (s + jsSieve(n)) | 0;
  return s;
}

const WORKLOADS: readonly EntWorkload[] = [
  {
    key: "fib",
    label: ([n]) => `fib(${n})`,
    source: FIB_ENT,
    args: (s) => [s >= 1 ? 27 : 20],
    native: ([n]) => jsFib(n),
  },
  {
    key: "loop",
    label: ([n]) => `counting loop (${fmt(n)} iterations)`,
    source: LOOP_ENT,
    args: (s) => [Math.max(1000, Math.round(5_000_000 * s))],
    native: ([n]) => jsCount(n),
  },
  {
    key: "sieve",
    label: ([n, k]) => `sieve of ${fmt(n)}, ${k} times`,
    source: SIEVE_ENT,
    args: (s) => [Math.max(1000, Math.round(200_000 * s)), 5],
    native: ([n, k]) => jsSieves(n, k),
  },
];

/** Compiles Ent source into verified modules, entry first. */
function compileEnt(source: string, key: string): Module[] {
  return compileSource(source, `bench/${key}.ent`).modules.map((d) => verify(d));
}

function runEnt([entry, ...linked]: readonly Module[], args: readonly number[]): number {
  const r = Session.start(entry, { gas: BENCH_GAS, mem: BENCH_MEM, caps: [], linked, args, record: false }).run();
  if (r.status !== "done") throw new Error(`bench ent ${entry.name} ended ${r.status}${r.fault ? `: ${r.fault}` : ""}`);
  return r.value as number;
}

export function runEntGroup(ctx: BenchContext): GroupResult {
  const result: GroupResult = { metrics: {}, rows: [] };
  for (const w of WORKLOADS) {
    const args = w.args(ctx.scale);
    ctx.progress(`ent: ${w.label(args)}`);
    const modules = compileEnt(w.source, w.key);
    const expected = w.native(args);
    const got = runEnt(modules, args);
    if (got !== expected) throw new Error(`bench ent ${w.key}: Ent returned ${got}, plain JS ${expected}`);
    const r = rounds({ ent: () => runEnt(modules, args), native: () => w.native(args) }, { reps: ctx.reps });
    const ratio = pairedRatio(r.ent, r.native);
    const key = `ent_${w.key}_vs_native`;
    result.metrics[key] = ratio;
    result.rows.push({
      label: key,
      value: `${fmt(ratio)}x`,
      note: `${w.label(args)}: Ent ${fmt(median(r.ent))} ms / plain JS ${fmt(median(r.native))} ms`,
    });
  }
  return result;
}

export const entGroup: BenchGroup = { name: "ent", title: "Ent programs (vs plain JS, same run)", run: runEntGroup };
