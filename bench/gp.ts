// Genetic programming: program evaluations per second (one candidate program
// on one case, each run as a sandboxed child process), breeding and scoring
// included. The workloads are gp/bench.ts, owned by the GP harness:
// gp_evals_per_s at the faithful preset's settings for smallest (target
// >= 1,000,000 on one core), measured as every other workload here is, after
// a warm-up, the median of repetitions: WARM_RUNS more runs in this process
// after the first, which is gp_cold_evals_per_s (V8 compiling the
// interpreter, the emitter and the verifier as the first generation runs);
// gp_tuned_evals_per_s the tuned workload beside it; and gp_run_evals_per_s
// the same faithful workload as a whole `rar gp` process, start-up, report
// and .rmod included.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FAITHFUL_BENCH, gpEvalsPerSecond, gpFaithfulEvalsPerSecond } from "../gp/bench.js";
import { type BenchContext, type BenchGroup, type GroupResult, fmt } from "./harness.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: { rar: string } }).bin.rar);

/** A whole `rar gp` run of the faithful workload: evaluations over the process's wall time. */
function wholeRun(gens: number): { evals_per_s: number; evaluations: number; seconds: number } {
  const dir = mkdtempSync(join(tmpdir(), "rar-bench-gp-"));
  try {
    const b = FAITHFUL_BENCH;
    const args = [BIN, "gp", "--problem", b.problem, "--preset", b.preset, "--seed", String(b.seed), "--gens", String(gens), "--json", "--out", join(dir, "best.rmod")];
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 28 });
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`bench gp: rar gp exited ${String(r.status)}: ${String(r.stderr)}`);
    const evaluations = (JSON.parse(String(r.stdout)) as { evaluations: number }).evaluations;
    return { evals_per_s: Math.round(evaluations / seconds), evaluations, seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs of the faithful workload after the first (at most ctx.reps); gp_evals_per_s is their median. */
const WARM_RUNS = 3;

export function runGp(ctx: BenchContext): GroupResult {
  ctx.progress("gp: smallest at the faithful settings; the tuned workload; a whole rar gp run");
  const gens = Math.max(1, Math.round(FAITHFUL_BENCH.gens * ctx.scale));
  const cold = gpFaithfulEvalsPerSecond({ scale: ctx.scale });
  const warm = Array.from({ length: Math.max(1, Math.min(WARM_RUNS, ctx.reps)) }, () => gpFaithfulEvalsPerSecond({ scale: ctx.scale }));
  const f = [...warm].sort((a, b) => a.evals_per_s - b.evals_per_s)[warm.length >> 1];
  const t = gpEvalsPerSecond({ scale: ctx.scale });
  const w = wholeRun(gens);
  for (const r of [cold, ...warm, t, w]) if (!(r.evaluations > 0)) throw new Error("bench gp: no evaluations were made");
  return {
    metrics: { gp_evals_per_s: f.evals_per_s, gp_cold_evals_per_s: cold.evals_per_s, gp_tuned_evals_per_s: t.evals_per_s, gp_run_evals_per_s: w.evals_per_s },
    rows: [
      {
        label: "gp_evals_per_s",
        value: fmt(f.evals_per_s),
        note: `${fmt(f.evaluations)} evaluations in ${fmt(f.seconds)} s (smallest, faithful preset, ${gens} generations of 1000; the median of ${warm.length} runs after the first, in order ${warm.map((r) => fmt(r.evals_per_s)).join(", ")}; target >= 1,000,000)`,
      },
      {
        label: "gp_cold_evals_per_s",
        value: fmt(cold.evals_per_s),
        note: `${fmt(cold.evaluations)} evaluations in ${fmt(cold.seconds)} s (the same workload's first run in this process)`,
      },
      {
        label: "gp_tuned_evals_per_s",
        value: fmt(t.evals_per_s),
        note: `${fmt(t.evaluations)} evaluations in ${fmt(t.seconds)} s (smallest, median, fuel-cost at the tuned preset: the former gp_evals_per_s)`,
      },
      {
        label: "gp_run_evals_per_s",
        value: fmt(w.evals_per_s),
        note: `${fmt(w.evaluations)} evaluations in ${fmt(w.seconds)} s of a whole rar gp process (the faithful workload, start-up included)`,
      },
    ],
  };
}

export const gpGroup: BenchGroup = { name: "gp", title: "Genetic programming", run: runGp };
