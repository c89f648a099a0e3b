// A fixed GP workload for `npm run bench` (gp_evals_per_s): a few generations
// of `smallest`, `median` and `fuel-cost` with fixed seeds; the figure is all
// program evaluations (one program on one case, each a sandboxed child
// process) divided by the wall-clock time of the whole loop, compiling,
// verifying, scoring, selecting and breeding included.

import { builtinProblem } from "./problems.js";
import { GpRun, configFor } from "./run.js";

export interface GpBench {
  readonly evals_per_s: number;
  readonly evaluations: number;
  readonly seconds: number;
}

/**
 * Runs `gens` generations (population `pop`) of each problem and reports
 * evaluations per second. `scale` < 1 shrinks the work (bench --quick).
 */
export function gpEvalsPerSecond(options: { gens?: number; pop?: number; scale?: number } = {}): GpBench {
  const scale = options.scale ?? 1;
  const gens = Math.max(1, Math.round((options.gens ?? 10) * scale));
  const pop = Math.max(10, Math.round((options.pop ?? 500) * Math.min(1, scale * 4)));
  let evaluations = 0;
  let seconds = 0;
  for (const name of ["smallest", "median", "fuel-cost"]) {
    const problem = builtinProblem(name, 1);
    const run = new GpRun(problem, configFor(problem, 1, { gens, pop }));
    while (!run.finished) run.step();
    evaluations += run.state.evaluations;
    seconds += run.seconds;
  }
  return { evals_per_s: seconds > 0 ? Math.round(evaluations / seconds) : 0, evaluations, seconds };
}
