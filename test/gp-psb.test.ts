// The faithful PSB presets: one program per run on the held-out cases, the
// same report for the same seed, gene pools by data type, the reference's
// variation operators, printed output scored 0/1.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCheckpoint, encodeCheckpoint } from "../gp/checkpoint.js";
import type { CaseBlock } from "../gp/evaluate.js";
import { G, GeneSampler, geneCount, parseGenome, type Genome } from "../gp/genome.js";
import { alternation, closeMutation, uniformMutation } from "../gp/operators.js";
import { builtinProblem, GAS_PER_STEP, TYPE_FAMILIES, typesOf, type Preset } from "../gp/problems.js";
import { Rng } from "../gp/random.js";
import { buildReport, deterministicPart } from "../gp/report.js";
import { GpRun, configFor, type GpConfig } from "../gp/run.js";

const MIN4 = "GET 0 GET 1 MIN GET 2 MIN GET 3 MIN PRINTI";

function faithful(problem: string, seed: number, over: Partial<GpConfig> = {}, preset: Preset = "faithful"): GpRun {
  const p = builtinProblem(problem, seed, preset);
  return new GpRun(p, configFor(p, seed, { pop: 30, gens: 3, ...over }));
}

/** Counts the genomes evaluated on the held-out cases, whatever path they take. */
function spyHeldOut(run: GpRun): Genome[][] {
  const calls: Genome[][] = [];
  const testCount = run.problem.test.length;
  const original = run.evaluate.bind(run);
  run.evaluate = (genomes: readonly Genome[], block?: CaseBlock) => {
    if (block !== undefined && block.count === testCount) calls.push(genomes.slice());
    return original(genomes, block);
  };
  return calls;
}

describe("faithful preset: the reference setup", () => {
  it("takes the reference's population, generations, sizes and step budget, with gas per step stated", () => {
    const p = builtinProblem("smallest", 1, "faithful");
    const c = configFor(p, 1);
    expect(c).toMatchObject({ preset: "faithful", pop: 1000, gens: 200, maxSize: 200, initSize: 100, gas: GAS_PER_STEP * 200, elite: 0, pressure: "off", downsample: 1, selection: "lexicase" });
    expect(configFor(builtinProblem("count-odds", 1, "faithful"), 1)).toMatchObject({ pop: 1000, gens: 300, maxSize: 500, gas: GAS_PER_STEP * 1500 });
    expect(configFor(builtinProblem("smallest", 1, "pressure"), 1)).toMatchObject({ preset: "pressure", pressure: "tiebreak", gens: 200 });
    expect(configFor(builtinProblem("smallest", 1), 1)).toMatchObject({ preset: "tuned", pop: 500, elite: 1 });
  });

  it("scores printed output 0 or 1 per case where the reference prints", () => {
    const run = faithful("smallest", 2);
    const [right, silent, wrong] = run.evaluate([parseGenome(MIN4), parseGenome("GET 0 GET 1 MIN GET 2 MIN GET 3 MIN"), parseGenome("GET 0 PRINTI")]);
    expect(right.total).toBe(0);
    expect(silent.total).toBe(run.problem.train.length);
    expect(wrong.total).toBeGreaterThan(0);
    expect(Math.max(...wrong.errors)).toBe(1);
    expect(run.problem.train.every((c) => typeof c.output === "string")).toBe(true);
    // count-odds returns an integer in the reference too: absolute error.
    expect(builtinProblem("count-odds", 1, "faithful").layout.output).toBe("int");
  });
});

describe("faithful preset: exactly one program per run on the held-out cases", () => {
  it("tries only the first training solver, even when others in the generation solve too", () => {
    const run = faithful("smallest", 3, { simplify: 0 });
    const solver = parseGenome(MIN4);
    const other = parseGenome(`${MIN4} GET 0 POP`);
    run.state.population[7] = other;
    run.state.population[12] = solver;
    run.state.population[20] = solver;
    const calls = spyHeldOut(run);
    run.run();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(1);
    expect(calls[0][0]).toEqual(other);
    expect(run.state.heldOutTests).toBe(1);
    expect(run.state.solved).toBe(true);
    expect(run.state.generation).toBe(1);
    expect(buildReport(run).held_out_tests).toBe(1);
  });

  it("a run that never solves the training cases tests its best once, at the end", () => {
    const run = faithful("median", 4, { pop: 20, gens: 2 });
    const calls = spyHeldOut(run);
    run.run();
    expect(run.state.solved).toBe(false);
    expect(calls.map((c) => c.length)).toEqual([1]);
    expect(run.state.heldOutTests).toBe(1);
  });

  it("simplifies the solver first (keeping zero training error), and still tests one program", () => {
    const run = faithful("smallest", 5, { simplify: 200 });
    run.state.population[0] = parseGenome(`PUSH 3 POP ${MIN4} GET 1 POP GET 2 GET 3 ADD POP`);
    const calls = spyHeldOut(run);
    run.run();
    expect(calls).toHaveLength(1);
    const tested = calls[0][0];
    expect(geneCount(tested)).toBeLessThanOrEqual(8);
    expect(run.evaluate([tested])[0].total).toBe(0);
    expect(run.state.best?.test_error).toBe(0);
  });

  it("the tuned preset still tries several solvers per generation (and says which preset ran)", () => {
    const p = builtinProblem("smallest", 3);
    const run = new GpRun(p, configFor(p, 3, { pop: 30, gens: 1 }));
    run.state.population[1] = parseGenome(`${MIN4.replace(" PRINTI", "")} GET 0 POP`);
    run.state.population[2] = parseGenome(`GET 0 POP ${MIN4.replace(" PRINTI", "")}`);
    run.run();
    expect(buildReport(run).preset).toBe("tuned");
    expect(run.state.heldOutTests).toBeGreaterThanOrEqual(1);
  });
});

describe("faithful preset: determinism", () => {
  it("the same seed gives the same report (all but the timing fields), for faithful and pressure", () => {
    for (const preset of ["faithful", "pressure"] as const)
      for (const problem of ["smallest", "last-index-of-zero"]) {
        const a = faithful(problem, 7, { gens: 3, initSize: 30 }, preset);
        a.run();
        const b = faithful(problem, 7, { gens: 3, initSize: 30 }, preset);
        b.run();
        expect(JSON.stringify(deterministicPart(buildReport(a)))).toBe(JSON.stringify(deterministicPart(buildReport(b))));
      }
  });

  it("a faithful checkpoint resumes exactly", () => {
    const whole = faithful("count-odds", 2, { pop: 20, gens: 3 });
    whole.run();
    const first = faithful("count-odds", 2, { pop: 20, gens: 3 });
    first.step();
    const ck = decodeCheckpoint(encodeCheckpoint({ problem: { name: "count-odds", preset: "faithful" }, config: first.config, state: first.state }), "ck.json");
    expect(ck.config.preset).toBe("faithful");
    const resumed = new GpRun(builtinProblem("count-odds", 2, "faithful"), ck.config, ck.state);
    resumed.run();
    expect(JSON.stringify(deterministicPart(buildReport(resumed)))).toBe(JSON.stringify(deterministicPart(buildReport(whole))));
  });
});

describe("gene sets by data type", () => {
  const kinds = (name: string): string[] =>
    builtinProblem(name, 1, "faithful")
      .pool.templates.filter((t) => t.kind !== G.Get && t.kind !== G.Set && t.kind !== G.Inc)
      .map((t) => `${t.kind}:${t.arg}`)
      .sort();

  it("problems with the same data types get the same genes (only inputs differ), all equally likely", () => {
    expect(kinds("median")).toEqual(kinds("smallest"));
    expect(kinds("last-index-of-zero")).toEqual(kinds("count-odds"));
    for (const name of ["smallest", "count-odds"]) for (const t of builtinProblem(name, 1, "faithful").pool.templates) expect(t.weight).toBe(1);
  });

  it("holds every family of the problem's types, and nothing twice", () => {
    const p = builtinProblem("count-odds", 1, "faithful");
    expect(typesOf(p.layout)).toEqual(["int", "bool", "exec", "vector"]);
    const keys = p.pool.templates.map((t) => `${t.kind}:${t.arg}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of [G.Each, G.Elem, G.Index, G.Load, G.Store, G.If, G.Loop, G.While, G.Recurse, G.Min, G.Nand, G.Push, G.AddI]) expect(p.pool.templates.some((t) => t.kind === k)).toBe(true);
    expect(TYPE_FAMILIES.vector).toContain("each");
    expect(builtinProblem("smallest", 1, "faithful").pool.templates.some((t) => t.kind === G.PrintI)).toBe(true);
    expect(builtinProblem("smallest", 1, "faithful").pool.templates.some((t) => t.kind === G.Each)).toBe(false);
  });
});

describe("the reference's variation operators", () => {
  const p = builtinProblem("count-odds", 1, "faithful");
  const sampler = new GeneSampler(p.pool);
  const genome = fc.integer({ min: 0, max: 60 }).chain((n) => fc.integer().map((s) => sampler.genome(new Rng(s), n)));

  it("alternation copies whole genes of its parents, each parent's genes in order, never longer than both together", () => {
    fc.assert(
      fc.property(genome, genome, fc.integer(), (a: Genome, b: Genome, seed) => {
        // Tag the parents' genes so every copied gene says where it came from.
        const tag = (g: Genome, base: number): Genome => g.map((w, i) => (i % 2 === 1 ? base + (i >> 1) : w));
        const ta = tag(a, 0);
        const tb = tag(b, 100_000);
        const child = alternation(ta, tb, 0.2, 5, new Rng(seed));
        expect(child.length % 2).toBe(0);
        expect(geneCount(child)).toBeLessThanOrEqual(geneCount(a) + geneCount(b));
        for (let i = 0; i < child.length; i += 2) {
          const src = child[i + 1] >= 100_000 ? tb : ta;
          const j = child[i + 1] >= 100_000 ? child[i + 1] - 100_000 : child[i + 1];
          expect(child[i]).toBe(src[2 * j]);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("alternation at rate 0 copies one parent whole", () => {
    const a = sampler.genome(new Rng(1), 20);
    const b = sampler.genome(new Rng(2), 30);
    const c = alternation(a, b, 0, 10, new Rng(3));
    expect([a, b].some((x) => x.length === c.length && x.every((w, i) => w === c[i]))).toBe(true);
  });

  it("uniform mutation keeps the size and changes about rate x genes; close mutation only adds or removes END genes", () => {
    const rng = new Rng(4);
    const g = sampler.genome(rng, 200);
    let changed = 0;
    for (let k = 0; k < 50; k++) {
      const m = uniformMutation(g, 0.01, 0.5, sampler, rng);
      expect(m.length).toBe(g.length);
      for (let i = 0; i < g.length; i += 2) if (m[i] !== g[i] || m[i + 1] !== g[i + 1]) changed++;
    }
    expect(changed / 50).toBeGreaterThan(0.5);
    expect(changed / 50).toBeLessThan(5);
    const c = closeMutation(g, 0.5, 0.5, rng);
    const strip = (x: Genome): number[] => Array.from(x).filter((_, i) => i % 2 === 0 && x[i] !== G.End);
    expect(strip(c)).toEqual(strip(g));
    expect(c.length).not.toBe(g.length);
  });
});
