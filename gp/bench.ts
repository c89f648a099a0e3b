// Fixed GP workloads for `npm run bench`. An evaluation is one program run
// on one case (a sandboxed child process); a rate is evaluations divided by
// the wall-clock time of the whole generation loop, compiling, verifying,
// scoring, selecting and breeding included.
//
// - gp_evals_per_s: `smallest` at the faithful preset's settings (population
//   1000, the reference's gene set by data type, gas 4 x 200 steps, printed
//   output), seed 2 (which does not solve in the generations run, so every
//   generation is a full one).
// - gp_tuned_evals_per_s: the former workload, side by side: a few
//   generations of `smallest`, `median` and `fuel-cost` at the tuned preset.

import { builtinProblem, type Preset } from "./problems.js";
import { GpRun, configFor } from "./run.js";

export interface GpBench {
  readonly evals_per_s: number;
  readonly evaluations: number;
  readonly seconds: number;
}

/** The faithful-preset workload's settings (bench/gp.ts runs the same through the CLI for gp_run_evals_per_s). */
export const FAITHFUL_BENCH = { problem: "smallest", preset: "faithful" as Preset, seed: 2, gens: 10 };

function measure(runs: GpRun[]): GpBench {
  let evaluations = 0;
  let seconds = 0;
  for (const run of runs) {
    while (!run.finished) run.step();
    evaluations += run.state.evaluations;
    seconds += run.seconds;
  }
  return { evals_per_s: seconds > 0 ? Math.round(evaluations / seconds) : 0, evaluations, seconds };
}

/** `smallest` at the faithful settings for `gens` generations (fewer with `scale` < 1, bench --quick). */
export function gpFaithfulEvalsPerSecond(options: { gens?: number; scale?: number } = {}): GpBench {
  const scale = options.scale ?? 1;
  const gens = Math.max(1, Math.round((options.gens ?? FAITHFUL_BENCH.gens) * scale));
  const problem = builtinProblem(FAITHFUL_BENCH.problem, FAITHFUL_BENCH.seed, FAITHFUL_BENCH.preset);
  return measure([new GpRun(problem, configFor(problem, FAITHFUL_BENCH.seed, { gens }))]);
}

/**
 * Runs `gens` generations (population `pop`) of smallest, median and
 * fuel-cost at the tuned preset and reports evaluations per second. `scale`
 * < 1 shrinks the work (bench --quick).
 */
export function gpEvalsPerSecond(options: { gens?: number; pop?: number; scale?: number } = {}): GpBench {
  const scale = options.scale ?? 1;
  const gens = Math.max(1, Math.round((options.gens ?? 10) * scale));
  const pop = Math.max(10, Math.round((options.pop ?? 500) * Math.min(1, scale * 4)));
  return measure(
    ["smallest", "median", "fuel-cost"].map((name) => {
      const problem = builtinProblem(name, 1);
      return new GpRun(problem, configFor(problem, 1, { gens, pop }));
    }),
  );
}
