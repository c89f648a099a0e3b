// Checkpoints: the whole state of a run between two generations (population,
// generator state, history, best so far) plus its configuration and problem,
// as one JSON document with a digest over its body. Resuming from a
// checkpoint continues exactly where the run was: the same seed and settings
// give the same final report whether or not the run was interrupted. A
// checkpoint is untrusted input when read back: its shape is checked and any
// problem is a RarError naming what is wrong.

import { RarError } from "../src/index.js";
import { digestBytes } from "../src/internals.js";
import { MAX_EVAL_GAS, MAX_EVAL_MEM } from "./evaluate.js";
import type { Genome } from "./genome.js";
import type { RngState } from "./random.js";
import { PRESETS, type Preset } from "./problems.js";
import type { Best, GenerationStats, GpConfig, RunState, Selection } from "./run.js";
import type { Pressure } from "./select.js";

export const CHECKPOINT_FORMAT = "rar-gp-checkpoint";
export const CHECKPOINT_VERSION = 1;

/** Which problem a run is on: a built-in by name, or the parsed cases file itself. */
export interface ProblemRef {
  readonly name: string;
  readonly cases?: unknown;
  /** The preset the built-in problem is built for (default tuned). */
  readonly preset?: Preset;
}

export interface Checkpoint {
  readonly problem: ProblemRef;
  readonly config: GpConfig;
  readonly state: RunState;
}

function bodyOf(c: Checkpoint): unknown {
  const s = c.state;
  return {
    problem: c.problem,
    config: c.config,
    state: {
      generation: s.generation,
      population: s.population.map((g) => Array.from(g)),
      rng: s.rng,
      history: s.history,
      evaluations: s.evaluations,
      best: s.best ? { ...s.best, genome: Array.from(s.best.genome) } : null,
      solved: s.solved,
      solvedGeneration: s.solvedGeneration,
      heldOutTests: s.heldOutTests,
    },
  };
}

/** The checkpoint document: {format, version, digest, body}. */
export function encodeCheckpoint(c: Checkpoint): string {
  const body = JSON.stringify(bodyOf(c));
  const digest = digestBytes(new TextEncoder().encode(body));
  return `{"format":"${CHECKPOINT_FORMAT}","version":${CHECKPOINT_VERSION},"digest":"${digest}","body":${body}}\n`;
}

function obj(x: unknown, what: string, where: string): Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new RarError("usage.checkpoint", `${what} must be an object`, where);
  return x as Record<string, unknown>;
}

function int(x: unknown, what: string, where: string, lo = 0, hi = Number.MAX_SAFE_INTEGER): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < lo || x > hi) throw new RarError("usage.checkpoint", `${what} must be an integer in ${lo}..${hi}`, where);
  return x;
}

function num(x: unknown, what: string, where: string): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x < 0) throw new RarError("usage.checkpoint", `${what} must be a non-negative number`, where);
  return x;
}

function fraction(x: unknown, what: string, where: string): number {
  if (typeof x !== "number" || !(x > 0 && x <= 1)) throw new RarError("usage.checkpoint", `${what} must be a number in (0, 1]`, where);
  return x;
}

function genome(x: unknown, what: string, where: string): Genome {
  if (!Array.isArray(x) || x.length % 2 !== 0 || x.length > 2_000_000) throw new RarError("usage.checkpoint", `${what} must be an even-length array of gene words`, where);
  for (const w of x) if (typeof w !== "number" || !Number.isInteger(w) || w < -0x80000000 || w > 0x7fffffff) throw new RarError("usage.checkpoint", `${what} holds a non-integer word`, where);
  return Int32Array.from(x as number[]);
}

function config(x: unknown, where: string): GpConfig {
  const o = obj(x, "config", where);
  const sel = o.selection;
  if (sel !== "lexicase" && sel !== "tournament") throw new RarError("usage.checkpoint", "config.selection must be lexicase or tournament", where);
  const pr = o.pressure;
  if (pr !== "off" && pr !== "tiebreak" && pr !== "weighted") throw new RarError("usage.checkpoint", "config.pressure must be off, tiebreak or weighted", where);
  // Checkpoints written before presets existed are tuned runs.
  const preset = o.preset ?? "tuned";
  if (!PRESETS.includes(preset as Preset)) throw new RarError("usage.checkpoint", `config.preset must be one of ${PRESETS.join(", ")}`, where);
  return {
    preset: preset as Preset,
    seed: int(o.seed, "config.seed", where, 0, 0xffffffff),
    pop: int(o.pop, "config.pop", where, 1, 1_000_000),
    gens: int(o.gens, "config.gens", where, 1, 100_000_000),
    selection: sel as Selection,
    tournamentSize: int(o.tournamentSize, "config.tournamentSize", where, 1, 1_000_000),
    elite: int(o.elite, "config.elite", where, 0, 1_000_000),
    pressure: pr as Pressure,
    pressureWeight: num(o.pressureWeight, "config.pressureWeight", where),
    memWeight: num(o.memWeight, "config.memWeight", where),
    umadRate: num(o.umadRate, "config.umadRate", where),
    replaceRate: num(o.replaceRate, "config.replaceRate", where),
    crossoverRate: num(o.crossoverRate, "config.crossoverRate", where),
    alignmentDeviation: o.alignmentDeviation === undefined ? 10 : num(o.alignmentDeviation, "config.alignmentDeviation", where),
    downsample: fraction(o.downsample, "config.downsample", where),
    maxSize: int(o.maxSize, "config.maxSize", where, 1, 1_000_000),
    initSize: int(o.initSize, "config.initSize", where, 1, 1_000_000),
    simplify: o.simplify === undefined ? 0 : int(o.simplify, "config.simplify", where, 0, 1_000_000),
    gas: int(o.gas, "config.gas", where, 1, MAX_EVAL_GAS),
    mem: int(o.mem, "config.mem", where, 1, MAX_EVAL_MEM),
  };
}

function best(x: unknown, where: string): Best | null {
  if (x === null) return null;
  const o = obj(x, "state.best", where);
  return {
    genome: genome(o.genome, "state.best.genome", where),
    generation: int(o.generation, "state.best.generation", where),
    train_error: num(o.train_error, "state.best.train_error", where),
    test_error: o.test_error === null ? null : num(o.test_error, "state.best.test_error", where),
    gas: int(o.gas, "state.best.gas", where),
    mem: int(o.mem, "state.best.mem", where),
    cost: num(o.cost, "state.best.cost", where),
  };
}

/** Reads a checkpoint document; throws a RarError (usage) naming what is wrong. */
export function decodeCheckpoint(text: string, where: string): Checkpoint {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RarError("usage.checkpoint", `not JSON (${(e as Error).message})`, where);
  }
  const d = obj(doc, "a checkpoint", where);
  if (d.format !== CHECKPOINT_FORMAT) throw new RarError("usage.checkpoint", `not a rar gp checkpoint (format ${JSON.stringify(d.format)})`, where);
  if (d.version !== CHECKPOINT_VERSION) throw new RarError("usage.checkpoint", `unsupported checkpoint version ${String(d.version)}`, where);
  const body = obj(d.body, "body", where);
  if (typeof d.digest !== "string" || digestBytes(new TextEncoder().encode(JSON.stringify(body))) !== d.digest)
    throw new RarError("usage.checkpoint", "digest does not match the contents (the file is damaged or was edited)", where);
  const p = obj(body.problem, "problem", where);
  if (typeof p.name !== "string") throw new RarError("usage.checkpoint", "problem.name must be a string", where);
  const cfg = config(body.config, where);
  const s = obj(body.state, "state", where);
  if (!Array.isArray(s.population) || s.population.length !== cfg.pop) throw new RarError("usage.checkpoint", `state.population must hold config.pop = ${cfg.pop} genomes`, where);
  const rng = s.rng;
  if (!Array.isArray(rng) || rng.length !== 4) throw new RarError("usage.checkpoint", "state.rng must be 4 words", where);
  rng.forEach((w, i) => int(w, `state.rng[${i}]`, where, 0, 0xffffffff));
  if (!Array.isArray(s.history)) throw new RarError("usage.checkpoint", "state.history must be an array", where);
  s.history.forEach((h, i) => {
    const o = obj(h, `state.history[${i}]`, where);
    if (o.gen !== i) throw new RarError("usage.checkpoint", `state.history[${i}].gen must be ${i}`, where);
    for (const [k, v] of Object.entries(o)) if (typeof v !== "number" || !Number.isFinite(v)) throw new RarError("usage.checkpoint", `state.history[${i}].${k} must be a number`, where);
  });
  if (typeof s.solved !== "boolean") throw new RarError("usage.checkpoint", "state.solved must be true or false", where);
  const generation = int(s.generation, "state.generation", where);
  if (s.history.length !== generation) throw new RarError("usage.checkpoint", "state.history must have one entry per evaluated generation", where);
  return {
    problem: { name: p.name, cases: p.cases },
    config: cfg,
    state: {
      generation,
      population: s.population.map((g, i) => genome(g, `state.population[${i}]`, where)),
      rng: rng as RngState,
      history: s.history as GenerationStats[],
      evaluations: int(s.evaluations, "state.evaluations", where),
      best: best(s.best, where),
      solved: s.solved,
      solvedGeneration: s.solvedGeneration === null ? null : int(s.solvedGeneration, "state.solvedGeneration", where),
      heldOutTests: s.heldOutTests === undefined ? 0 : int(s.heldOutTests, "state.heldOutTests", where),
    },
  };
}
