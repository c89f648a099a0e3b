// `npm run gp:eval`: the GP harness's evaluation (not run in CI). Ten seeds
// each of smallest, median and fuel-cost with the documented parameters
// (spec/gp.md, "Evaluation"): the problems' defaults, i.e. population 500,
// at most 100 generations, lexicase selection, UMAD 0.09, crossover 0.2,
// elitism 1, resource tie-break. A run succeeds when a program has zero error
// on every training case and every held-out test case. Prints each run, the
// success counts and program evaluations per second (wall clock, one core,
// everything included) against the targets.
//
//   npm run gp:eval                       all three problems, seeds 1..10
//   npm run gp:eval -- --seeds 3 median   fewer seeds, some problems only
//   npm run gp:eval -- --json             one JSON object at the end
//
// It imports the compiled harness from dist/ (the script builds first), so the
// VM runs as shipped.

import { builtinProblem } from "../dist/gp/problems.js";
import { GpRun, configFor } from "../dist/gp/run.js";

const TARGETS: Record<string, number> = { smallest: 5, median: 5, "fuel-cost": 3 };
const EVALS_TARGET = 500_000;

function parse(argv: string[]): { seeds: number; problems: string[]; json: boolean } {
  let seeds = 10;
  let json = false;
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--seeds") seeds = Number(argv[++i]);
    else if (argv[i] === "--json") json = true;
    else if (argv[i] in TARGETS) problems.push(argv[i]);
    else {
      process.stderr.write(`gp-eval: unknown argument '${argv[i]}' (problems: ${Object.keys(TARGETS).join(", ")}; --seeds N; --json)\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(seeds) || seeds < 1) {
    process.stderr.write("gp-eval: --seeds takes a positive integer\n");
    process.exit(2);
  }
  return { seeds, problems: problems.length > 0 ? problems : Object.keys(TARGETS), json };
}

interface Row {
  problem: string;
  solved: number;
  seeds: number;
  target: number;
  evaluations: number;
  seconds: number;
  evals_per_s: number;
  cpu_evals_per_s: number;
}

function main(): void {
  const { seeds, problems, json } = parse(process.argv.slice(2));
  const rows: Row[] = [];
  const log = (s: string): void => void (json ? process.stderr : process.stdout).write(s);
  for (const name of problems) {
    let solved = 0;
    let evaluations = 0;
    let seconds = 0;
    let cpu = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const problem = builtinProblem(name, seed);
      const run = new GpRun(problem, configFor(problem, seed));
      const c0 = process.cpuUsage();
      run.run();
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1e6;
      evaluations += run.state.evaluations;
      seconds += run.seconds;
      if (run.state.solved) solved++;
      const b = run.state.best;
      log(
        `${name.padEnd(10)} seed ${String(seed).padStart(2)}: ${run.state.solved ? `solved in generation ${run.state.solvedGeneration}` : `not solved (best train error ${b?.train_error}, test error ${b?.test_error})`}, ` +
          `${run.state.evaluations.toLocaleString("en-US")} evaluations, ${run.evalsPerSecond.toLocaleString("en-US")}/s\n`,
      );
    }
    rows.push({
      problem: name,
      solved,
      seeds,
      target: TARGETS[name],
      evaluations,
      seconds: Math.round(seconds * 10) / 10,
      evals_per_s: Math.round(evaluations / seconds),
      cpu_evals_per_s: Math.round(evaluations / cpu),
    });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ rows })}\n`);
    return;
  }
  process.stdout.write("\nproblem     solved (held-out test)  target  evaluations/s  (per CPU-second)\n");
  for (const r of rows)
    process.stdout.write(
      `${r.problem.padEnd(10)}  ${`${r.solved}/${r.seeds}`.padStart(6)} ${r.solved >= r.target ? "ok  " : "MISS"}            >= ${r.target}    ` +
        `${r.evals_per_s.toLocaleString("en-US").padStart(11)}  (${r.cpu_evals_per_s.toLocaleString("en-US")})  ${r.evals_per_s >= EVALS_TARGET ? "" : `< ${EVALS_TARGET.toLocaleString("en-US")}`}\n`,
    );
}

main();
