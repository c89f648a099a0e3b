// Ent (issues 5 and 16): fib, a counting loop, a sieve, fannkuch-redux,
// integer n-body and quicksort written in Ent (bench/ent-workloads.ts),
// compiled by the project's compiler and run through a Session, side by side
// with the same code in plain JS on i32 values and typed arrays (interleaved
// rounds, median of the paired ratios). Sizes come from main's args so --quick
// can shrink them.

import { Session, compileSource, verify, type Module, type SessionOptions } from "../src/index.js";
import { ENT_WORKLOADS } from "./ent-workloads.js";
import { BENCH_GAS, BENCH_MEM, type BenchContext, type BenchGroup, type GroupResult, fmt, median, pairedRatio, rounds } from "./harness.js";

/** Compiles Ent source into verified modules, entry first. */
export function compileEnt(source: string, key: string): Module[] {
  return compileSource(source, `bench/${key}.ent`).modules.map((d) => verify(d));
}

/** Runs an Ent program to its value (the machine's default tiering unless `tiering` says otherwise). */
export function runEnt([entry, ...linked]: readonly Module[], args: readonly number[], tiering?: SessionOptions["tiering"]): number {
  const r = Session.start(entry, { gas: BENCH_GAS, mem: BENCH_MEM, caps: [], linked, args, record: false, tiering }).run();
  if (r.status !== "done") throw new Error(`bench ent ${entry.name} ended ${r.status}${r.fault ? `: ${r.fault}` : ""}`);
  return r.value as number;
}

export function runEntGroup(ctx: BenchContext): GroupResult {
  const result: GroupResult = { metrics: {}, rows: [] };
  for (const w of ENT_WORKLOADS) {
    const args = w.args(ctx.scale);
    ctx.progress(`ent: ${w.label(args)}`);
    const modules = compileEnt(w.source, w.key);
    const expected = w.native(...args);
    const got = runEnt(modules, args);
    if (got !== expected) throw new Error(`bench ent ${w.key}: Ent returned ${got}, plain JS ${expected}`);
    const r = rounds({ ent: () => runEnt(modules, args), native: () => w.native(...args) }, { reps: ctx.reps });
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
