// `rar gp`: genetic programming on a built-in problem or a JSON cases file
// (CLI.md). Progress goes to stderr on a terminal only; the report (text, or
// one JSON object with --json) goes to stdout. The best program is written as
// a `.rmod`; checkpoints let an interrupted run resume (exit 3 when
// interrupted, like a suspended run).

import { Command, Option } from "commander";
import { RarError } from "../vm/errors.js";
import { decodeCheckpoint, encodeCheckpoint, type ProblemRef } from "../../gp/checkpoint.js";
import { problemFromCases } from "../../gp/cases.js";
import { MAX_EVAL_GAS, MAX_EVAL_MEM } from "../../gp/evaluate.js";
import { plotSvg } from "../../gp/plot.js";
import { builtinProblem, PRESETS, PROBLEM_NAMES, type Preset, type Problem } from "../../gp/problems.js";
import { Progress } from "../../gp/progress.js";
import { bestBundle, buildReport, reportText } from "../../gp/report.js";
import { GpRun, configFor, type GpConfig, type RunState } from "../../gp/run.js";
import type { Pressure } from "../../gp/select.js";
import { parseCount } from "./args.js";
import { checkWritable, writeFileAtomic } from "./atomic.js";
import { EXIT, UsageError } from "./exit.js";
import { readInput } from "./read.js";
import { err, writeOut } from "./output.js";

interface GpFlags {
  problem?: string;
  preset?: Preset;
  psb?: boolean;
  cases?: string;
  seed?: number;
  pop?: number;
  gens?: number;
  json?: boolean;
  select?: "lexicase" | "tournament";
  tournamentSize?: number;
  elite?: number;
  pressure?: Pressure;
  pressureWeight?: number;
  downsample?: number;
  maxSize?: number;
  simplify?: number;
  gas?: number;
  mem?: number;
  out?: string;
  plot?: string;
  checkpoint?: string;
  checkpointEvery: number;
  resume?: string;
  redis?: string;
  queue?: string;
}


function usage(message: string): never {
  throw new UsageError(message);
}

function parseWeight(text: string): number {
  const v = Number(text);
  if (!/^\d+(\.\d*)?([eE][-+]?\d+)?$/.test(text.trim()) || !Number.isFinite(v)) usage(`--pressure-weight: '${text}' is not a non-negative number`);
  return v;
}

function parseFraction(text: string): number {
  const v = Number(text);
  if (!/^\d*\.?\d+$/.test(text.trim()) || !(v > 0 && v <= 1)) usage(`--downsample: '${text}' is not a fraction in (0, 1]`);
  return v;
}

function stemOf(file: string): string {
  return (file.replace(/^.*[\\/]/, "").replace(/\.json$/i, "").replace(/[^\w.-]/g, "_") || "cases").slice(0, 64);
}

function casesProblem(file: string, seed: number, preset: Preset): { problem: Problem; ref: ProblemRef } {
  const text = readInput(file).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RarError("usage.cases", `not JSON (${(e as Error).message})`, file);
  }
  const problem = problemFromCases(json, file, stemOf(file), seed, preset);
  return { problem, ref: { name: problem.name, cases: json, ...(preset !== "tuned" ? { preset } : {}) } };
}

/** Settings given on the command line, as config overrides. */
function overrides(f: GpFlags): Partial<GpConfig> {
  const o: Record<string, unknown> = {
    pop: f.pop,
    gens: f.gens,
    selection: f.select,
    tournamentSize: f.tournamentSize,
    elite: f.elite,
    pressure: f.pressure,
    pressureWeight: f.pressureWeight,
    downsample: f.downsample,
    maxSize: f.maxSize,
    simplify: f.simplify,
    gas: f.gas,
    mem: f.mem,
  };
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o as Partial<GpConfig>;
}

interface Setup {
  problem: Problem;
  ref: ProblemRef;
  config: GpConfig;
  state?: RunState;
}

function setup(f: GpFlags): Setup {
  if (f.resume !== undefined) {
    if (f.cases !== undefined) usage("--cases cannot be combined with --resume (the checkpoint holds its cases)");
    const ck = decodeCheckpoint(readInput(f.resume).toString("utf8"), f.resume);
    if (f.problem !== undefined && f.problem !== ck.problem.name)
      usage(`--problem ${f.problem} does not match the checkpoint's problem ${ck.problem.name}`);
    const over = overrides(f);
    for (const [k, v] of Object.entries(over))
      if (k !== "gens" && v !== ck.config[k as keyof GpConfig]) usage(`--${k} cannot change on --resume (the checkpoint has ${String(ck.config[k as keyof GpConfig])})`);
    if (f.seed !== undefined && f.seed !== ck.config.seed) usage(`--seed cannot change on --resume (the checkpoint has ${ck.config.seed})`);
    const problem =
      ck.problem.cases !== undefined
        ? problemFromCases(ck.problem.cases, `${f.resume}: cases`, ck.problem.name, ck.config.seed, ck.config.preset)
        : builtinProblem(ck.problem.name, ck.config.seed, ck.config.preset);
    if (f.preset !== undefined && f.preset !== ck.config.preset) usage(`--preset cannot change on --resume (the checkpoint has ${ck.config.preset})`);
    return { problem, ref: ck.problem, config: { ...ck.config, gens: over.gens ?? ck.config.gens }, state: ck.state };
  }
  if ((f.problem === undefined) === (f.cases === undefined)) usage("give one of --problem NAME or --cases FILE.json");
  const seed = f.seed ?? 1;
  const preset = f.preset ?? "tuned";
  const { problem, ref } =
    f.cases !== undefined
      ? casesProblem(f.cases, seed, preset)
      : { problem: builtinProblem(f.problem as string, seed, preset), ref: { name: f.problem as string, ...(preset !== "tuned" ? { preset } : {}) } };
  const config = configFor(problem, seed, overrides(f));
  if (config.elite > config.pop) usage(`--elite ${config.elite} exceeds the population ${config.pop}`);
  return { problem, ref, config };
}

async function gpCommand(f: GpFlags): Promise<number> {
  if (f.psb) {
    if (f.preset !== undefined && f.preset !== "faithful") usage(`--psb is --preset faithful; it cannot be combined with --preset ${f.preset}`);
    f.preset = "faithful";
  }
  const { problem, ref, config, state } = setup(f);
  const stem = `${problem.name}-s${config.seed}`;
  const checkpointPath = f.checkpoint ?? f.resume;
  const out = f.out ?? `${stem}.rmod`;
  // Every file the run will write, checked before the first generation (a run can take hours).
  for (const path of [out, f.plot, checkpointPath]) if (path !== undefined) checkWritable(path);
  // With --redis, each generation's population is evaluated on the cluster's workers (src/cluster/gp.ts).
  const remote = f.redis !== undefined ? await (await import("../cluster/gp.js")).openDistributedRun(f.redis, f.queue, problem, ref, config, state) : null;
  const run = remote ?? new GpRun(problem, config, state);
  const saveCheckpoint = (path: string): void =>
    writeFileAtomic(path, new TextEncoder().encode(encodeCheckpoint({ problem: ref, config: run.config, state: run.state })));
  const progress = new Progress(process.stderr, run.config.gens, run.state.generation);
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.on("SIGINT", onSignal);
  try {
    while (!run.finished && !interrupted) {
      await remote?.prepare();
      const st = run.step();
      progress.update(st, run.seconds, run.evalsPerSecond);
      if (checkpointPath !== undefined && !run.finished && run.state.generation % f.checkpointEvery === 0) saveCheckpoint(checkpointPath);
      // Let a pending SIGINT be delivered between generations.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    process.removeListener("SIGINT", onSignal);
    progress.end();
    await remote?.disconnect();
  }
  if (interrupted && !run.finished) {
    const path = checkpointPath ?? `${stem}.checkpoint.json`;
    saveCheckpoint(path);
    err(`rar gp: interrupted after generation ${run.state.generation}; resume with: rar gp --resume ${path}\n`);
    return EXIT.suspended;
  }
  run.finish();
  const bundle = bestBundle(run);
  if (bundle) writeFileAtomic(out, bundle);
  if (f.plot !== undefined)
    writeFileAtomic(f.plot, new TextEncoder().encode(plotSvg(run.state.history, `rar gp: ${problem.name}, seed ${config.seed}`)));
  const report = buildReport(run, bundle ? out : undefined);
  writeOut(f.json ? `${JSON.stringify(report)}\n` : reportText(report));
  return EXIT.done;
}

export function addGpCommand(program: Command): void {
  const count = (flag: string, min: number, max: number) => parseCount(flag, min, max);
  program
    .command("gp")
    .description(
      "evolve programs over the VM's instruction set for a built-in problem or a JSON cases file; " +
        "every candidate runs on every case as a sandboxed child process under a gas and memory budget",
    )
    .option("--problem <name>", `a built-in problem: ${PROBLEM_NAMES.join(", ")}`)
    .option("--cases <file>", "a custom problem: a JSON file of train and test cases (see spec/gp.md)")
    .addOption(
      new Option(
        "--preset <name>",
        "tuned: rar's own search (default); faithful: the PSB reference setup (gene set by data type, reference budgets and operators, one program tested per run); pressure: faithful with resource tie-break",
      ).choices([...PRESETS]),
    )
    .option("--psb", "the same as --preset faithful")
    .addOption(new Option("--seed <n>", "random seed: the same seed gives the same run (default 1)").argParser(count("--seed", 0, 0xffffffff)))
    .addOption(new Option("--pop <n>", "population size (default per problem)").argParser(count("--pop", 2, 1_000_000)))
    .addOption(new Option("--gens <n>", "generations at most (default per problem)").argParser(count("--gens", 1, 10_000_000)))
    .option("--json", "print one JSON object (report, per-generation stats, best program)")
    .addOption(new Option("--select <kind>", "parent selection (default lexicase)").choices(["lexicase", "tournament"]))
    .addOption(new Option("--tournament-size <n>", "tournament size (default 7)").argParser(count("--tournament-size", 1, 1_000_000)))
    .addOption(new Option("--elite <n>", "best individuals copied unchanged (default 1)").argParser(count("--elite", 0, 1_000_000)))
    .addOption(
      new Option("--pressure <mode>", "resource pressure: gas and memory as a tie-breaker, a weighted term, or off (default tiebreak)").choices([
        "off",
        "tiebreak",
        "weighted",
      ]),
    )
    .addOption(new Option("--pressure-weight <w>", "error per unit of gas+memory when --pressure weighted (default 0.001)").argParser(parseWeight))
    .addOption(
      new Option("--downsample <f>", "fraction of the training cases each generation selects on (down-sampled lexicase; default per problem)").argParser(
        parseFraction,
      ),
    )
    .addOption(new Option("--max-size <n>", "largest genome in genes (default per problem)").argParser(count("--max-size", 1, 100_000)))
    .addOption(
      new Option("--simplify <n>", "simplification steps on the training solver before its held-out test (faithful presets; default 5000, 0 = none)").argParser(
        count("--simplify", 0, 1_000_000),
      ),
    )
    .addOption(new Option("--gas <n>", "gas limit of one evaluation (default per problem)").argParser(count("--gas", 1, MAX_EVAL_GAS)))
    .addOption(new Option("--mem <n>", "memory limit of one evaluation, in words (default 4096)").argParser(count("--mem", 256, MAX_EVAL_MEM)))
    .option("--out <file>", "where to write the best program as a .rmod (default <problem>-s<seed>.rmod)")
    .option("--plot <file>", "write an SVG chart of best and median error per generation")
    .option("--checkpoint <file>", "write the population to this file every --checkpoint-every generations")
    .addOption(new Option("--checkpoint-every <n>", "generations between checkpoints").argParser(count("--checkpoint-every", 1, 1_000_000)).default(10))
    .option("--resume <file>", "continue the run saved in a checkpoint (--gens may raise its limit)")
    .option("--redis <url>", "evaluate each generation on the workers of this Redis (rar worker); the report is the local run's")
    .option("--queue <name>", "the workers' queue (with --redis; default rar)")
    .action(async (flags: GpFlags) => {
      process.exitCode = await gpCommand(flags);
    });
}
