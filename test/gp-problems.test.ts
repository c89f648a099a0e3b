import { describe, expect, it } from "vitest";
import { problemFromCases } from "../gp/cases.js";
import { basement, builtinProblem, collatzTerms, fizzBuzz, fuelCost, luhn, permutations, sumOfSquares, type Case } from "../gp/problems.js";
import { levenshtein, codePoints } from "../gp/score.js";
import { RarError } from "../src/vm/errors.js";

const inputs = (cs: readonly Case[]): number[][] => cs.map((c) => c.input as number[]);
const has = (cs: readonly Case[], x: number[]): boolean => cs.some((c) => c.input.length === x.length && c.input.every((v, i) => v === x[i]));
const allIn = (cs: readonly Case[], lo: number, hi: number): boolean => cs.every((c) => c.input.every((v) => v >= lo && v <= hi));

describe("PSB1 generators", () => {
  it("smallest: 4 integers in [-100, 100], 100 train (5 hand-written edge cases first) and 1000 test, output the minimum", () => {
    const p = builtinProblem("smallest", 11);
    expect([p.train.length, p.test.length]).toEqual([100, 1000]);
    expect(inputs(p.train.slice(0, 5))).toEqual([[0, 0, 0, 0], [-44, -44, -7, -13], [0, 4, -99, -33], [-22, -22, -22, -22], [99, 100, 99, 100]]);
    for (const c of [...p.train, ...p.test]) {
      expect(c.input).toHaveLength(4);
      expect(c.output).toBe(Math.min(...c.input));
    }
    expect(allIn([...p.train, ...p.test], -100, 100)).toBe(true);
    // 10 + 5 cases where three or all four numbers are equal.
    const same = p.train.slice(5, 20).filter((c) => new Set(c.input).size <= 2);
    expect(same).toHaveLength(15);
  });

  it("median: 3 integers in [-100, 100]; 60/30/10 random / two equal / all equal train cases, 1000 test", () => {
    const p = builtinProblem("median", 5);
    expect([p.train.length, p.test.length]).toEqual([100, 1000]);
    expect(p.train.slice(60, 90).every((c) => new Set(c.input).size <= 2)).toBe(true);
    expect(p.train.slice(90).every((c) => new Set(c.input).size === 1)).toBe(true);
    for (const c of [...p.train, ...p.test]) expect(c.output).toBe(c.input.slice().sort((a, b) => a - b)[1]);
    expect(allIn([...p.train, ...p.test], -100, 100)).toBe(true);
  });

  it("count-odds: vectors of length <= 50 in [-1000, 1000] with the 32 edge cases (empty, -10..10, ...), 200 train, 2000 test", () => {
    const p = builtinProblem("count-odds", 2);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(p.train[0].input).toEqual([]);
    for (let x = -10; x <= 10; x++) expect(has(p.train.slice(0, 32), [x])).toBe(true);
    for (const x of [[-947], [-450], [303], [886], [0, 0], [0, 1], [7, 1], [-9, -1], [-11, 40], [944, 77]]) expect(has(p.train, x)).toBe(true);
    for (const c of [...p.train, ...p.test]) {
      expect(c.input.length).toBeLessThanOrEqual(50);
      expect(c.output).toBe(c.input.filter((v) => v % 2 !== 0).length);
    }
    expect(allIn([...p.train, ...p.test], -1000, 1000)).toBe(true);
    expect(p.train.slice(32, 41).every((c) => c.output === c.input.length && c.input.length > 0)).toBe(true);
    expect(p.train.slice(41, 50).every((c) => c.output === 0 && c.input.length > 0)).toBe(true);
  });

  it("last-index-of-zero: vectors of length 1..50 in [-50, 50] holding a zero, with the 72 edge cases; 150 train, 1000 test", () => {
    const p = builtinProblem("last-index-of-zero", 3);
    expect([p.train.length, p.test.length]).toEqual([150, 1000]);
    expect(permutations([0, 5, -8, 9])).toHaveLength(24);
    expect(permutations([0, 0, -8, 9])).toHaveLength(12);
    expect(permutations([0, 0, 0, 9])).toHaveLength(4);
    for (const x of [[0, 1], [1, 0], [7, 0], [0, 8], [0, -1], [-1, 0], [-7, 0], [0, -8], [9, 0, 0, 0], [0, 0, 0, 9]]) expect(has(p.train, x)).toBe(true);
    expect(p.train.slice(8, 38).every((c) => c.input.every((v) => v === 0))).toBe(true);
    for (const c of [...p.train, ...p.test]) {
      expect(c.input.length).toBeGreaterThanOrEqual(1);
      expect(c.input.length).toBeLessThanOrEqual(50);
      expect(c.input).toContain(0);
      expect(c.output).toBe(c.input.lastIndexOf(0));
    }
    expect(allIn([...p.train, ...p.test], -50, 50)).toBe(true);
  });
});

describe("PSB2 generators", () => {
  it("fuel-cost: vectors of length 1..20 in [6, 10000] with the 37 edge cases; 200 train, 2000 test", () => {
    const p = builtinProblem("fuel-cost", 4);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    for (const x of [[6], [17], [9998], [10000], [6, 6], [9, 10000], [10000, 10000], new Array(20).fill(6), new Array(20).fill(10000), new Array(15).fill(9)])
      expect(has(p.train.slice(0, 37), x)).toBe(true);
    for (const c of [...p.train, ...p.test]) {
      expect(c.input.length).toBeGreaterThanOrEqual(1);
      expect(c.input.length).toBeLessThanOrEqual(20);
      expect(c.output).toBe(fuelCost(c.input));
    }
    expect(allIn([...p.train, ...p.test], 6, 10000)).toBe(true);
    expect(fuelCost([6, 9, 10000])).toBe(0 + 1 + 3331);
  });

  it("gcd: two integers in [1, 1000000] with the 6 edge cases; 200 train, 2000 test", () => {
    const p = builtinProblem("gcd", 4);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(inputs(p.train.slice(0, 6))).toEqual([[1, 1], [4, 400000], [54, 24], [4200, 3528], [820000, 63550], [123456, 654321]]);
    expect(p.train.slice(0, 6).map((c) => c.output)).toEqual([1, 4, 6, 168, 2050, 3]);
    expect(allIn([...p.train, ...p.test], 1, 1_000_000)).toBe(true);
  });

  it("fizz-buzz: integers in [1, 1000000] with the 24 edge cases (1..20, 49995..50000); 200 train, 2000 test", () => {
    const p = builtinProblem("fizz-buzz", 4);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(p.train.slice(0, 24).map((c) => c.input[0])).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), 49995, 49998, 49999, 50000]);
    expect(p.train.slice(0, 16).map((c) => c.output)).toEqual(["1", "2", "Fizz", "4", "Buzz", "Fizz", "7", "8", "Fizz", "Buzz", "11", "Fizz", "13", "14", "FizzBuzz", "16"]);
    for (const c of [...p.train, ...p.test]) expect(c.output).toBe(fizzBuzz(c.input[0]));
    expect(allIn([...p.train, ...p.test], 1, 1_000_000)).toBe(true);
  });

  it("scores strings by Levenshtein distance", () => {
    const d = (a: string, b: string): number => levenshtein(codePoints(a), codePoints(b));
    expect(d("Fizz", "Fizz")).toBe(0);
    expect(d("Fizz", "Buzz")).toBe(2);
    expect(d("", "FizzBuzz")).toBe(8);
    expect(d("kitten", "sitting")).toBe(3);
  });
});

describe("other built-in problems", () => {
  it("quartic: x^4 + x^3 + x^2 + x, train on -10..10, test on held-out points", () => {
    const p = builtinProblem("quartic", 1);
    expect(p.train.map((c) => c.input[0])).toEqual(Array.from({ length: 21 }, (_, i) => i - 10));
    expect(p.train.find((c) => c.input[0] === 2)?.output).toBe(30);
    expect(p.test).toHaveLength(200);
  });

  it("even-parity-N: every one of the 2^N bit patterns, output 1 when an even number are set", () => {
    const p = builtinProblem("even-parity-4", 1);
    expect(p.train).toHaveLength(16);
    for (const c of p.train) expect(c.output).toBe(c.input.filter((b) => b === 1).length % 2 === 0 ? 1 : 0);
    expect(builtinProblem("even-parity", 1).train).toHaveLength(8);
  });

  it("draws the same data for the same seed and different data for another", () => {
    expect(builtinProblem("count-odds", 9).test).toEqual(builtinProblem("count-odds", 9).test);
    expect(builtinProblem("count-odds", 9).test).not.toEqual(builtinProblem("count-odds", 10).test);
  });

  it("rejects an unknown problem with a usage error naming the choices", () => {
    expect(() => builtinProblem("nope", 1)).toThrow(/unknown problem 'nope' \(choose from smallest, median/);
  });
});

describe("custom problems from a cases file", () => {
  const ok = { train: [{ input: [1, 2], output: 3 }], test: [{ input: [5, 5], output: 10 }] };

  it("builds a problem from valid cases", () => {
    const p = problemFromCases(ok, "f.json", "sum", 1);
    expect(p.name).toBe("sum");
    expect(p.layout.inputs).toBe(2);
    expect(p.layout.output).toBe("int");
  });

  for (const [what, json, message] of [
    ["a non-object", [1, 2], /one JSON object/],
    ["missing train", { test: [] }, /"train" must be an array/],
    ["an empty train", { train: [], test: [] }, /at least one case/],
    ["a non-integer input", { train: [{ input: [1.5], output: 1 }] }, /train\[0\]\.input\[0\] is not a 32-bit integer/],
    ["an out-of-range output", { train: [{ input: [1], output: 2 ** 40 }] }, /train\[0\]\.output must be a 32-bit integer or a string/],
    ["ragged scalar inputs", { train: [{ input: [1], output: 1 }, { input: [1, 2], output: 1 }] }, /every case needs 1 inputs/],
    ["mixed outputs", { train: [{ input: [1], output: 1 }, { input: [2], output: "x" }] }, /all integers or all strings/],
    ["an unknown field", { ...ok, extra: 1 }, /unknown field "extra"/],
    ["an unknown gene family", { ...ok, genes: ["teleport"] }, /unknown gene family "teleport"/],
  ] as const)
    it(`rejects ${what} with a RarError naming the field`, () => {
      let e: unknown;
      try {
        problemFromCases(json, "f.json", "f", 1);
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(RarError);
      expect((e as RarError).phase).toBe("usage");
      expect((e as RarError).message).toMatch(message);
      expect((e as RarError).message).toMatch(/^f\.json: /);
    });
});

describe("the added PSB1 and PSB2 integer / vector problems follow their definitions", () => {
  it("sum-of-squares: n in [1, 100]; train 1..5, 100 and 14 draws in [6, 99]; test all of 1..100", () => {
    for (const seed of [1, 2, 3]) {
      const p = builtinProblem("sum-of-squares", seed);
      expect([p.train.length, p.test.length]).toEqual([20, 100]);
      expect(inputs(p.train.slice(0, 6))).toEqual([[1], [2], [3], [4], [5], [100]]);
      expect(p.train.slice(6).every((c) => c.input[0] >= 6 && c.input[0] <= 99)).toBe(true);
      expect(inputs(p.test).map((x) => x[0]).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      for (const c of [...p.train, ...p.test]) expect(c.output).toBe((c.input[0] * (c.input[0] + 1) * (2 * c.input[0] + 1)) / 6);
    }
    expect(sumOfSquares(100)).toBe(338350);
  });

  it("collatz-numbers: n in [1, 10000]; 16 edge cases (1..10, 9999, 10000, the four longest), 184 draws in [11, 9998]; 2000 test", () => {
    const p = builtinProblem("collatz-numbers", 4);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(inputs(p.train.slice(0, 16)).map((x) => x[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9999, 10000, 6171, 6943, 7963, 9257]);
    expect([...p.train.slice(16), ...p.test].every((c) => c.input[0] >= 11 && c.input[0] <= 9998)).toBe(true);
    // The reference's own figures for the longest sequences in range.
    expect([6171, 6943, 7963, 9257].map(collatzTerms)).toEqual([262, 257, 252, 260]);
    expect([1, 2, 3, 6, 7].map(collatzTerms)).toEqual([1, 2, 8, 9, 17]);
    for (const c of p.train) expect(c.output).toBe(collatzTerms(c.input[0]));
  });

  it("basement: vectors of length 1..20 in [-100, 100] that reach a negative running sum; 35 edge cases; 200 train, 2000 test", () => {
    const p = builtinProblem("basement", 5);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(inputs(p.train.slice(0, 2))).toEqual([[-1], [-100]]);
    expect(p.train.slice(2, 10).every((c) => c.input.length === 2)).toBe(true);
    expect(p.train.slice(10, 20).every((c) => c.input.length === 3)).toBe(true);
    expect(p.train.slice(20, 35).every((c) => c.input.length === 20)).toBe(true);
    for (const c of [...p.train, ...p.test]) {
      expect(c.input.length).toBeGreaterThanOrEqual(1);
      expect(c.input.length).toBeLessThanOrEqual(20);
      // An independent statement of the answer: the prefix before it never goes negative, the prefix up to it does.
      const k = c.output as number;
      const prefix = (n: number): number => c.input.slice(0, n).reduce((a, b) => a + b, 0);
      for (let i = 1; i <= k; i++) expect(prefix(i)).toBeGreaterThanOrEqual(0);
      expect(prefix(k + 1)).toBeLessThan(0);
      expect(basement(c.input)).toBe(k);
    }
    expect(allIn([...p.train, ...p.test], -100, 100)).toBe(true);
    // The answer index is drawn uniformly: every index of a length-20 vector turns up among 2000 draws.
    expect(new Set(p.test.filter((c) => c.input.length === 20).map((c) => c.output)).size).toBeGreaterThan(10);
  });

  it("luhn: 16 digits; 20 edge cases, 180 random; 2000 test; the output is the Luhn sum", () => {
    const p = builtinProblem("luhn", 6);
    expect([p.train.length, p.test.length]).toEqual([200, 2000]);
    expect(p.train[1].input).toEqual(new Array(16).fill(9));
    for (const c of [...p.train, ...p.test]) {
      expect(c.input).toHaveLength(16);
      expect(c.input.every((d) => Number.isInteger(d) && d >= 0 && d <= 9)).toBe(true);
    }
    // 4 5 6 7 ... doubled at even positions: an independent statement.
    const ref = (ds: readonly number[]): number => ds.reduce((a, d, i) => a + (i % 2 === 0 ? [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][d] : d), 0);
    for (const c of [...p.train, ...p.test]) expect(c.output).toBe(ref(c.input));
    expect(luhn(new Array(16).fill(9))).toBe(144);
  });
});
