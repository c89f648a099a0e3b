// The evaluator runs each candidate on each case as a child process it
// spawns, runs and kills (Machine.spawnChild) and reads the VM's meters of
// that child. Whatever a candidate does, what it records must be exactly what
// the same program does when it runs alone as a root under the same limits.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildCandidate, compileGenome, hasOutArea } from "../gp/compile.js";
import { encodeCases, runBatch, type Budget } from "../gp/evaluate.js";
import { GeneSampler } from "../gp/genome.js";
import { builtinProblem, type Problem } from "../gp/problems.js";
import { Rng } from "../gp/random.js";
import { warmUp } from "../gp/warmup.js";
import { Machine } from "../src/process/scheduler.js";
import { encodeModule, type Module } from "../src/vm/module.js";
import { StatusCode } from "../src/vm/opcodes.js";
import { verify } from "../src/vm/verify.js";

/** Runs a module alone as a root on one case block; what the evaluator should have recorded. */
function alone(m: Module, words: Int32Array, budget: Budget): { status: number; value: number; gas: number; mem: number; memory: Int32Array } {
  const machine = new Machine();
  const root = machine.createRoot(m, 0, [], budget, [], words.slice());
  machine.run(root);
  return { status: root.status, value: root.value, gas: root.gasUsed, mem: root.memUsed, memory: root.mem.slice(0, root.memSize) };
}

function check(problem: Problem, seed: number, budget: Budget, count: number, allPaths = true): void {
  const rng = new Rng(seed, 9);
  const sampler = new GeneSampler(problem.pool);
  const modules: Module[] = [];
  while (modules.length < count) {
    const m = buildCandidate(sampler.genome(rng, rng.range(1, 40)), problem.layout, problem.name);
    if (m) modules.push(m);
  }
  const block = encodeCases(problem.train.slice(0, 6), problem.layout.stride);
  const r = runBatch(modules, block, budget, problem.layout);
  const seen = new Set<number>();
  for (let k = 0; k < modules.length; k++) {
    for (let i = 0; i < block.count; i++) {
      const o = (k * block.count + i) * r.rec;
      const a = alone(modules[k], block.words.subarray(i * block.stride, (i + 1) * block.stride), budget);
      seen.add(a.status);
      expect(r.words[o]).toBe(a.status);
      expect(r.words[o + 2]).toBe(a.gas);
      expect(r.words[o + 3]).toBe(a.mem);
      if (a.status === StatusCode.DONE) {
        expect(r.words[o + 1]).toBe(a.value);
        if (hasOutArea(problem.layout)) {
          const out = a.memory.subarray(problem.layout.stride, problem.layout.stride + 1 + problem.layout.outCap);
          expect(Array.from(r.words.subarray(o + 4, o + 4 + out.length))).toEqual(Array.from(out));
        }
      }
    }
  }
  if (!allPaths) return;
  // Enough random programs finish and stop: both paths of the evaluator were taken.
  expect(seen.has(StatusCode.DONE)).toBe(true);
  expect(seen.size).toBeGreaterThan(1);
}

describe("the evaluator records what each program does alone", () => {
  it("integer problems: status, result, gas and footprint of every case", () => {
    check(builtinProblem("smallest", 2), 1, { gas: 300, mem: 2048 }, 40);
    check(builtinProblem("fuel-cost", 3), 2, { gas: 500, mem: 4096 }, 40);
  });

  it("a string problem: the output area too", () => {
    check(builtinProblem("fizz-buzz", 4), 3, { gas: 800, mem: 4096 }, 30);
  });

  it("two-input, vector and several-integer problems: the output area too", () => {
    check(builtinProblem("vectors-summed", 4), 5, { gas: 800, mem: 4096 }, 30);
    check(builtinProblem("negative-to-zero", 4, "faithful"), 6, { gas: 800, mem: 4096 }, 30);
    check(builtinProblem("find-pair", 4), 7, { gas: 800, mem: 4096 }, 30);
    check(builtinProblem("mirror-image", 4), 8, { gas: 800, mem: 4096 }, 30);
  });

  it("tight limits: out of gas and out of memory are recorded as alone", () => {
    check(builtinProblem("count-odds", 5), 4, { gas: 60, mem: 300 }, 40);
  });

  it("for any seed", () => {
    const problem = builtinProblem("median", 6);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 << 30 }), (seed) => check(problem, seed, { gas: 200, mem: 1024 }, 8, false)),
      { numRuns: 10 },
    );
  });
});

describe("host-side economies", () => {
  it("every verified module has the same fields in the same order, whatever its definition holds", () => {
    const problem = builtinProblem("fizz-buzz", 1);
    const g = new GeneSampler(problem.pool).genome(new Rng(2), 30);
    const def = compileGenome(g, problem.layout, problem.name);
    const plain = verify({ name: def.name, caps: def.caps, functions: def.functions, code: def.code });
    const m = verify(def);
    expect(m.digest).toBe(plain.digest);
    expect(encodeModule(m)).toEqual(encodeModule(plain));
    for (const key of ["maxStack", "frameCost", "nparams", "nlocals", "entries", "bytes", "fast", "callInfo", "heights"] as const)
      expect(Array.from(m[key])).toEqual(Array.from(plain[key]));
    expect(Object.keys(m)).toEqual(Object.keys(plain));
  });

  it("the warm-up runs its programs without a host error, once", () => {
    expect(() => warmUp()).not.toThrow();
    expect(() => warmUp()).not.toThrow();
  });
});
