// Custom problems from a JSON file of cases (`rar gp --cases FILE.json`). The
// file is untrusted input: every field is checked, and anything wrong is one
// RarError naming the field (the CLI exits 2).
//
//   {
//     "name": "abs",                       optional; defaults to the file's stem
//     "description": "...",                optional
//     "input": "ints",                     "ints" (k scalars, same k in every case) or "vector"
//     "output": "int",                     "int" | "bool" | "string"; default: string if outputs are strings
//     "train": [{"input": [-3], "output": 3}, ...],
//     "test":  [{"input": [7], "output": 7}, ...],
//     "constants": [0, 1],                 optional, for PUSH / ADDI
//     "strings": ["yes", "no"],            optional, for PRINTS (string output)
//     "genes": ["stack", "arith", ...],    optional gene families (see spec/gp.md)
//     "penalty": 1000                      optional error of a case without a result
//   }

import { RarError } from "../src/index.js";
import type { OutputKind } from "./compile.js";
import type { Family } from "./genome.js";
import { OUT_CAP, instantiate, type Case, type Preset, type Problem, type ProblemSpec } from "./problems.js";

export const CASE_LIMITS = { cases: 10_000, vector: 4096, words: 1 << 22, scalars: 64, string: 256, constants: 64, strings: 16 } as const;

const FAMILIES: readonly Family[] = [
  "stack", "arith", "bits", "cmp", "minmax", "logic", "parity", "const", "locals", "if", "loop", "each", "while", "memory", "recurse", "print",
];

const DEFAULT_FAMILIES: readonly Family[] = ["stack", "arith", "cmp", "minmax", "const", "locals", "if", "loop", "while"];

function isInt32(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff;
}

function intArray(x: unknown, max: number, what: string, where: string): number[] {
  if (!Array.isArray(x)) throw new RarError("usage.cases", `${what} must be an array of integers`, where);
  if (x.length > max) throw new RarError("usage.cases", `${what} has ${x.length} elements (at most ${max})`, where);
  x.forEach((v, i) => {
    if (!isInt32(v)) throw new RarError("usage.cases", `${what}[${i}] is not a 32-bit integer (${JSON.stringify(v)})`, where);
  });
  return x as number[];
}

function readCases(x: unknown, split: string, where: string, required: boolean): Case[] {
  if (x === undefined && !required) return [];
  if (!Array.isArray(x)) throw new RarError("usage.cases", `"${split}" must be an array of {"input": [...], "output": ...}`, where);
  if (required && x.length === 0) throw new RarError("usage.cases", `"${split}" needs at least one case`, where);
  if (x.length > CASE_LIMITS.cases) throw new RarError("usage.cases", `"${split}" has ${x.length} cases (at most ${CASE_LIMITS.cases})`, where);
  return x.map((c: unknown, i: number) => {
    const at = `${split}[${i}]`;
    if (typeof c !== "object" || c === null || Array.isArray(c)) throw new RarError("usage.cases", `${at} must be an object {"input": [...], "output": ...}`, where);
    const o = c as Record<string, unknown>;
    const input = intArray(o.input, CASE_LIMITS.vector, `${at}.input`, where);
    const out = o.output;
    if (!isInt32(out) && typeof out !== "string") throw new RarError("usage.cases", `${at}.output must be a 32-bit integer or a string`, where);
    if (typeof out === "string" && [...out].length > CASE_LIMITS.string)
      throw new RarError("usage.cases", `${at}.output is longer than ${CASE_LIMITS.string} characters`, where);
    return { input: input.slice(), output: out };
  });
}

/** The problem described by a parsed cases file. `stem` names it when the file does not. */
export function problemFromCases(json: unknown, where: string, stem: string, seed: number, preset: Preset = "tuned"): Problem {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new RarError("usage.cases", "a cases file is one JSON object with \"train\" and \"test\"", where);
  const o = json as Record<string, unknown>;
  const known = new Set(["name", "description", "input", "output", "train", "test", "constants", "strings", "genes", "penalty"]);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new RarError("usage.cases", `unknown field "${k}" (known: ${[...known].join(", ")})`, where);
  const name = o.name ?? stem;
  if (typeof name !== "string" || !/^[\w.-]{1,64}$/.test(name)) throw new RarError("usage.cases", `"name" must be 1..64 letters, digits, '.', '_' or '-'`, where);
  if (o.description !== undefined && typeof o.description !== "string") throw new RarError("usage.cases", `"description" must be a string`, where);
  const input = o.input ?? "ints";
  if (input !== "ints" && input !== "vector") throw new RarError("usage.cases", `"input" must be "ints" or "vector"`, where);
  const train = readCases(o.train, "train", where, true);
  const test = readCases(o.test, "test", where, false);
  const all = [...train, ...test];
  let words = 0;
  for (const c of all) words += c.input.length + 1;
  if (words > CASE_LIMITS.words) throw new RarError("usage.cases", `the cases hold ${words} input words (at most ${CASE_LIMITS.words})`, where);
  const strings = all.filter((c) => typeof c.output === "string").length;
  if (strings !== 0 && strings !== all.length) throw new RarError("usage.cases", "outputs must be all integers or all strings", where);
  const output = (o.output ?? (strings > 0 ? "string" : "int")) as OutputKind;
  if (output !== "int" && output !== "bool" && output !== "string") throw new RarError("usage.cases", `"output" must be "int", "bool" or "string"`, where);
  if ((output === "string") !== (strings > 0)) throw new RarError("usage.cases", `"output" is "${output}" but the cases' outputs are ${strings > 0 ? "strings" : "integers"}`, where);
  if (input === "ints") {
    const k = train[0].input.length;
    if (k < 1 || k > CASE_LIMITS.scalars) throw new RarError("usage.cases", `"ints" cases need 1..${CASE_LIMITS.scalars} inputs (train[0] has ${k})`, where);
    all.forEach((c, i) => {
      if (c.input.length !== k) throw new RarError("usage.cases", `every case needs ${k} inputs like train[0]; case ${i} has ${c.input.length} (use "input": "vector" for vectors)`, where);
    });
  }
  const constants = o.constants === undefined ? [0, 1] : intArray(o.constants, CASE_LIMITS.constants, "constants", where);
  let strs: string[] = [];
  if (o.strings !== undefined) {
    if (!Array.isArray(o.strings) || o.strings.length > CASE_LIMITS.strings || !o.strings.every((s) => typeof s === "string" && s.length <= 64))
      throw new RarError("usage.cases", `"strings" must be at most ${CASE_LIMITS.strings} strings of at most 64 characters`, where);
    strs = o.strings as string[];
  }
  let families = DEFAULT_FAMILIES.slice();
  if (input === "vector") families.push("each");
  if (output === "string") families.push("print");
  if (o.genes !== undefined) {
    if (!Array.isArray(o.genes) || o.genes.length === 0) throw new RarError("usage.cases", `"genes" must be a non-empty array of family names`, where);
    for (const g of o.genes)
      if (!FAMILIES.includes(g as Family)) throw new RarError("usage.cases", `unknown gene family ${JSON.stringify(g)} (known: ${FAMILIES.join(", ")})`, where);
    families = o.genes as Family[];
  }
  const penalty = o.penalty ?? (output === "bool" ? 1 : output === "string" ? 100 : 1_000_000);
  if (!isInt32(penalty) || penalty < 1) throw new RarError("usage.cases", `"penalty" must be a positive integer`, where);
  let longest = 0;
  for (const c of all) if (typeof c.output === "string") longest = Math.max(longest, [...c.output].length);
  const spec: ProblemSpec = {
    name,
    description: (o.description as string | undefined) ?? `custom problem from ${where}`,
    inputs: input === "vector" ? 1 : train[0].input.length,
    vector: input === "vector",
    output,
    families,
    constants,
    ercRange: [-100, 100],
    strings: strs,
    outCap: Math.max(OUT_CAP, longest + 8),
    penalty,
    defaults: { pop: 500, gens: 100, gas: 2000, mem: 4096, maxSize: 200, initSize: 50 },
    generate: () => ({ train, test }),
  };
  return instantiate(spec, seed, undefined, preset);
}
