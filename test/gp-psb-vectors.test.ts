// The two-input and vector-output PSB problems: mirror-image, negative-to-zero,
// vectors-summed (PSB1) and find-pair (PSB2). Their generators against the
// published definitions (ranges, lengths, case counts, edge cases), their
// error functions as the reference defines them, their genes by data type,
// and a hand-written program that scores zero on each.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildCandidate, secondAt, type Layout } from "../gp/compile.js";
import { encodeCases, evaluateAll, outputOf, runBatch, type Outcome } from "../gp/evaluate.js";
import { G, parseGenome } from "../gp/genome.js";
import { builtinProblem, GAS_PER_STEP, pairsSummingTo, PRESETS, typedPool, typesOf, type Case, type Preset, type Problem } from "../gp/problems.js";
import { LENGTH_PENALTY, outputsError, vectorError } from "../gp/score.js";

const vec = (x: Case["second"]): number[] => x as number[];
const out = (c: Case): number[] => c.output as number[];
const within = (xs: readonly number[], lo: number, hi: number): boolean => xs.every((x) => Number.isInteger(x) && x >= lo && x <= hi);
const reversed = (xs: readonly number[]): number[] => xs.slice().reverse();
const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Hand-written programs that solve each problem. */
const SOLUTIONS: Record<string, string> = {
  // Fold over the first vector; mismatches of v1[i] and v2[len2 - 1 - i] are OR-ed; lengths must agree.
  "mirror-image": "GET 0 GET 1 EQ EACH GET 1 INDEX SUB ADDI -1 ELEM2 NE OR END EQZ AND",
  "negative-to-zero": "OUTNEW EACH PUSH 0 MAX OUTV END",
  "vectors-summed": "OUTNEW EACH INDEX ELEM2 ADD OUTV END",
  // From the last element down, x and y = target - x are output when y is in the vector: the last write is the first x.
  "find-pair": "GET 0 LOOP INDEX ELEM SET 2 GET 1 GET 2 SUB SET 3 EACH GET 3 EQ OR END IF GET 2 OUT 0 GET 3 OUT 1 END END",
};

function score(p: Problem, text: string, cases: readonly Case[] = p.train): Outcome {
  const m = buildCandidate(parseGenome(text), p.layout, p.name);
  if (!m) throw new Error(`${text} did not verify`);
  return evaluateAll([m], encodeCases(cases, p.layout.stride), p, { gas: p.defaults.gas, mem: p.defaults.mem }, 0).outcomes[0];
}

describe("mirror-image (PSB1): two vectors -> is one the other reversed", () => {
  it("has 100 train / 1000 test cases, the 23 edge cases first, equal lengths in [0, 50], elements in [-1000, 1000]", () => {
    const p = builtinProblem("mirror-image", 3);
    expect([p.train.length, p.test.length]).toEqual([100, 1000]);
    expect(p.train[0]).toEqual({ input: [], second: [], output: 1 });
    expect(p.train.slice(1, 6).map((c) => [c.input, c.second])).toEqual([[[1], [1]], [[1], [0]], [[0], [1]], [[16], [-44]], [[-12], [-13]]]);
    expect(p.train.slice(6, 13).every((c) => c.input.length === 2)).toBe(true);
    const palindromes = p.train.slice(13, 17);
    expect(palindromes.map((c) => c.input.length)).toEqual([3, 9, 12, 50]);
    for (const c of palindromes) expect([same(c.input, vec(c.second)), same(c.input, reversed(c.input)), c.output]).toEqual([true, true, 1]);
    const perms = p.train.slice(17, 23);
    expect(new Set(perms.map((c) => vec(c.second).join(","))).size).toBe(6);
    for (const c of perms) expect(c.input).toEqual([33, 45, -941]);
    for (const c of [...p.train, ...p.test]) {
      expect(vec(c.second)).toHaveLength(c.input.length);
      expect(c.input.length).toBeLessThanOrEqual(50);
      expect(within([...c.input, ...vec(c.second)], -1000, 1000)).toBe(true);
      expect(c.output).toBe(same(c.input, reversed(vec(c.second))) ? 1 : 0);
    }
    for (const c of [...p.train.slice(23), ...p.test]) expect(c.input.length).toBeGreaterThanOrEqual(1);
    // 37 + 500 reversed pairs at least (equal vectors and changed ones are true only by chance).
    expect(p.train.slice(23, 60).every((c) => c.output === 1)).toBe(true);
    expect(p.test.slice(0, 500).every((c) => c.output === 1)).toBe(true);
    expect(p.test.slice(500, 600).every((c) => same(c.input, vec(c.second)))).toBe(true);
    // Close calls: the reverse with 1..5 positions redrawn.
    for (const c of p.test.slice(600, 800)) {
      const diff = reversed(c.input).filter((x, i) => x !== vec(c.second)[i]).length;
      expect(diff).toBeLessThanOrEqual(5);
    }
  });

  it("scores the returned boolean 0 or 1 per case, like the reference (max error 1)", () => {
    const p = builtinProblem("mirror-image", 1);
    expect(p.layout.output).toBe("bool");
    expect(p.penalty).toBe(1);
    const never = score(p, "PUSH 0");
    expect(never.total).toBe(p.train.filter((c) => c.output === 1).length);
  });
});

describe("negative-to-zero (PSB1): a vector -> negatives replaced by 0", () => {
  it("has 200 train / 2000 test cases, 17 edge cases first, lengths in [0, 50], elements in [-1000, 1000]", () => {
    const p = builtinProblem("negative-to-zero", 4);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(p.train[0].input).toEqual([]);
    expect(p.train.slice(1, 6).map((c) => c.input)).toEqual([[-10], [-1], [0], [1], [10]]);
    expect(p.train.slice(6, 11).every((c) => c.input.length === 1)).toBe(true);
    expect(p.train.slice(11, 17).map((c) => c.input)).toEqual([[0, 0], [0, 1], [-1, 0], [-90, -6], [-16, 33], [412, 111]]);
    // 9 all-negative and 9 non-negative train cases, 100 of each in test.
    expect(p.train.slice(17, 26).every((c) => c.input.length >= 1 && c.input.every((x) => x < 0))).toBe(true);
    expect(p.train.slice(26, 35).every((c) => c.input.length >= 1 && c.input.every((x) => x >= 0))).toBe(true);
    expect(p.test.slice(0, 100).every((c) => c.input.every((x) => x < 0))).toBe(true);
    expect(p.test.slice(100, 200).every((c) => c.input.every((x) => x >= 0))).toBe(true);
    for (const c of [...p.train, ...p.test]) {
      expect(c.input.length).toBeLessThanOrEqual(50);
      expect(within(c.input, -1000, 1000)).toBe(true);
      expect(out(c)).toEqual(c.input.map((x) => Math.max(0, x)));
    }
  });

  it("scores the Levenshtein distance of the vectors; no vector written is 5000", () => {
    const p = builtinProblem("negative-to-zero", 1);
    expect([p.layout.output, p.vectorError, p.penalty]).toEqual(["vector", "levenshtein", 5000]);
    expect(score(p, "PUSH 7").errors.every((e) => e === 5000)).toBe(true);
    // An empty vector: the distance is the expected length (the empty case scores 0).
    const empty = score(p, "OUTNEW");
    p.train.forEach((c, i) => expect(empty.errors[i]).toBe(out(c).length));
    // The input copied: one edit per negative element.
    const copy = score(p, "OUTNEW EACH OUTV END");
    p.train.forEach((c, i) => expect(copy.errors[i]).toBe(c.input.filter((x) => x < 0).length));
  });
});

describe("vectors-summed (PSB1): two vectors -> their element-wise sum", () => {
  it("has 150 train / 1500 test cases, 15 edge cases first, equal lengths in [0, 50], elements in [-1000, 1000]", () => {
    const p = builtinProblem("vectors-summed", 5);
    expect([p.train.length, p.test.length]).toEqual([150, 1500]);
    expect(p.train[0]).toMatchObject({ input: [], second: [] });
    expect(p.train.slice(1, 6).map((c) => [c.input, c.second])).toEqual([[[0], [0]], [[0], [10]], [[3], [5]], [[7], [-9]], [[-432], [-987]]]);
    expect(p.train.slice(6, 11).every((c) => c.input.length === 1)).toBe(true);
    expect(p.train.slice(11, 15).map((c) => [c.input, c.second])).toEqual([[[0, 0], [0, 0]], [[0, 1], [-4, 2]], [[-1, 0], [-3, 0]], [[-90, -6], [-323, 49]]]);
    expect(p.train.slice(15, 25).every((c) => c.input.length === 50)).toBe(true);
    expect(p.test.slice(0, 100).every((c) => c.input.length === 50)).toBe(true);
    for (const c of [...p.train, ...p.test]) {
      expect(vec(c.second)).toHaveLength(c.input.length);
      expect(c.input.length).toBeLessThanOrEqual(50);
      expect(within([...c.input, ...vec(c.second)], -1000, 1000)).toBe(true);
      expect(out(c)).toEqual(c.input.map((x, i) => x + vec(c.second)[i]));
    }
    expect([...p.train.slice(15), ...p.test].every((c) => c.input.length >= 1)).toBe(true);
  });

  it("scores |difference| at each position plus 10000 per element of length difference; no vector written is 10^9", () => {
    const p = builtinProblem("vectors-summed", 1);
    expect([p.layout.output, p.vectorError, p.penalty]).toEqual(["vector", "elementwise", 1_000_000_000]);
    expect(score(p, "PUSH 1").errors.every((e) => e === 1_000_000_000)).toBe(true);
    const empty = score(p, "OUTNEW");
    p.train.forEach((c, i) => expect(empty.errors[i]).toBe(LENGTH_PENALTY * out(c).length));
    // The first vector alone: off by the second at each position.
    const first = score(p, "OUTNEW EACH OUTV END");
    p.train.forEach((c, i) => expect(first.errors[i]).toBe(vec(c.second).reduce((a, x) => a + Math.abs(x), 0)));
  });
});

describe("find-pair (PSB2): a vector and a target -> the two elements that sum to it", () => {
  it("has 200 train / 2000 test cases, the 25 edge cases first, distinct elements in [-10000, 10000], lengths in [2, 20]", () => {
    const p = builtinProblem("find-pair", 6);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(p.train.slice(0, 10).every((c) => c.input.length === 2)).toBe(true);
    expect(p.train[0]).toEqual({ input: [5, 7], second: 12, output: [5, 7] });
    expect(p.train.slice(10, 25).every((c) => c.input.length === 3)).toBe(true);
    // The first pair in vector order: [1, 3, 5] with 6 is 1 + 5, not 3 + 3.
    expect(p.train[11]).toEqual({ input: [1, 3, 5], second: 6, output: [1, 5] });
    expect(p.train[13]).toEqual({ input: [-1, 0, 1], second: 0, output: [-1, 1] });
    // Drawn length 4 and 5 (duplicates dropped, as the reference does).
    expect(p.train.slice(25, 50).every((c) => c.input.length >= 2 && c.input.length <= 4)).toBe(true);
    expect(p.train.slice(50, 75).every((c) => c.input.length >= 2 && c.input.length <= 5)).toBe(true);
    for (const c of [...p.train, ...p.test]) {
      expect(c.input.length).toBeGreaterThanOrEqual(2);
      expect(c.input.length).toBeLessThanOrEqual(20);
      expect(new Set(c.input).size).toBe(c.input.length);
      expect(within(c.input, -10000, 10000)).toBe(true);
      const [x, y] = out(c);
      expect(x + y).toBe(c.second);
      expect(c.input.indexOf(x)).toBeGreaterThanOrEqual(0);
      expect(c.input.indexOf(y)).toBeGreaterThanOrEqual(0);
    }
    // Random cases have exactly one pair of distinct elements (in either order) summing to the target.
    for (const c of [...p.train.slice(25), ...p.test]) {
      const [x, y] = out(c);
      expect(x).not.toBe(y);
      expect(pairsSummingTo(c.input, c.second as number)).toHaveLength(2);
      expect(c.input.indexOf(x)).toBeLessThan(c.input.indexOf(y));
    }
  });

  it("scores each output's absolute error, 10^6 for an output never set, summed per case", () => {
    const p = builtinProblem("find-pair", 1);
    expect([p.layout.output, p.layout.outCap, p.penalty]).toEqual(["ints", 2, 2_000_000]);
    expect(score(p, "PUSH 1").errors.every((e) => e === 2_000_000)).toBe(true);
    const one = score(p, "PUSH 0 OUT 0");
    p.train.forEach((c, i) => expect(one.errors[i]).toBe(Math.min(Math.abs(out(c)[0]), 1_000_000) + 1_000_000));
    const target = score(p, "GET 1 OUT 1 PUSH 0 OUT 0");
    p.train.forEach((c, i) => expect(target.errors[i]).toBe(Math.abs(out(c)[0]) + Math.abs(out(c)[1] - (c.second as number))));
  });
});

describe("the generators follow their definitions for every seed", () => {
  it("ranges, lengths, counts and answers hold whatever the seed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const mirror = builtinProblem("mirror-image", seed);
        const neg = builtinProblem("negative-to-zero", seed);
        const sum = builtinProblem("vectors-summed", seed);
        const pair = builtinProblem("find-pair", seed);
        expect([mirror.train.length, mirror.test.length, neg.train.length, neg.test.length]).toEqual([100, 1000, 200, 2000]);
        expect([sum.train.length, sum.test.length, pair.train.length, pair.test.length]).toEqual([150, 1500, 200, 2000]);
        for (const c of [...mirror.train, ...mirror.test, ...sum.train, ...sum.test]) {
          expect(c.input.length === vec(c.second).length && c.input.length <= 50).toBe(true);
          expect(within([...c.input, ...vec(c.second)], -1000, 1000)).toBe(true);
        }
        for (const c of [...neg.train, ...neg.test]) expect(c.input.length <= 50 && within(c.input, -1000, 1000)).toBe(true);
        for (const c of [...pair.train, ...pair.test]) {
          expect(c.input.length >= 2 && c.input.length <= 20 && new Set(c.input).size === c.input.length).toBe(true);
          expect(within(c.input, -10000, 10000)).toBe(true);
          expect(out(c)).toEqual(pairsSummingTo(c.input, c.second as number)[0]);
        }
      }),
      { numRuns: 15 },
    );
  });

  it("the same seed gives the same cases", () => {
    for (const name of Object.keys(SOLUTIONS)) expect(builtinProblem(name, 9).test).toEqual(builtinProblem(name, 9).test);
  });
});

describe("a hand-written correct program scores zero", () => {
  for (const preset of PRESETS)
    for (const [name, text] of Object.entries(SOLUTIONS))
      it(`${name} (${preset}): zero error on every train and test case within the preset's gas`, () => {
        const p = builtinProblem(name, 2, preset);
        for (const cases of [p.train, p.test]) {
          const o = score(p, text, cases);
          expect(o.stopped).toEqual({ fault: 0, out_of_gas: 0, out_of_mem: 0 });
          expect(o.total).toBe(0);
        }
      });
});

describe("the reference's budgets in the faithful presets", () => {
  const budgets: [string, number, number, number][] = [
    // problem, max points (-> genes = points / 4), initial genes, steps
    ["mirror-image", 1200, 150, 600],
    ["negative-to-zero", 2000, 250, 1500],
    ["vectors-summed", 2000, 250, 1500],
    ["find-pair", 2000, 250, 2000],
  ];
  for (const [name, points, init, steps] of budgets)
    it(`${name}: ${points / 4} genes, ${init} initial, gas ${GAS_PER_STEP} x ${steps} steps`, () => {
      const p = builtinProblem(name, 1, "faithful");
      expect(p.defaults).toMatchObject({ pop: 1000, gens: 300, maxSize: points / 4, initSize: init, gas: GAS_PER_STEP * steps });
    });
});

describe("genes by data type: a second vector, a vector result, several integer results", () => {
  const kinds = (name: string, preset: Preset = "faithful"): Set<number> => new Set(builtinProblem(name, 1, preset).pool.templates.map((t) => t.kind));

  it("each problem's types follow its inputs and output", () => {
    expect(typesOf(builtinProblem("mirror-image", 1).layout)).toEqual(["int", "bool", "exec", "vector"]);
    expect(typesOf(builtinProblem("negative-to-zero", 1).layout)).toEqual(["int", "bool", "exec", "vector", "vector-out"]);
    expect(typesOf(builtinProblem("vectors-summed", 1).layout)).toEqual(["int", "bool", "exec", "vector", "vector-out"]);
    expect(typesOf(builtinProblem("find-pair", 1).layout)).toEqual(["int", "bool", "exec", "vector", "int-outs"]);
  });

  it("the genes of a type are in every problem that has it, and in no other", () => {
    for (const preset of PRESETS) {
      for (const name of ["mirror-image", "vectors-summed"]) expect(kinds(name, preset).has(G.Elem2)).toBe(true);
      for (const name of ["count-odds", "negative-to-zero", "find-pair", "smallest"]) expect(kinds(name, preset).has(G.Elem2)).toBe(false);
      for (const name of ["negative-to-zero", "vectors-summed"]) for (const k of [G.OutV, G.OutNew]) expect(kinds(name, preset).has(k)).toBe(true);
      for (const name of ["count-odds", "mirror-image", "find-pair", "fizz-buzz"]) expect(kinds(name, preset).has(G.OutV)).toBe(false);
      expect(kinds("find-pair", preset).has(G.Out)).toBe(true);
      for (const name of ["count-odds", "negative-to-zero", "smallest"]) expect(kinds(name, preset).has(G.Out)).toBe(false);
    }
    // One OUT gene per output.
    expect(builtinProblem("find-pair", 1, "faithful").pool.templates.filter((t) => t.kind === G.Out).map((t) => t.arg)).toEqual([0, 1]);
  });

  it("the same rule as the other problems: negative-to-zero is count-odds plus the vector-result genes", () => {
    const co = builtinProblem("count-odds", 1, "faithful").pool.templates.map((t) => `${t.kind}:${t.arg}`);
    const nz = builtinProblem("negative-to-zero", 1, "faithful").pool.templates.map((t) => `${t.kind}:${t.arg}`);
    expect(nz.filter((k) => !co.includes(k)).sort()).toEqual([`${G.OutV}:0`, `${G.OutNew}:0`].sort());
    expect(co.filter((k) => !nz.includes(k))).toEqual([]);
    // A layout with a second vector gets ELEM2 whatever the problem.
    const l = { inputs: 2, vector: true, second: "vector" as const, scratch: 2, strings: [], output: "int" as const, outCap: 24 };
    expect(typedPool(l, [], [-1, 1]).templates.some((t) => t.kind === G.Elem2)).toBe(true);
  });
});

describe("case blocks and genes of the new layouts", () => {
  const two: Layout = { inputs: 2, vector: true, second: "vector", scratch: 2, output: "vector", stride: 12, outCap: 8, strings: [] };
  const withInt: Layout = { inputs: 2, vector: true, second: "int", scratch: 2, output: "ints", stride: 7, outCap: 2, strings: [] };

  function run(text: string, l: Layout, c: Case): string {
    const m = buildCandidate(parseGenome(text), l);
    if (!m) throw new Error("did not verify");
    return outputOf(runBatch([m], encodeCases([c], l.stride), { gas: 100_000, mem: 1 << 16 }, l), 0, 0, l);
  }

  it("lays out a second vector at stride / 2 and an integer in the last word", () => {
    expect(Array.from(encodeCases([{ input: [1, 2], second: [3, 4, 5], output: [] }], 12).words)).toEqual([2, 1, 2, 0, 0, 0, 3, 3, 4, 5, 0, 0]);
    expect(secondAt(12, "vector")).toBe(6);
    expect(Array.from(encodeCases([{ input: [1, 2], second: 9, output: [] }], 7).words)).toEqual([2, 1, 2, 0, 0, 0, 9]);
  });

  it("GET 1 is the second input; ELEM2 reads the second vector; OUTV appends, OUTNEW empties", () => {
    const c: Case = { input: [1, 2], second: [30, 40, 50], output: [] };
    expect(run("OUTNEW GET 1 OUTV PUSH 2 ELEM2 OUTV", two, c)).toBe("[3,50]");
    expect(run("GET 0", two, c)).toBe("no output");
    expect(run("OUTNEW", two, c)).toBe("[]");
    expect(run("PUSH 5 OUTV PUSH 6 OUTV OUTNEW PUSH 7 OUTV", two, c)).toBe("[7]");
    // Full: extra elements are dropped.
    expect(run("PUSH 9 LOOP INDEX OUTV END", two, c)).toBe("[8,7,6,5,4,3,2,1]");
  });

  it("OUT k sets integer output k (the unset ones show as -)", () => {
    const c: Case = { input: [4, 5], second: 9, output: [] };
    expect(run("GET 1 OUT 1", withInt, c)).toBe("- 9");
    expect(run("PUSH 0 ELEM OUT 0 PUSH 1 ELEM OUT 1", withInt, c)).toBe("4 5");
  });
});

describe("vector and several-output errors", () => {
  it("element-wise: the positions both have, plus the length penalty; capped", () => {
    expect(vectorError([1, 2, 3], [1, 2, 3], "elementwise", 1e9)).toBe(0);
    expect(vectorError([1, 2, 3], [2, 0], "elementwise", 1e9)).toBe(1 + 2 + LENGTH_PENALTY);
    expect(vectorError([], [5, 5], "elementwise", 1e9)).toBe(2 * LENGTH_PENALTY);
    expect(vectorError([1], [1, 2, 3], "elementwise", 15_000)).toBe(15_000);
  });

  it("levenshtein: edits between the vectors", () => {
    expect(vectorError([0, 5, 0], [5, 0], "levenshtein", 5000)).toBe(1);
    expect(vectorError([1, 2], [], "levenshtein", 5000)).toBe(2);
  });

  it("several outputs: per output |error| or the per-output penalty when unset", () => {
    const w = Int32Array.from([7, 12]);
    expect(outputsError([7, 10], 0b11, w, 0, 1e6)).toBe(2);
    expect(outputsError([7, 10], 0b01, w, 0, 1e6)).toBe(1e6);
    expect(outputsError([7, 10], 0, w, 0, 1e6)).toBe(2e6);
  });
});
