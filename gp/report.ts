// The result of a run as data (the `--json` object) and as text. Every field
// is determined by the seed and settings except the two timing fields,
// `evals_per_s` and `seconds`.

import type { Module } from "../src/index.js";
import { disassemble, encodeBundle } from "../src/internals.js";
import { geneCount, genomeText } from "./genome.js";
import type { GenerationStats, GpRun } from "./run.js";

export interface BestReport {
  readonly train_error: number;
  readonly test_error: number | null;
  /** Genes. */
  readonly size: number;
  /** Gas used over all training cases. */
  readonly gas: number;
  /** Memory footprint at the end of each training case, summed, in words. */
  readonly mem: number;
  readonly generation: number;
  readonly code_words: number;
  readonly genome: string;
  /** Disassembly of the program's module. */
  readonly program: string;
  /** Where the `.rmod` was written, if it was. */
  readonly rmod?: string;
}

export interface GpReport {
  readonly problem: string;
  /** Which preset ran: tuned, faithful or pressure. */
  readonly preset: string;
  readonly seed: number;
  /** Generations evaluated. */
  readonly generations: number;
  readonly evaluations: number;
  readonly evals_per_s: number;
  readonly seconds: number;
  /** Zero error on every training case and every held-out test case. */
  readonly solved: boolean;
  readonly solved_generation: number | null;
  /** Programs tried on the held-out test cases (1 per run in the faithful presets). */
  readonly held_out_tests: number;
  /** Evaluations up to and including the generation that solved the run (null if unsolved). */
  readonly evaluations_to_solve: number | null;
  readonly train_cases: number;
  readonly test_cases: number;
  readonly config: GpRun["config"];
  readonly best: BestReport | null;
  readonly per_generation: readonly GenerationStats[];
}

/** The best program's module, as saved in the `.rmod` (null if it does not verify: it never ran). */
export function bestModule(run: GpRun): Module | null {
  const b = run.state.best;
  return b ? run.module(b.genome) : null;
}

/** `.rmod` bytes of the best program (a bundle of one module). */
export function bestBundle(run: GpRun): Uint8Array | null {
  const m = bestModule(run);
  return m ? encodeBundle([m]) : null;
}

export function buildReport(run: GpRun, rmod?: string): GpReport {
  const s = run.state;
  const b = s.best;
  const m = bestModule(run);
  return {
    problem: run.problem.name,
    preset: run.config.preset,
    seed: run.config.seed,
    generations: s.generation,
    evaluations: s.evaluations,
    evals_per_s: run.evalsPerSecond,
    seconds: Math.round(run.seconds * 1000) / 1000,
    solved: s.solved,
    solved_generation: s.solvedGeneration,
    held_out_tests: s.heldOutTests,
    evaluations_to_solve: s.solvedGeneration === null ? null : (s.history[s.solvedGeneration]?.evaluations ?? null),
    train_cases: run.problem.train.length,
    test_cases: run.problem.test.length,
    config: run.config,
    best: b
      ? {
          train_error: b.train_error,
          test_error: b.test_error,
          size: geneCount(b.genome),
          gas: b.gas,
          mem: b.mem,
          generation: b.generation,
          code_words: m ? m.code.length : 0,
          genome: genomeText(b.genome),
          program: m ? disassemble(m) : "",
          ...(rmod !== undefined ? { rmod } : {}),
        }
      : null,
    per_generation: s.history,
  };
}

/** The report without its timing fields: what must be identical for the same seed and settings. */
export function deterministicPart(r: GpReport): Omit<GpReport, "evals_per_s" | "seconds"> {
  const { evals_per_s: _e, seconds: _s, ...rest } = r;
  return rest;
}

function n(x: number): string {
  return x.toLocaleString("en-US");
}

/** The human summary: outcome, figures, the best genome and its disassembly. */
export function reportText(r: GpReport): string {
  const lines: string[] = [];
  const outcome = r.solved
    ? `solved in generation ${r.solved_generation} (zero error on ${r.train_cases} train and ${r.test_cases} test cases)`
    : `not solved in ${r.generations} generations`;
  lines.push(`rar gp: ${r.problem} seed ${r.seed} (preset ${r.preset}): ${outcome}`);
  lines.push(`  ${n(r.evaluations)} evaluations in ${r.seconds.toFixed(1)} s (${n(r.evals_per_s)} evaluations/s)`);
  const b = r.best;
  if (b) {
    lines.push(
      `  best (generation ${b.generation}): train error ${b.train_error}, test error ${b.test_error ?? "-"}, ${b.size} genes, ${b.code_words} code words, gas ${n(b.gas)} over the train cases`,
    );
    lines.push(`  genome: ${b.genome}`);
    if (b.rmod) lines.push(`  module written to ${b.rmod}`);
    lines.push("", b.program.trimEnd());
  }
  return lines.join("\n") + "\n";
}
