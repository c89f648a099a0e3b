import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCheckpoint, encodeCheckpoint } from "../gp/checkpoint.js";
import { GeneSampler, geneCount, type Genome } from "../gp/genome.js";
import { crossover, replace, umad } from "../gp/operators.js";
import { plotSvg } from "../gp/plot.js";
import { builtinProblem } from "../gp/problems.js";
import { Rng } from "../gp/random.js";
import { buildReport, deterministicPart } from "../gp/report.js";
import { GpRun, configFor, type GpConfig } from "../gp/run.js";
import { Lexicase, tournament, type Fitness } from "../gp/select.js";
import { RarError } from "../src/vm/errors.js";

const small = (problem: string, seed: number, over: Partial<GpConfig> = {}): GpRun => {
  const p = builtinProblem(problem, seed);
  return new GpRun(p, configFor(p, seed, { pop: 40, gens: 4, ...over }));
};

function finished(run: GpRun): GpRun {
  run.run();
  return run;
}

describe("determinism", () => {
  it("the same seed twice gives identical reports (all but the timing fields)", () => {
    for (const problem of ["smallest", "count-odds"]) {
      const a = deterministicPart(buildReport(finished(small(problem, 7, { pop: 30, gens: 3 }))));
      const b = deterministicPart(buildReport(finished(small(problem, 7, { pop: 30, gens: 3 }))));
      expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    }
  });

  it("different seeds give different runs", () => {
    const a = buildReport(finished(small("median", 1)));
    const b = buildReport(finished(small("median", 2)));
    expect(a.per_generation).not.toEqual(b.per_generation);
  });

  it("a run interrupted at a checkpoint and resumed ends exactly like an uninterrupted one", () => {
    const whole = finished(small("fuel-cost", 3, { gens: 5, pop: 30 }));
    const first = small("fuel-cost", 3, { gens: 5, pop: 30 });
    first.step();
    first.step();
    const text = encodeCheckpoint({ problem: { name: "fuel-cost" }, config: first.config, state: first.state });
    const ck = decodeCheckpoint(text, "ck.json");
    const resumed = finished(new GpRun(builtinProblem("fuel-cost", 3), ck.config, ck.state));
    expect(JSON.stringify(deterministicPart(buildReport(resumed)))).toBe(JSON.stringify(deterministicPart(buildReport(whole))));
  });

  it("a damaged or edited checkpoint is refused with a clear error", () => {
    const run = small("smallest", 1, { pop: 10 });
    run.step();
    const text = encodeCheckpoint({ problem: { name: "smallest" }, config: run.config, state: run.state });
    const edited = text.replace('"evaluations":', '"evaluations":1');
    expect(() => decodeCheckpoint(edited, "ck.json")).toThrow(/digest does not match/);
    expect(() => decodeCheckpoint("{", "ck.json")).toThrow(RarError);
    expect(() => decodeCheckpoint('{"format":"x"}', "ck.json")).toThrow(/not a rar gp checkpoint/);
  });

  it("draws the same random numbers from the same seed and state", () => {
    const a = new Rng(42);
    const seq = Array.from({ length: 5 }, () => a.u32());
    const b = new Rng(42);
    expect(Array.from({ length: 5 }, () => b.u32())).toEqual(seq);
    const c = Rng.fromState(new Rng(42).state());
    expect(c.u32()).toBe(seq[0]);
    expect(new Rng(43).u32()).not.toBe(seq[0]);
  });

  it("draws a fixed sequence (xoshiro128** seeded by splitmix32): a seed or checkpoint keeps naming the same run", () => {
    const a = new Rng(42, 2);
    expect(Array.from({ length: 6 }, () => a.u32())).toEqual([2493737463, 4098027096, 3246800805, 2025499289, 97121115, 1948134740]);
    const b = new Rng(-7, 1);
    for (let i = 0; i < 1000; i++) b.u32();
    expect(b.state()).toEqual([2335558297, 825811251, 4048646560, 3682473006]);
    expect(b.float()).toBe(0.49919127370230854);
    expect(b.int(1000)).toBe(616);
    expect(b.shuffle([1, 2, 3, 4, 5, 6, 7, 8])).toEqual([1, 3, 8, 7, 2, 4, 6, 5]);
    const c = Rng.fromState([2335558297, 825811251, 4048646560, 3682473006]);
    expect(c.float()).toBe(0.49919127370230854);
  });
});

describe("search", () => {
  it("solves smallest with its default gene set in a few generations", () => {
    const run = finished(small("smallest", 1, { pop: 200, gens: 10 }));
    expect(run.state.solved).toBe(true);
    expect(run.state.best?.test_error).toBe(0);
  });

  it("records per-generation statistics, counting every evaluation", () => {
    const run = finished(small("smallest", 2));
    const h = run.state.history;
    expect(h.length).toBe(run.state.generation);
    expect(h[0].evaluations).toBeGreaterThan(0);
    for (let i = 1; i < h.length; i++) expect(h[i].evaluations).toBeGreaterThan(h[i - 1].evaluations);
    for (const s of h) expect(s.best_error).toBeLessThanOrEqual(s.median_error);
  });

  it("with elitism the best training error never gets worse", () => {
    const run = finished(small("median", 4, { gens: 6, elite: 2 }));
    const errs = run.state.history.map((s) => s.best_error);
    for (let i = 1; i < errs.length; i++) expect(errs[i]).toBeLessThanOrEqual(errs[i - 1]);
  });

  it("tournament selection works as well as lexicase", () => {
    const run = finished(small("smallest", 5, { selection: "tournament" }));
    expect(run.state.history).toHaveLength(run.state.generation);
  });

  it("keeps every genome within the size limit", () => {
    const run = small("count-odds", 1, { maxSize: 30, initSize: 30, umadRate: 0.5 });
    run.step();
    run.step();
    for (const g of run.state.population) expect(geneCount(g)).toBeLessThanOrEqual(30);
  });
});

describe("selection", () => {
  const fit = (errors: number[], cost = 0, size = 1): Fitness => ({ errors: Float64Array.from(errors), total: errors.reduce((a, b) => a + b, 0), cost, size });

  it("lexicase picks only individuals that are best on some ordering of the cases", () => {
    const pop = [fit([0, 5, 5]), fit([5, 0, 5]), fit([5, 5, 0]), fit([4, 4, 4])];
    const lex = new Lexicase(pop, 3, "off");
    const rng = new Rng(1);
    const picked = new Set(Array.from({ length: 200 }, () => lex.select(rng)));
    expect(picked).toEqual(new Set([0, 1, 2]));
  });

  it("lexicase with resource tiebreak picks the cheapest of equally good individuals", () => {
    const pop = [fit([0, 0], 50), fit([0, 0], 10), fit([0, 0], 30), fit([1, 1], 0)];
    const lex = new Lexicase(pop, 2, "tiebreak");
    expect(lex.groups).toBe(2);
    const rng = new Rng(1);
    for (let i = 0; i < 20; i++) expect(lex.select(rng)).toBe(1);
  });

  it("tournament prefers lower error, then lower cost under pressure", () => {
    const pop = [fit([3]), fit([1], 9), fit([1], 2)];
    const rng = new Rng(3);
    const wins = Array.from({ length: 300 }, () => tournament(pop, 3, "tiebreak", rng));
    expect(wins.filter((w) => w === 2).length).toBeGreaterThan(wins.filter((w) => w === 1).length);
  });
});

describe("variation", () => {
  const p = builtinProblem("smallest", 1);
  const sampler = new GeneSampler(p.pool);
  const genome = fc.integer({ min: 0, max: 60 }).chain((n) => fc.integer().map((s) => sampler.genome(new Rng(s), n)));

  it("UMAD, replacement and crossover return whole genes and leave their inputs untouched", () => {
    fc.assert(
      fc.property(genome, genome, fc.integer(), (a: Genome, b: Genome, seed) => {
        const a0 = a.slice();
        const rng = new Rng(seed);
        for (const child of [umad(a, 0.2, sampler, rng), replace(a, 0.2, sampler, rng), crossover(a, b, rng)]) expect(child.length % 2).toBe(0);
        expect(replace(a, 0.2, sampler, rng).length).toBe(a.length);
        expect(a).toEqual(a0);
      }),
      { numRuns: 100 },
    );
  });

  it("UMAD keeps the expected size about the same", () => {
    const rng = new Rng(9);
    const g = sampler.genome(rng, 100);
    let total = 0;
    for (let i = 0; i < 200; i++) total += geneCount(umad(g, 0.09, sampler, rng));
    expect(total / 200).toBeGreaterThan(95);
    expect(total / 200).toBeLessThan(105);
  });
});

describe("plot", () => {
  it("draws the best and median error per generation as SVG, the same bytes for the same run", () => {
    const h = finished(small("smallest", 3)).state.history;
    const svg = plotSvg(h, "smallest");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("best error");
    expect(plotSvg(h, "smallest")).toBe(svg);
  });
});
