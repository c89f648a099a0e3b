// Running a range of inputs of one kind in this process: input i is made by
// a generator seeded with (seed, kind, i) alone, checked, and counted; a host
// exception or anomaly is kept with the input that caused it.

import { RarError } from "../../src/vm/errors.js";
import { imagesTarget } from "./images.js";
import { modulesTarget } from "./modules.js";
import { policiesTarget } from "./policies.js";
import { Rng } from "./rng.js";
import { sourcesTarget } from "./sources.js";
import { Anomaly, KINDS, type Input, type KindName, type Target } from "./target.js";

export interface Finding {
  kind: KindName;
  index: number;
  /** "host exception", "anomaly", "hang" or "crash". */
  what: string;
  /** How the input was made. */
  how: string;
  /** The error's stack (or a description of the hang or crash). */
  error: string;
  /** The input as saved: text, or bytes as base64. */
  data: string;
  binary: boolean;
  ext: string;
  files?: Record<string, string>;
  /** A hang or crash: the input is to be made again (from seed, kind and index) before saving. */
  regenerate?: boolean;
  /** Counted only: past the first FINDINGS_KEPT of a range, the input and stack are dropped. */
  dropped?: boolean;
}

/** Findings a range keeps whole (input, stack); later ones are only counted, so a bug that fires on every input cannot fill memory. */
export const FINDINGS_KEPT = 100;

export function makeTarget(kind: KindName, seed: number): Target {
  switch (kind) {
    case "images":
      return imagesTarget(seed);
    case "modules":
      return modulesTarget(seed);
    case "sources":
      return sourcesTarget(seed);
    case "policies":
      return policiesTarget(seed);
  }
}

/** The generator of input `index` of `kind` under `seed`. */
export function inputRng(kind: KindName, seed: number, index: number): Rng {
  return new Rng(seed, KINDS.indexOf(kind), index);
}

function finding(kind: KindName, index: number, input: Input | null, target: Target, e: unknown, stage: string): Finding {
  const err = e instanceof Error ? e : new Error(String(e));
  const data = input?.data ?? "";
  return {
    kind,
    index,
    what: err instanceof Anomaly ? "anomaly" : "host exception",
    how: input ? `${input.how}${stage}` : `generating the input${stage}`,
    error: err.stack ?? `${err.name}: ${err.message}`,
    data: typeof data === "string" ? data : Buffer.from(data).toString("base64"),
    binary: typeof data !== "string",
    ext: input?.ext ?? target.ext,
    files: input?.files,
  };
}

export interface RangeReport {
  tried: number;
  /** Outcome -> count ("decoded", "rejected image/digest", ...). */
  outcomes: Map<string, number>;
  findings: Finding[];
}

export interface RangeHooks {
  /** Called before each input (the worker records the index where its parent can read it). */
  before?(index: number): void;
  /** Called after each input with the report so far. */
  after?(index: number, report: RangeReport): void;
}

/** Checks one input; returns its outcome, or a finding. */
export function checkOne(target: Target, kind: KindName, seed: number, index: number): { outcome: string; finding?: Finding } {
  let input: Input | null = null;
  try {
    input = target.generate(inputRng(kind, seed, index));
  } catch (e) {
    // Making valid inputs runs the runtime too (compiling, running, snapshotting): its failures count.
    if (e instanceof RarError) return { outcome: "generator rejected" };
    return { outcome: "failed", finding: finding(kind, index, null, target, e, ` (${(e as Error)?.message ?? e})`) };
  }
  try {
    return { outcome: target.check(input) };
  } catch (e) {
    if (e instanceof RarError) return { outcome: `rejected ${e.phase}/${e.kind}` };
    return { outcome: "failed", finding: finding(kind, index, input, target, e, "") };
  }
}

/** Runs inputs [lo, hi) of `kind` in this process. */
export function fuzzRange(kind: KindName, seed: number, lo: number, hi: number, hooks: RangeHooks = {}): RangeReport {
  const target = makeTarget(kind, seed);
  try {
    return checkRange(target, kind, seed, lo, hi, hooks);
  } finally {
    target.close?.();
  }
}

function checkRange(target: Target, kind: KindName, seed: number, lo: number, hi: number, hooks: RangeHooks): RangeReport {
  const report: RangeReport = { tried: 0, outcomes: new Map(), findings: [] };
  for (let i = lo; i < hi; i++) {
    hooks.before?.(i);
    const { outcome, finding } = checkOne(target, kind, seed, i);
    report.tried++;
    report.outcomes.set(outcome, (report.outcomes.get(outcome) ?? 0) + 1);
    if (finding)
      report.findings.push(
        report.findings.length < FINDINGS_KEPT ? finding : { ...finding, data: "", files: undefined, error: finding.error.split("\n")[0], dropped: true },
      );
    hooks.after?.(i, report);
  }
  return report;
}
