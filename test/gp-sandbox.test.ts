import { describe, expect, it } from "vitest";
import { buildCandidate } from "../gp/compile.js";
import { PROCESS_WORDS } from "../src/process/process.js";
import { encodeCases, evaluateAll, MAX_EVAL_GAS, runBatch, type Budget, type Outcome } from "../gp/evaluate.js";
import { parseGenome } from "../gp/genome.js";
import { builtinProblem } from "../gp/problems.js";
import type { Module } from "../src/vm/module.js";
import { StatusCode } from "../src/vm/opcodes.js";

const problem = builtinProblem("smallest", 1);
const train = encodeCases(problem.train.slice(0, 20), problem.layout.stride);
const budget: Budget = { gas: 500, mem: 2048 };

function candidate(text: string): Module {
  const m = buildCandidate(parseGenome(text), problem.layout, problem.name);
  if (!m) throw new Error(`${text} did not verify`);
  return m;
}

function evaluate(texts: string[], b: Budget = budget): { outcomes: Outcome[]; evaluations: number } {
  return evaluateAll(texts.map(candidate), train, problem, b, 0);
}

const SOLUTION = "GET 0 GET 1 MIN GET 2 MIN GET 3 MIN";
const HOSTILE = {
  loop: "PUSH 1 WHILE PUSH 1 END",
  allocate: "PUSH 1 WHILE PUSH 64 MGROW END",
  bomb: "PUSH 1000000000 MGROW",
  recurse: "RECURSE",
  fault: "PUSH 1 PUSH 0 DIV",
};

describe("measurement", () => {
  it("records exactly the gas a child used and its footprint when it stopped", () => {
    // Prologue: PUSH 0, LOAD, LSET per input (4 inputs); then LGET and RET: 14 instructions of 1 gas.
    const [o] = evaluate(["GET 0"]).outcomes;
    expect(o.gas).toBe(14 * train.count);
    // A finished child holds its bookkeeping words and its memory (the case block); its frame is released.
    expect(o.mem).toBe((PROCESS_WORDS + problem.layout.stride) * train.count);
    const [grown] = evaluate(["PUSH 100 MGROW"]).outcomes;
    expect(grown.mem).toBe((PROCESS_WORDS + problem.layout.stride + 100) * train.count);
  });

  it("records the same gas for the same case whatever ran before it (finished, faulted, printed)", () => {
    const fizz = builtinProblem("fizz-buzz", 1);
    const m = buildCandidate(parseGenome("GET 0 PUSH 2 REM IF PRINTS 2 GET 0 PRINTI ELSE PUSH 1 PUSH 0 DIV END"), fizz.layout, fizz.name);
    const xs = [1, 2, 3, 4, 1, 1, 2, 2, 3];
    const block = encodeCases(xs.map((x) => ({ input: [x], output: "" })), fizz.layout.stride);
    const r = runBatch([m as Module], block, budget, fizz.layout);
    const gas = xs.map((_, i) => r.words[i * r.rec + 2]);
    const byInput = new Map<number, Set<number>>();
    xs.forEach((x, i) => byInput.set(x, (byInput.get(x) ?? new Set()).add(gas[i])));
    for (const set of byInput.values()) expect(set.size).toBe(1);
    expect(gas[0]).toBeGreaterThan(0);
  });
});

describe("hostile candidates cost their budget and nothing more", () => {
  it("an infinite loop stops out_of_gas on every case after using exactly its gas limit", () => {
    const [o] = evaluate([HOSTILE.loop]).outcomes;
    expect(o.stopped.out_of_gas).toBe(train.count);
    expect(o.gas).toBe(budget.gas * train.count);
    expect(o.total).toBe(problem.penalty * train.count);
  });

  it("unbounded allocation stops out_of_mem within its memory limit", () => {
    const [o] = evaluate([HOSTILE.allocate]).outcomes;
    expect(o.stopped.out_of_mem).toBe(train.count);
    expect(o.mem / train.count).toBeGreaterThan(budget.mem - 64);
    expect(o.mem / train.count).toBeLessThanOrEqual(budget.mem);
  });

  it("one huge allocation stops its own child (out of gas for the copy), never the evaluator", () => {
    const [o] = evaluate([HOSTILE.bomb]).outcomes;
    expect(o.stopped.out_of_gas + o.stopped.out_of_mem).toBe(train.count);
    expect(o.gas / train.count).toBeLessThanOrEqual(budget.gas);
    expect(o.mem / train.count).toBeLessThanOrEqual(budget.mem);
  });

  it("unbounded recursion stops out_of_mem when its frames fill the memory limit", () => {
    const [o] = evaluate([HOSTILE.recurse], { gas: 100_000, mem: budget.mem }).outcomes;
    expect(o.stopped.out_of_mem).toBe(train.count);
    expect(o.mem / train.count).toBeGreaterThan(budget.mem - 64);
    expect(o.mem / train.count).toBeLessThanOrEqual(budget.mem);
  });

  it("deep recursion under a large memory limit stops without growing the host stack", () => {
    const big: Budget = { gas: 10_000_000, mem: 4_000_000 };
    const [o] = evaluateAll([candidate(HOSTILE.recurse)], encodeCases(problem.train.slice(0, 1), problem.layout.stride), problem, big, 0).outcomes;
    expect(o.stopped.out_of_mem).toBe(1);
    expect(o.mem).toBeLessThanOrEqual(big.mem);
  });

  it("a fault ends only its own case", () => {
    const [o] = evaluate([HOSTILE.fault]).outcomes;
    expect(o.stopped.fault).toBe(train.count);
  });

  it("a good program scores the same alone and next to hostile ones, in any order", () => {
    const alone = evaluate([SOLUTION]).outcomes[0];
    expect(alone.total).toBe(0);
    const mixed = evaluate([HOSTILE.loop, HOSTILE.recurse, SOLUTION, HOSTILE.bomb, HOSTILE.allocate, HOSTILE.fault]).outcomes[2];
    expect(mixed).toEqual(alone);
  });

  it("the evaluator finishes every case of every candidate and holds no child afterwards", () => {
    const mods = [SOLUTION, ...Object.values(HOSTILE)].map(candidate);
    const r = runBatch(mods, train, budget, problem.layout);
    for (let k = 0; k < mods.length; k++)
      for (let i = 0; i < train.count; i++) expect(r.words[(k * train.count + i) * r.rec]).not.toBe(StatusCode.READY);
  });

  it("a genome whose module does not verify is never run", () => {
    const { outcomes, evaluations } = evaluateAll([null, candidate(SOLUTION)], train, problem, budget, 0);
    expect(evaluations).toBe(train.count);
    expect(outcomes[0].total).toBe(problem.penalty * train.count);
    expect(outcomes[0].gas).toBe(0);
  });

  it("the largest gas limit measures the same as a small one", () => {
    const small = evaluate([SOLUTION]).outcomes[0];
    const huge = evaluate([SOLUTION], { gas: MAX_EVAL_GAS, mem: budget.mem }).outcomes[0];
    expect(huge).toEqual(small);
  });

  it("identical programs run once", () => {
    const { outcomes, evaluations } = evaluate([SOLUTION, SOLUTION, HOSTILE.loop]);
    expect(evaluations).toBe(2 * train.count);
    expect(outcomes[1]).toBe(outcomes[0]);
  });

  it("the same code in modules that differ otherwise (their digests differ) runs for each", () => {
    const a = candidate(SOLUTION);
    const b = buildCandidate(parseGenome(SOLUTION), problem.layout, "another-name") as Module;
    expect(b.code).toEqual(a.code);
    const { outcomes, evaluations } = evaluateAll([a, b, a], train, problem, budget, 0);
    expect(evaluations).toBe(2 * train.count);
    expect(outcomes[2]).toBe(outcomes[0]);
    expect(outcomes[1]).not.toBe(outcomes[0]);
  });
});
