// The evolution loop. One GpRun is one run: a problem, a configuration and a
// state (population, generator state, history) that checkpoints capture
// exactly, so a resumed run continues bit for bit. Each step evaluates the
// current generation (every program on every training case, each evaluation a
// sandboxed child process; see evaluate.ts), records statistics, tests
// programs that solve the training cases on the held-out cases, and breeds
// the next generation.

import { RarError, verify, type Module } from "../src/index.js";
import { newWords } from "../src/internals.js";
import { buildCandidate, compileGenome } from "./compile.js";
import { encodeCases, evaluateAll, hashWords, sameWords, selectCases, type Budget, type CaseBlock, type Outcome } from "./evaluate.js";
import { GeneSampler, geneCount, type Genome } from "./genome.js";
import { alternation, closeMutation, crossover, PSB_VARIATION, replace, umad, uniformMutation } from "./operators.js";
import type { Preset, Problem } from "./problems.js";
import { warmUp } from "./warmup.js";
import { Rng, type RngState } from "./random.js";
import { Lexicase, ranking, tournament, type Fitness, type Pressure } from "./select.js";

/** Stream of the seed used for the search (the data uses DATA_STREAM). */
export const SEARCH_STREAM = 2;
/** Train solvers tried on the test cases per generation (the cheapest first). */
export const TESTS_PER_GENERATION = 8;

export type Selection = "lexicase" | "tournament";

/** Every setting of a run. Defaults come from the problem, then the preset's search settings. */
export interface GpConfig {
  /**
   * tuned: UMAD + crossover + replacement, elitism, and every generation up
   * to TESTS_PER_GENERATION training solvers tried on the test cases.
   * faithful / pressure: the reference's operators (PSB_VARIATION), and one
   * program per run tried on the test cases: the first to solve the training
   * cases (or, if none does, the best at the end).
   */
  readonly preset: Preset;
  readonly seed: number;
  readonly pop: number;
  readonly gens: number;
  readonly selection: Selection;
  readonly tournamentSize: number;
  /** Best individuals copied unchanged into the next generation. */
  readonly elite: number;
  readonly pressure: Pressure;
  /** Weight of gas + memory per case when pressure is "weighted". */
  readonly pressureWeight: number;
  /** Weight of a memory word against one unit of gas in the resource cost. */
  readonly memWeight: number;
  readonly umadRate: number;
  readonly replaceRate: number;
  readonly crossoverRate: number;
  /** Alternation's alignment deviation (faithful presets). */
  readonly alignmentDeviation: number;
  /** Fraction of the training cases each generation selects on (down-sampled lexicase); 1 = all. */
  readonly downsample: number;
  readonly maxSize: number;
  readonly initSize: number;
  /** Simplification steps applied to the training solver before its held-out test (faithful presets; 0 = none). */
  readonly simplify: number;
  /** Limits of one evaluation. */
  readonly gas: number;
  readonly mem: number;
}

export const DEFAULT_SEARCH = {
  alignmentDeviation: 10,
  simplify: 0,
  selection: "lexicase" as Selection,
  tournamentSize: 7,
  elite: 1,
  pressure: "tiebreak" as Pressure,
  pressureWeight: 0.001,
  memWeight: 0.1,
  umadRate: 0.09,
  replaceRate: 0.01,
  crossoverRate: 0.2,
  downsample: 1,
};

/** Simplification steps before the held-out test in the faithful presets (the reference's final-report-simplifications). */
export const SIMPLIFY_STEPS = 5000;
/** Simplification proposals evaluated together (the first that keeps zero training error is taken; later ones are discarded). */
const SIMPLIFY_BATCH = 32;

/** Search settings of the faithful preset: plain lexicase (uniform random final tie-break), no elitism, no down-sampling. */
const FAITHFUL_SEARCH = { ...DEFAULT_SEARCH, simplify: SIMPLIFY_STEPS, elite: 0, pressure: "off" as Pressure, downsample: 1, crossoverRate: 0, umadRate: 0, replaceRate: 0 };

/** Search settings by preset (the pressure preset is faithful with lexicase's final tie-break by resource cost). */
export const PRESET_SEARCH: Readonly<Record<Preset, typeof DEFAULT_SEARCH>> = {
  tuned: DEFAULT_SEARCH,
  faithful: FAITHFUL_SEARCH,
  pressure: { ...FAITHFUL_SEARCH, pressure: "tiebreak" },
};

/** The configuration for a problem (built for its preset) with some settings overridden. */
export function configFor(problem: Problem, seed: number, over: Partial<GpConfig> = {}): GpConfig {
  const psb = problem.preset !== "tuned" && problem.psb ? { alignmentDeviation: problem.psb.alignment } : {};
  return canonicalConfig({ preset: problem.preset, seed, ...PRESET_SEARCH[problem.preset], ...psb, ...problem.defaults, ...over });
}

/** The same settings with their keys in one fixed order (reports and checkpoints print them). */
export function canonicalConfig(c: GpConfig): GpConfig {
  return {
    preset: c.preset,
    seed: c.seed,
    pop: c.pop,
    gens: c.gens,
    selection: c.selection,
    tournamentSize: c.tournamentSize,
    elite: c.elite,
    pressure: c.pressure,
    pressureWeight: c.pressureWeight,
    memWeight: c.memWeight,
    umadRate: c.umadRate,
    replaceRate: c.replaceRate,
    crossoverRate: c.crossoverRate,
    alignmentDeviation: c.alignmentDeviation,
    downsample: c.downsample,
    maxSize: c.maxSize,
    initSize: c.initSize,
    simplify: c.simplify,
    gas: c.gas,
    mem: c.mem,
  };
}

/** Statistics of one evaluated generation. */
export interface GenerationStats {
  readonly gen: number;
  /** Training error (all cases) of the generation's best. */
  readonly best_error: number;
  /** Median training error of the generation (estimated from the sample when down-sampling). */
  readonly median_error: number;
  readonly best_size: number;
  readonly mean_size: number;
  /** Gas the generation's best used over all training cases. */
  readonly best_gas: number;
  /** Training cases selection saw this generation (all of them unless down-sampling). */
  readonly sample_cases: number;
  /** Individuals with zero error on those cases. */
  readonly sample_solvers: number;
  /** Evaluations that stopped on their budget or faulted, over the whole generation. */
  readonly out_of_gas: number;
  readonly out_of_mem: number;
  readonly faults: number;
  /** Evaluations so far (cumulative, training and test). */
  readonly evaluations: number;
}

/** The best program found so far. */
export interface Best {
  readonly genome: Genome;
  readonly generation: number;
  readonly train_error: number;
  /** Test error, once measured (null until then). */
  readonly test_error: number | null;
  readonly gas: number;
  readonly mem: number;
  readonly cost: number;
}

/** Everything that changes during a run; what a checkpoint stores. */
export interface RunState {
  /** Next generation to evaluate. */
  generation: number;
  population: Genome[];
  rng: RngState;
  history: GenerationStats[];
  evaluations: number;
  best: Best | null;
  solved: boolean;
  /** Generation in which a program solved train and test, or null. */
  solvedGeneration: number | null;
  /** Programs tried on the held-out test cases so far (exactly 1 per finished run in the faithful presets). */
  heldOutTests: number;
}

/** Starts a run: the initial population from the seed's search stream. */
export function initialState(problem: Problem, config: GpConfig): RunState {
  const rng = new Rng(config.seed, SEARCH_STREAM);
  const sampler = new GeneSampler(problem.pool);
  const population: Genome[] = [];
  for (let i = 0; i < config.pop; i++) population.push(sampler.genome(rng, rng.range(1, Math.min(config.initSize, config.maxSize))));
  return { generation: 0, population, rng: rng.state(), history: [], evaluations: 0, best: null, solved: false, solvedGeneration: null, heldOutTests: 0 };
}

export class GpRun {
  readonly state: RunState;
  private readonly sampler: GeneSampler;
  private readonly trainBlock: CaseBlock;
  private readonly testBlock: CaseBlock;
  private readonly budget: Budget;
  /** Verified modules by code, and by genome: this generation's and the previous one's. */
  private current = new CodeTable<Module | null>();
  private previous = new CodeTable<Module | null>();
  private currentGenomes = new CodeTable<Module | null>();
  private previousGenomes = new CodeTable<Module | null>();
  /** Wall-clock seconds spent in step() by this object (not part of the deterministic state). */
  seconds = 0;
  /** Evaluations already counted when this object took the state over (a resumed run). */
  readonly startEvaluations: number;

  constructor(
    readonly problem: Problem,
    readonly config: GpConfig,
    state?: RunState,
  ) {
    this.state = state ?? initialState(problem, config);
    this.startEvaluations = this.state.evaluations;
    this.sampler = new GeneSampler(problem.pool);
    this.trainBlock = encodeCases(problem.train, problem.layout.stride);
    this.testBlock = encodeCases(problem.test, problem.layout.stride);
    this.budget = { gas: config.gas, mem: config.mem };
  }

  /** The faithful presets: one program per run is tried on the held-out cases, and the run ends with it. */
  get faithful(): boolean {
    return this.config.preset !== "tuned";
  }

  get finished(): boolean {
    const s = this.state;
    return s.solved || s.generation >= this.config.gens || (this.faithful && s.heldOutTests > 0);
  }

  /** Compiles and verifies a genome; null if it does not verify (never run). */
  module(g: Genome): Module | null {
    return buildCandidate(g, this.problem.layout, this.problem.name);
  }

  /**
   * Modules of genomes. A genome seen in this generation or the previous
   * one is not compiled again, genomes that compile to the same code share
   * one verified module object, and modules of the previous generation are
   * reused (compiling and verifying are pure functions of the genome and the
   * code, so this changes nothing but the time it takes). Within a
   * generation, one code is one object: evaluateAll runs each object once.
   */
  private modules(genomes: readonly Genome[]): (Module | null)[] {
    return genomes.map((g) => {
      let m = this.currentGenomes.get(g) ?? this.previousGenomes.get(g);
      if (m !== undefined && m !== null) {
        // Known by its genome: the object this generation already has for its code, else this one.
        const shared = this.current.get(m.code);
        if (shared !== undefined && shared !== null) m = shared;
        else this.current.set(m.code, m);
      } else if (m === undefined) {
        const def = compileGenome(g, this.problem.layout, this.problem.name);
        const code = def.code;
        m = this.current.get(code) ?? this.previous.get(code);
        if (m === undefined) {
          try {
            m = verify(def);
          } catch (e) {
            if (!(e instanceof RarError)) throw e;
            m = null;
          }
        }
        this.current.set(code, m);
      }
      this.currentGenomes.set(g, m);
      return m;
    });
  }

  /** Evaluates genomes on a block of cases (the training cases by default). */
  evaluate(genomes: readonly Genome[], block: CaseBlock = this.trainBlock): Outcome[] {
    const r = evaluateAll(this.modules(genomes), block, this.problem, this.budget, this.config.memWeight);
    this.state.evaluations += r.evaluations;
    return r.outcomes;
  }

  /** Evaluates genomes on the held-out test cases: the only way they are ever run on them (counted). */
  private heldOut(genomes: readonly Genome[]): Outcome[] {
    this.state.heldOutTests += genomes.length;
    return this.evaluate(genomes, this.testBlock);
  }

  /** The training cases this generation selects on: all, or a random subset when down-sampling. */
  private sampleBlock(rng: Rng): CaseBlock {
    const all = this.trainBlock;
    const k = Math.max(1, Math.round(this.config.downsample * all.count));
    if (k >= all.count) return all;
    const idx = Array.from({ length: all.count }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(all.count - i);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return selectCases(all, idx.slice(0, k).sort((a, b) => a - b));
  }

  /**
   * Evaluates the current generation, records it, and breeds the next one.
   * Selection sees the errors on this generation's training sample; the
   * generation's best and the programs with zero sample error are measured
   * on all training cases, and those with zero training error on the test
   * cases.
   */
  step(): GenerationStats {
    const t0 = performance.now();
    warmUp();
    this.previous = this.current;
    this.current = new CodeTable();
    this.previousGenomes = this.currentGenomes;
    this.currentGenomes = new CodeTable();
    const s = this.state;
    const cfg = this.config;
    const pop = s.population;
    const rng = Rng.fromState(s.rng);
    const block = this.sampleBlock(rng);
    const sampled = block !== this.trainBlock;
    const outcomes = this.evaluate(pop, block);
    const fit = pop.map((g, i) => fitness(outcomes[i], geneCount(g), cfg));
    const order = ranking(fit, cfg.pressure);
    if (this.faithful) return this.stepFaithful(pop, outcomes, fit, order, rng, t0);
    // Who is measured on the whole training set: the best, and distinct programs with zero error on the sample.
    const chosen = [order[0]];
    const seen = new Set<string>([pop[order[0]].join(",")]);
    for (const i of order) {
      if (chosen.length > TESTS_PER_GENERATION) break;
      if (outcomes[i].total !== 0) continue;
      const key = pop[i].join(",");
      if (seen.has(key)) continue;
      seen.add(key);
      chosen.push(i);
    }
    const full = sampled ? this.evaluate(chosen.map((i) => pop[i])) : chosen.map((i) => outcomes[i]);
    chosen.forEach((i, k) => this.offerBest(pop[i], full[k], s.generation));
    this.testSolvers(
      chosen.map((i) => pop[i]),
      full,
    );
    const stats = this.stats(pop, outcomes, order, full[0], block.count);
    s.history.push(stats);
    s.generation++;
    if (!this.finished) s.population = this.breed(pop, fit, order, block.count, rng);
    s.rng = rng.state();
    this.seconds += (performance.now() - t0) / 1000;
    return stats;
  }

  /**
   * The rest of a generation in the faithful presets: selection saw every
   * training case; the first individual (in population order) with zero
   * training error, if any, is the one program of the run tried on the
   * held-out cases, and the run ends either way.
   */
  private stepFaithful(pop: Genome[], outcomes: Outcome[], fit: Fitness[], order: number[], rng: Rng, t0: number): GenerationStats {
    const s = this.state;
    const first = outcomes.findIndex((o) => o.total === 0);
    const top = first >= 0 ? first : order[0];
    this.offerBest(pop[top], outcomes[top], s.generation);
    if (first >= 0) {
      const g = this.simplify(pop[first], rng);
      const o = g === pop[first] ? outcomes[first] : this.evaluate([g])[0];
      const [t] = this.heldOut([g]);
      s.best = { genome: g, generation: s.generation, train_error: 0, test_error: t.total, gas: o.gas, mem: o.mem, cost: fit[first].cost };
      if (t.total === 0) {
        s.solved = true;
        s.solvedGeneration = s.generation;
      }
    }
    const stats = this.stats(pop, outcomes, order, outcomes[order[0]], this.trainBlock.count);
    s.history.push(stats);
    s.generation++;
    if (!this.finished) s.population = this.breedPsb(pop, fit, order, rng);
    s.rng = rng.state();
    this.seconds += (performance.now() - t0) / 1000;
    return stats;
  }

  /**
   * Automatic simplification (as the reference does before its final
   * report): `config.simplify` steps, each removing one or two random genes
   * and keeping the result if it still has zero error on every training
   * case. Proposals are evaluated SIMPLIFY_BATCH at a time from the same
   * genome; the first that keeps zero error is taken and counts the steps up
   * to it (the same walk as one proposal at a time; every proposal run is
   * counted as evaluations).
   */
  private simplify(g: Genome, rng: Rng): Genome {
    let cur = g;
    let steps = this.config.simplify;
    while (steps > 0 && geneCount(cur) > 1) {
      const n = Math.min(SIMPLIFY_BATCH, steps);
      const proposals: Genome[] = [];
      for (let i = 0; i < n; i++) {
        const size = geneCount(cur);
        const drop = new Set<number>([rng.int(size)]);
        if (rng.chance(0.5) && size > 2) drop.add(rng.int(size));
        const out = newWords(2 * (size - drop.size));
        for (let j = 0, k = 0; j < size; j++) if (!drop.has(j)) ((out[k++] = cur[2 * j]), (out[k++] = cur[2 * j + 1]));
        proposals.push(out);
      }
      const results = this.evaluate(proposals);
      const ok = results.findIndex((o) => o.total === 0);
      if (ok < 0) steps -= n;
      else {
        steps -= ok + 1;
        cur = proposals[ok];
      }
    }
    return cur;
  }

  /** The next generation by the reference's operators (PSB_VARIATION); a child over the size limit is replaced by its first parent. */
  private breedPsb(pop: Genome[], fit: Fitness[], order: number[], rng: Rng): Genome[] {
    const cfg = this.config;
    const v = PSB_VARIATION;
    const lex = cfg.selection === "lexicase" ? new Lexicase(fit, this.trainBlock.count, cfg.pressure) : null;
    const select = (): Genome => pop[lex ? lex.select(rng) : tournament(fit, cfg.tournamentSize, cfg.pressure, rng)];
    const next: Genome[] = [];
    for (let i = 0; i < Math.min(cfg.elite, pop.length); i++) next.push(pop[order[i]]);
    while (next.length < cfg.pop) {
      const p = select();
      const r = rng.float();
      let child: Genome;
      if (r < v.alternation) child = alternation(p, select(), v.alternationRate, cfg.alignmentDeviation, rng);
      else if (r < v.alternation + v.mutation) child = uniformMutation(p, v.mutationRate, v.constantTweak, this.sampler, rng);
      else if (r < v.alternation + v.mutation + v.close) child = closeMutation(p, v.closeRate, v.closeIncrement, rng);
      else
        child = uniformMutation(alternation(p, select(), v.alternationRate, cfg.alignmentDeviation, rng), v.mutationRate, v.constantTweak, this.sampler, rng);
      next.push(geneCount(child) > cfg.maxSize ? p : child);
    }
    return next;
  }

  /** Evaluations per second of wall-clock time spent in step() by this object. */
  get evalsPerSecond(): number {
    return this.seconds > 0 ? Math.round((this.state.evaluations - this.startEvaluations) / this.seconds) : 0;
  }

  /** Runs to the end; `onGeneration` sees each generation's statistics. */
  run(onGeneration?: (s: GenerationStats) => void): void {
    while (!this.finished) {
      const st = this.step();
      onGeneration?.(st);
    }
    this.finish();
  }

  /** Measures the best program's test error if nothing did yet. */
  finish(): void {
    const b = this.state.best;
    if (b && b.test_error === null) {
      const [o] = this.heldOut([b.genome]);
      this.state.best = { ...b, test_error: o.total };
    }
  }

  /** Offers a program measured on all training cases as the best so far. */
  private offerBest(g: Genome, o: Outcome, gen: number): void {
    if (this.state.solved) return;
    const b = this.state.best;
    const f = fitness(o, geneCount(g), this.config);
    const wins =
      !b ||
      o.total < b.train_error ||
      (o.total === b.train_error && this.config.pressure !== "off" && f.cost < b.cost) ||
      (o.total === b.train_error && f.cost === b.cost && geneCount(g) < geneCount(b.genome));
    if (wins) this.state.best = { genome: g, generation: gen, train_error: o.total, test_error: null, gas: o.gas, mem: o.mem, cost: f.cost };
  }

  /** Tries programs with zero training error on the test cases; one that passes solves the run. */
  private testSolvers(genomes: Genome[], train: Outcome[]): void {
    const solvers = genomes.map((_, k) => k).filter((k) => train[k].total === 0);
    if (solvers.length === 0) return;
    const tests = this.heldOut(solvers.map((k) => genomes[k]));
    const s = this.state;
    for (let j = 0; j < solvers.length; j++) {
      if (tests[j].total !== 0) continue;
      const g = genomes[solvers[j]];
      const o = train[solvers[j]];
      s.best = { genome: g, generation: s.generation, train_error: 0, test_error: 0, gas: o.gas, mem: o.mem, cost: fitness(o, geneCount(g), this.config).cost };
      s.solved = true;
      s.solvedGeneration = s.generation;
      return;
    }
    // Keep the test error of the best if it was among those tried.
    const b = s.best;
    if (b && b.test_error === null && b.train_error === 0) {
      const j = solvers.findIndex((k) => sameWords(genomes[k], b.genome));
      if (j >= 0) s.best = { ...b, test_error: tests[j].total };
    }
  }

  private stats(pop: Genome[], outcomes: Outcome[], order: number[], bestFull: Outcome, sampleCases: number): GenerationStats {
    const scale = this.trainBlock.count / sampleCases;
    const totals = outcomes.map((o) => o.total).sort((a, b) => a - b);
    let sizes = 0;
    let oog = 0;
    let oom = 0;
    let faults = 0;
    for (let i = 0; i < pop.length; i++) {
      sizes += geneCount(pop[i]);
      oog += outcomes[i].stopped.out_of_gas;
      oom += outcomes[i].stopped.out_of_mem;
      faults += outcomes[i].stopped.fault;
    }
    const top = order[0];
    return {
      gen: this.state.generation,
      best_error: bestFull.total,
      median_error: Math.round(totals[(totals.length - 1) >> 1] * scale),
      best_size: geneCount(pop[top]),
      mean_size: Math.round((sizes / pop.length) * 100) / 100,
      best_gas: bestFull.gas,
      sample_cases: sampleCases,
      sample_solvers: totals.filter((t) => t === 0).length,
      out_of_gas: oog,
      out_of_mem: oom,
      faults,
      evaluations: this.state.evaluations,
    };
  }

  private breed(pop: Genome[], fit: Fitness[], order: number[], cases: number, rng: Rng): Genome[] {
    const cfg = this.config;
    const lex = cfg.selection === "lexicase" ? new Lexicase(fit, cases, cfg.pressure) : null;
    const select = (): number => (lex ? lex.select(rng) : tournament(fit, cfg.tournamentSize, cfg.pressure, rng));
    const next: Genome[] = [];
    for (let i = 0; i < Math.min(cfg.elite, pop.length); i++) next.push(pop[order[i]]);
    while (next.length < cfg.pop) {
      const p = pop[select()];
      let child = p;
      if (rng.chance(cfg.crossoverRate)) child = crossover(child, pop[select()], rng);
      child = umad(child, cfg.umadRate, this.sampler, rng);
      if (cfg.replaceRate > 0) child = replace(child, cfg.replaceRate, this.sampler, rng);
      next.push(geneCount(child) > cfg.maxSize ? p : child);
    }
    return next;
  }
}

/**
 * Values by code words, compared exactly; a hash of the words finds the ones
 * to compare (cheaper than a string key made of the words).
 */
class CodeTable<T> {
  private readonly byHash = new Map<number, { code: Int32Array; value: T }[]>();

  get(code: Int32Array): T | undefined {
    const list = this.byHash.get(hashWords(code));
    if (list) for (const e of list) if (sameWords(e.code, code)) return e.value;
    return undefined;
  }

  set(code: Int32Array, value: T): void {
    const h = hashWords(code);
    const list = this.byHash.get(h);
    if (!list) {
      this.byHash.set(h, [{ code, value }]);
      return;
    }
    for (const e of list)
      if (sameWords(e.code, code)) {
        e.value = value;
        return;
      }
    list.push({ code, value });
  }
}

/** Selection view of an outcome: weighted errors when pressure is "weighted". */
export function fitness(o: Outcome, size: number, cfg: GpConfig): Fitness {
  let cost = 0;
  for (let i = 0; i < o.cost.length; i++) cost += o.cost[i];
  if (cfg.pressure !== "weighted") return { errors: o.errors, total: o.total, cost, size };
  const errors = new Float64Array(o.errors.length);
  let total = 0;
  for (let i = 0; i < errors.length; i++) {
    errors[i] = o.errors[i] + cfg.pressureWeight * o.cost[i];
    total += errors[i];
  }
  return { errors, total, cost, size };
}
