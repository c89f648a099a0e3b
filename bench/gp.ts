// Genetic programming (issue 6): program evaluations per second (one
// candidate program on one case, each run as a sandboxed child process) over
// a fixed run of the built-in problems, breeding and scoring included. The
// workload is gp/bench.ts, owned by the GP harness.

import { gpEvalsPerSecond } from "../gp/bench.js";
import { type BenchContext, type BenchGroup, type GroupResult, fmt } from "./harness.js";

export function runGp(ctx: BenchContext): GroupResult {
  ctx.progress("gp: smallest, median, fuel-cost");
  const r = gpEvalsPerSecond({ scale: ctx.scale });
  if (!(r.evaluations > 0)) throw new Error("bench gp: no evaluations were made");
  return {
    metrics: { gp_evals_per_s: r.evals_per_s },
    rows: [
      {
        label: "gp_evals_per_s",
        value: fmt(r.evals_per_s),
        note: `${fmt(r.evaluations)} evaluations in ${fmt(r.seconds)} s (smallest, median, fuel-cost; target >= 500,000)`,
      },
    ],
  };
}

export const gpGroup: BenchGroup = { name: "gp", title: "Genetic programming", run: runGp };
