import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildCandidate, compileGenome, declareHelpers, MAX_DEPTH, STACK_CAP, type Layout } from "../gp/compile.js";
import { encodeCases, outputOf, runBatch } from "../gp/evaluate.js";
import { G, GENE_INFO, GeneSampler, genomeText, parseGenome, SAFE_OPS } from "../gp/genome.js";
import { builtinProblem, PROBLEM_NAMES } from "../gp/problems.js";
import { Rng } from "../gp/random.js";
import { ModuleEmitter } from "../lang/emit.js";
import { OPS } from "../src/vm/opcodes.js";
import { verify } from "../src/vm/verify.js";

const scalar = (inputs: number, output: Layout["output"] = "int"): Layout => ({
  inputs,
  vector: false,
  scratch: 2,
  output,
  stride: inputs + 1,
  outCap: 24,
  strings: ["Fizz", "Buzz", "FizzBuzz"],
});
const vector: Layout = { inputs: 1, vector: true, scratch: 2, output: "int", stride: 51, outCap: 24, strings: [] };

/** Runs a genome (text form) on one case; returns its result, its printed string, or the status it stopped with. */
function runGenome(text: string, l: Layout, input: number[]): string {
  const m = buildCandidate(parseGenome(text), l);
  if (!m) throw new Error("did not verify");
  const block = encodeCases([{ input, output: 0 }], l.stride);
  const r = runBatch([m], block, { gas: 100_000, mem: 1 << 16 }, l);
  return outputOf(r, 0, 0, l);
}

/** Any (kind, arg) words at all: known and unknown kinds, any opcodes, any locals and constants. */
const anyGenome = fc
  .array(
    fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: GENE_INFO.length - 1 }), fc.integer({ min: -5, max: 40 })),
      fc.oneof(fc.integer({ min: -3, max: OPS.length + 2 }), fc.integer()),
    ),
    { maxLength: 120 },
  )
  .map((genes) => Int32Array.from(genes.flat()));

describe("genome -> module", () => {
  const layouts: [string, Layout][] = [
    ["scalar", scalar(4)],
    ["vector", vector],
    ["string", scalar(1, "string")],
    ["bool", scalar(3, "bool")],
    ["two vectors, vector output", { inputs: 2, vector: true, second: "vector", scratch: 2, output: "vector", stride: 102, outCap: 74, strings: [] }],
    ["vector and integer, two integer outputs", { inputs: 2, vector: true, second: "int", scratch: 2, output: "ints", stride: 22, outCap: 2, strings: [] }],
  ];

  for (const [name, l] of layouts)
    it(`every genome, even of arbitrary words, compiles to a module that verifies (${name} layout)`, () => {
      fc.assert(
        fc.property(anyGenome, (g) => {
          const m = verify(compileGenome(g, l));
          expect(m.maxStack[0]).toBeLessThanOrEqual(STACK_CAP + 2);
        }),
        { numRuns: 300 },
      );
    });

  it("every genome drawn from a problem's gene pool verifies", () => {
    for (const name of ["smallest", "count-odds", "gcd", "fizz-buzz", "even-parity", "mirror-image", "negative-to-zero", "vectors-summed", "find-pair"]) {
      const p = builtinProblem(name, 1);
      const sampler = new GeneSampler(p.pool);
      const rng = new Rng(7);
      for (let i = 0; i < 200; i++) expect(buildCandidate(sampler.genome(rng, rng.range(0, 150)), p.layout)).not.toBeNull();
    }
  });

  it("keeps only safe instructions: nothing that spawns, resumes, calls capabilities or yields", () => {
    fc.assert(
      fc.property(anyGenome, (g) => {
        const def = compileGenome(g, vector);
        const allowed = new Set(Object.values(SAFE_OPS).flat().map((op) => OPS[op].name));
        for (const n of ["PUSH", "LGET", "LSET", "LINC", "ADDI", "JZ", "JNZ", "JMP", "LOAD", "STORE", "CALL", "RET", "GT", "LT", "SWAP", "POP", "OVER", "EQZ", "AND", "OR", "MSIZE", "MGROW", "SUB"])
          allowed.add(n);
        const f = def.functions[0];
        for (let pc = f.entry; pc < f.end; pc += 1 + OPS[def.code[pc]].operands.length) expect(allowed).toContain(OPS[def.code[pc]].name);
      }),
      { numRuns: 200 },
    );
  });

  it("prints and parses genomes as the same genes", () => {
    const p = builtinProblem("fizz-buzz", 1);
    const sampler = new GeneSampler(p.pool);
    const rng = new Rng(3);
    for (let i = 0; i < 50; i++) {
      const g = sampler.genome(rng, 30);
      expect(parseGenome(genomeText(g))).toEqual(g);
    }
  });
});

describe("gene semantics", () => {
  it("MIN and MAX compute the minimum and maximum", () => {
    expect(runGenome("GET 0 GET 1 MIN GET 2 MIN GET 3 MIN", scalar(4), [5, -3, 7, 2])).toBe("-3");
    expect(runGenome("GET 0 GET 1 MAX GET 2 MAX", scalar(3), [5, -3, 7])).toBe("7");
  });

  it("drops genes whose operands are missing instead of underflowing", () => {
    expect(runGenome("ADD ADD GET 0 ADD SWAP", scalar(1), [9])).toBe("9");
    expect(runGenome("", scalar(1), [9])).toBe("0");
  });

  it("IF without ELSE pads the false path with zeros; IF/ELSE meet at the same height", () => {
    expect(runGenome("GET 0 IF PUSH 7 END", scalar(1), [1])).toBe("7");
    expect(runGenome("GET 0 IF PUSH 7 END", scalar(1), [0])).toBe("0");
    expect(runGenome("GET 0 IF PUSH 7 ELSE PUSH 8 END", scalar(1), [0])).toBe("8");
    expect(runGenome("GET 0 IF PUSH 7 PUSH 9 ELSE PUSH 8 END", scalar(1), [0])).toBe("0");
  });

  it("EACH visits every element of the input vector with INDEX as its position", () => {
    expect(runGenome("PUSH 0 EACH ADD END", vector, [3, 4, 5])).toBe("12");
    expect(runGenome("EACH EQZ IF INDEX SET 1 END END GET 1", vector, [0, 4, 0, 5])).toBe("2");
    expect(runGenome("PUSH 0 EACH PUSH 3 DIV ADDI -2 ADD END", vector, [12, 15])).toBe("5");
  });

  it("LOOP runs its body n times and WHILE runs while its top value is non-zero", () => {
    expect(runGenome("PUSH 1 GET 0 LOOP PUSH 2 MUL END", scalar(1), [10])).toBe("1024");
    // Euclid: while b != 0 { (a, b) = (b, a % b) }.
    expect(runGenome("GET 1 WHILE GET 0 GET 1 REM GET 1 SET 0 SET 1 GET 1 END GET 0", scalar(2), [54, 24])).toBe("6");
  });

  it("PRINTI, PRINTC and PRINTS write the output string", () => {
    const l = scalar(1, "string");
    expect(runGenome("GET 0 PRINTI", l, [-1234])).toBe('"-1234"');
    expect(runGenome("PRINTS 2 PUSH 33 PRINTC", l, [0])).toBe('"FizzBuzz!"');
    expect(runGenome("GET 0 PUSH 15 REM IF GET 0 PRINTI ELSE PRINTS 2 END", l, [30])).toBe('"FizzBuzz"');
    // The output area is bounded: extra characters are dropped.
    expect(runGenome("PUSH 100 LOOP PUSH 120 PRINTC END", l, [0])).toBe(JSON.stringify("x".repeat(24)));
  });

  it("NAND and NOR are AND and OR negated", () => {
    const l = scalar(2, "bool");
    expect(["00", "01", "10", "11"].map(([a, b]) => runGenome("GET 0 GET 1 NAND", l, [Number(a), Number(b)]))).toEqual(["1", "1", "1", "0"]);
    expect(["00", "01", "10", "11"].map(([a, b]) => runGenome("GET 0 GET 1 NOR", l, [Number(a), Number(b)]))).toEqual(["1", "0", "0", "0"]);
  });

  it(`nests blocks at most ${MAX_DEPTH} deep; deeper openers are inert`, () => {
    const deep = "PUSH 1 IF ".repeat(MAX_DEPTH + 2) + "PUSH 5 " + "END ".repeat(MAX_DEPTH + 2);
    expect(runGenome(deep, scalar(1), [0])).toBe("5");
  });

  it("compiles each gene kind named in the gene table", () => {
    for (let k = 1; k < GENE_INFO.length; k++) expect(genomeText(Int32Array.of(k, 1))).toMatch(GENE_INFO[k].name);
    expect(genomeText(Int32Array.of(G.Op, SAFE_OPS.arith[0]))).toBe("ADD");
  });
});

describe("output helpers emitted once and pasted", () => {
  it("give every problem's genomes the same module, word for word, as emitting the helpers afresh", () => {
    const names = PROBLEM_NAMES.filter((n) => n !== "even-parity-N");
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 120 }), (name, seed, size) => {
        const p = builtinProblem(name, seed, "faithful");
        const g = new GeneSampler(p.pool).genome(new Rng(seed), size);
        const pasted = compileGenome(g, p.layout, p.name);
        // The reference: the same main, then the helpers emitted where they land.
        const m = new ModuleEmitter();
        const main = pasted.functions[0];
        m.declare("main", 0, (f) => f.paste(pasted.code.slice(main.entry, main.end), main.entry, main.nlocals));
        declareHelpers(m, p.layout);
        const reference = m.build(p.name);
        expect(Array.from(pasted.code)).toEqual(Array.from(reference.code));
        expect(pasted.functions).toEqual(reference.functions);
      }),
      { numRuns: 80 },
    );
  });
});
