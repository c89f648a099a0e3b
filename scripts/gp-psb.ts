// `npm run gp:psb`: the like-for-like PSB comparison (spec/gp.md, "PSB
// comparison"). Runs N seeds per problem of one preset, each seed a whole
// `rar gp --json` run of the built CLI (start-up included), K at a time, and
// appends one JSON line per finished seed to bench/psb-runs/<preset>.jsonl.
// A restart skips the seeds already in that file, so a table that takes
// hours can be built across several sittings. At the end (and with --table
// alone) it writes bench/psb-results.md from every results file present.
//
//   npm run gp:psb -- --seeds 100 --problems smallest,median --preset faithful --jobs 2
//   npm run gp:psb -- --preset faithful,pressure     both presets, time shared between them
//   npm run gp:psb -- --preset faithful,pressure:smallest+median   pressure on two problems only
//   npm run gp:psb -- --table          only rewrite bench/psb-results.md
//
// The next seed always goes to the problem that has had the least wall time
// so far (its lowest seed not yet run), so a table stopped early has spent
// about the same time on every problem, and each problem's seeds are 1..N.

import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../dist/src/cli/atomic.js";
import { findSpec, PRESETS, type Preset } from "../dist/gp/problems.js";

const ROOT = new URL("..", import.meta.url).pathname;
const RUNS = join(ROOT, "bench", "psb-runs");
const TABLE = join(ROOT, "bench", "psb-results.md");
const CLI = join(ROOT, "dist", "src", "cli", "bin.cjs");
const DEFAULT_PROBLEMS = ["smallest", "median", "count-odds", "last-index-of-zero"];

interface Options {
  seeds: number;
  problems: string[];
  presets: Preset[];
  /** Problems of a preset when not all of --problems (PRESET:a+b). */
  only: Map<Preset, string[]>;
  jobs: number;
  tableOnly: boolean;
}

/** One finished seed: what the results file holds per line. */
interface SeedResult {
  problem: string;
  preset: string;
  seed: number;
  solved: boolean;
  solved_generation: number | null;
  generations: number;
  evaluations: number;
  evaluations_to_solve: number | null;
  held_out_tests: number;
  /** Search time and rate as the run measured them (compile, verify, evaluate, select, breed). */
  seconds: number;
  evals_per_s: number;
  /** Wall time of the whole `rar gp` process, start-up included. */
  wall_seconds: number;
  train_error: number | null;
  test_error: number | null;
}

function fail(message: string): never {
  process.stderr.write(`gp-psb: ${message}\n`);
  process.exit(2);
}

function parse(argv: string[]): Options {
  const o: Options = { seeds: 100, problems: DEFAULT_PROBLEMS, presets: ["faithful"], only: new Map(), jobs: 1, tableOnly: false };
  const count = (flag: string, v: string | undefined, max: number): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v ?? "") || n < 1 || n > max) fail(`${flag} takes an integer in 1..${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--seeds") o.seeds = count(a, argv[++i], 100_000);
    else if (a === "--jobs") o.jobs = count(a, argv[++i], Math.max(1, cpus().length));
    else if (a === "--table") o.tableOnly = true;
    else if (a === "--preset") {
      o.presets = [];
      for (const item of (argv[++i] ?? "").split(",")) {
        const [name, list] = item.split(":");
        if (!PRESETS.includes(name as Preset)) fail(`--preset takes one or more of ${PRESETS.join(", ")}, comma-separated (each optionally PRESET:problem+problem)`);
        o.presets.push(name as Preset);
        if (list !== undefined) {
          const ps = list.split("+").filter((p) => p.length > 0);
          for (const p of ps) if (!findSpec(p)) fail(`unknown problem '${p}'`);
          o.only.set(name as Preset, ps);
        }
      }
    } else if (a === "--problems") {
      o.problems = (argv[++i] ?? "").split(",").filter((p) => p.length > 0);
      for (const p of o.problems) if (!findSpec(p)) fail(`unknown problem '${p}'`);
      if (o.problems.length === 0) fail("--problems takes a comma-separated list");
    } else fail(`unknown argument '${a}' (--seeds N, --problems a,b, --preset ${PRESETS.join("|")}, --jobs K, --table)`);
  }
  return o;
}

function resultsFile(preset: string): string {
  return join(RUNS, `${preset}.jsonl`);
}

/** Every result line of a preset's file (a torn last line from a killed run is skipped). */
function readResults(preset: string): SeedResult[] {
  const file = resultsFile(preset);
  if (!existsSync(file)) return [];
  const out: SeedResult[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as SeedResult);
    } catch {
      // An interrupted append: that seed runs again.
    }
  }
  return out;
}

/** One seed: a whole `rar gp` run of the built CLI, timed from spawn to exit. */
function runSeed(problem: string, preset: Preset, seed: number): Promise<SeedResult> {
  const dir = mkdtempSync(join(tmpdir(), "rar-gp-psb-"));
  const args = [CLI, "gp", "--problem", problem, "--preset", preset, "--seed", String(seed), "--json", "--out", join(dir, "best.rmod")];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`${problem} seed ${seed}: rar gp exited ${code}: ${Buffer.concat(err).toString().trim()}`));
      const r = JSON.parse(Buffer.concat(out).toString());
      resolve({
        problem,
        preset,
        seed,
        solved: r.solved,
        solved_generation: r.solved_generation,
        generations: r.generations,
        evaluations: r.evaluations,
        evaluations_to_solve: r.evaluations_to_solve,
        held_out_tests: r.held_out_tests,
        seconds: r.seconds,
        evals_per_s: r.evals_per_s,
        wall_seconds: Math.round(wall * 1000) / 1000,
        train_error: r.best?.train_error ?? null,
        test_error: r.best?.test_error ?? null,
      });
    });
  });
}

async function runAll(o: Options): Promise<void> {
  mkdirSync(RUNS, { recursive: true });
  // Work is balanced over (preset, problem) pairs.
  const problemsOf = (pr: Preset): string[] => o.only.get(pr) ?? o.problems;
  const pairs: [Preset, string][] = o.presets.flatMap((pr) => problemsOf(pr).map((p): [Preset, string] => [pr, p]));
  const key = (pr: string, p: string): string => `${pr}/${p}`;
  const todo = new Map<string, number[]>();
  const wall = new Map<string, number>();
  for (const pr of o.presets) {
    const previous = readResults(pr);
    const done = new Set(previous.map((r) => `${r.problem}/${r.seed}`));
    for (const p of problemsOf(pr)) {
      const seeds: number[] = [];
      for (let seed = 1; seed <= o.seeds; seed++) if (!done.has(`${p}/${seed}`)) seeds.push(seed);
      todo.set(key(pr, p), seeds);
      wall.set(key(pr, p), previous.filter((r) => r.problem === p).reduce((a, r) => a + r.wall_seconds, 0));
    }
    process.stderr.write(`gp-psb: ${pr}: ${done.size} seeds already in ${resultsFile(pr)}\n`);
  }
  const left = (): number => [...todo.values()].reduce((a, s) => a + s.length, 0);
  process.stderr.write(`gp-psb: ${left()} runs to go, ${o.jobs} at a time\n`);
  /** The pair with the least wall time so far (running seeds count their start), and its lowest seed to go. */
  const take = (): [Preset, string, number] | null => {
    let best: [Preset, string] | null = null;
    for (const [pr, p] of pairs)
      if ((todo.get(key(pr, p)) as number[]).length > 0 && (best === null || (wall.get(key(pr, p)) as number) < (wall.get(key(...best)) as number))) best = [pr, p];
    if (best === null) return null;
    return [best[0], best[1], (todo.get(key(...best)) as number[]).shift() as number];
  };
  const worker = async (): Promise<void> => {
    for (let job = take(); job !== null; job = take()) {
      const [pr, p, seed] = job;
      // A running seed holds its pair back by a nominal second until it reports.
      wall.set(key(pr, p), (wall.get(key(pr, p)) as number) + 1);
      const r = await runSeed(p, pr, seed);
      wall.set(key(pr, p), (wall.get(key(pr, p)) as number) - 1 + r.wall_seconds);
      // One line per seed, appended whole: the file is the resumable record.
      appendFileSync(resultsFile(pr), `${JSON.stringify(r)}\n`);
      process.stderr.write(
        `${pr} ${p} seed ${seed}: ${r.solved ? `solved in generation ${r.solved_generation}` : `not solved (train error ${r.train_error}, test error ${r.test_error})`}, ` +
          `${r.evaluations.toLocaleString("en-US")} evaluations, ${r.evals_per_s.toLocaleString("en-US")}/s, ${r.wall_seconds.toFixed(1)} s\n`,
      );
    }
  };
  await Promise.all(Array.from({ length: o.jobs }, worker));
}

/** Wilson score interval for k successes out of n, 95 % (z = 1.96), as percentages. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 100];
  const z = 1.96;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, (c - h) * 100), Math.min(100, (c + h) * 100)];
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x: number | null, digits = 0): string => (x === null ? "–" : x.toLocaleString("en-US", { maximumFractionDigits: digits }));

/** bench/psb-results.md from every preset's results file. */
function writeTable(requested: number): void {
  const lines: string[] = [];
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  lines.push("# PSB comparison: rar gp against the published PushGP results");
  lines.push("");
  lines.push(`Written ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC by \`npm run gp:psb\` on ${cpu} (${cpus().length} cores, shared with other work), Node ${process.version}.`);
  lines.push("Each seed is one whole `rar gp --preset P --seed S --json` run; the raw results are `bench/psb-runs/<preset>.jsonl`, one line per seed.");
  lines.push("A success is the run's single held-out test: the first program with zero training error also has zero error on every test case (spec/gp.md, \"PSB comparison\").");
  lines.push("N is the number of seeds that finished; where N is below 100 the table says so, and the interval is correspondingly wide.");
  lines.push("An evaluation is one program run on one case; evals/s is the runs' own search rate (compile, verify, evaluate, select, breed), wall time the sum of whole-process times, start-up included.");
  lines.push("");
  for (const preset of PRESETS) {
    const rows = readResults(preset);
    if (rows.length === 0) continue;
    lines.push(`## Preset \`${preset}\``);
    lines.push("");
    lines.push("| problem | seeds run | successes | 95 % interval (Wilson) | PushGP (lexicase) /100 | median generation to success | median evaluations to success | evals/s | wall time |");
    lines.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    const problems = [...new Set(rows.map((r) => r.problem))];
    for (const p of problems) {
      const rs = rows.filter((r) => r.problem === p);
      const n = rs.length;
      const k = rs.filter((r) => r.solved).length;
      const [lo, hi] = wilson(k, n);
      const ref = findSpec(p)?.psb?.reference;
      const solvedGens = rs.filter((r) => r.solved).map((r) => r.solved_generation as number);
      const solvedEvals = rs.filter((r) => r.solved && r.evaluations_to_solve !== null).map((r) => r.evaluations_to_solve as number);
      const evals = rs.reduce((a, r) => a + r.evaluations, 0);
      const secs = rs.reduce((a, r) => a + r.seconds, 0);
      const wall = rs.reduce((a, r) => a + r.wall_seconds, 0);
      const seedsNote = n < requested ? `${n} of ${requested}` : String(n);
      lines.push(
        `| ${p} | ${seedsNote} | ${k}/${n} (${fmt((100 * k) / n)} %) | ${fmt(lo, 1)}–${fmt(hi, 1)} % | ${ref === undefined ? "not published here" : `${ref}/100`} | ${fmt(median(solvedGens))} | ${fmt(median(solvedEvals))} | ${fmt(secs > 0 ? Math.round(evals / secs) : null)} | ${fmt(wall / 3600, 2)} h |`,
      );
    }
    lines.push("");
  }
  // Hand-written notes (from a "## Notes" heading on) survive a rewrite of the tables.
  const old = existsSync(TABLE) ? readFileSync(TABLE, "utf8") : "";
  const at = old.indexOf("\n## Notes");
  const notes = at >= 0 ? old.slice(at + 1) : "";
  writeFileAtomic(TABLE, new TextEncoder().encode(`${lines.join("\n")}\n${notes}`));
  process.stderr.write(`gp-psb: wrote ${TABLE}\n`);
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  if (!o.tableOnly) await runAll(o);
  if (existsSync(RUNS) && readdirSync(RUNS).length > 0) writeTable(o.seeds);
}

main().catch((e: Error) => fail(e.message));
