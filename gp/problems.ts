// Built-in problems. Train/test generators follow the published benchmark
// definitions: PSB1 (Helmuth & Spector 2015: smallest, median, count-odds,
// last-index-of-zero, sum-of-squares, collatz-numbers, mirror-image,
// negative-to-zero, vectors-summed) and PSB2 (Helmuth & Kelly 2021: fuel-cost,
// gcd, fizz-buzz, basement, luhn, find-pair), with their input ranges, hand-written edge cases and
// train/test sizes as in the suite's reference implementation (Clojush data
// domains). quartic and even-parity are Koza's classics adapted to integers.
// Every draw comes from a generator seeded by the run's seed (stream 1), so a
// seed fixes the data too.

import { RarError } from "../src/index.js";
import { Op } from "../src/internals.js";
import type { Layout, OutputKind } from "./compile.js";
import { G, SAFE_OPS, type Family, type GenePool, type GeneTemplate } from "./genome.js";
import { Rng } from "./random.js";
import type { VectorError } from "./score.js";

/**
 * One input/output example. `input` is the scalar inputs, or the elements of
 * the vector input; `second` the second input of a two-input vector problem
 * (a vector, or one integer). `output` is an integer, a string, or the
 * elements of a vector (vector output) or the integers (several outputs).
 */
export interface Case {
  readonly input: readonly number[];
  readonly second?: number | readonly number[];
  readonly output: number | string | readonly number[];
}

/** Defaults of a problem's run; the CLI may override each. */
export interface RunDefaults {
  readonly pop: number;
  readonly gens: number;
  /** Gas limit of one evaluation (one program on one case). */
  readonly gas: number;
  /** Memory limit of one evaluation, in words. */
  readonly mem: number;
  /** Largest genome, in genes. */
  readonly maxSize: number;
  /** Initial genomes have 1..initSize genes. */
  readonly initSize: number;
  /** Fraction of the training cases each generation selects on (default 1: all). */
  readonly downsample?: number;
}

export interface Problem {
  readonly name: string;
  readonly description: string;
  /** Which preset built it: the gene pool, budgets and error function depend on it. */
  readonly preset: Preset;
  readonly layout: Layout;
  readonly pool: GenePool;
  readonly train: readonly Case[];
  readonly test: readonly Case[];
  /** Error of a case with no usable result; also the cap of any case error. */
  readonly penalty: number;
  /** String output scored 0 (equal) or 1 (different), as the reference scores printed output; else Levenshtein. */
  readonly exact: boolean;
  /** How a vector output is scored (default levenshtein). */
  readonly vectorError?: VectorError;
  readonly defaults: RunDefaults;
  /** The reference setup's variation and budgets (problems with a PSB definition). */
  readonly psb?: PsbSetup;
}

/**
 * Presets: `tuned` is rar's own search (per-problem gene pools and budgets,
 * UMAD + crossover, elitism, resource tie-break); `faithful` is the PSB
 * reference setup (see PsbSetup); `pressure` is `faithful` with resource
 * pressure as lexicase's final tie-break.
 */
export type Preset = "tuned" | "faithful" | "pressure";
export const PRESETS: readonly Preset[] = ["tuned", "faithful", "pressure"];

/**
 * The reference PushGP setup of a problem (PSB1 §5–6, Table 3, and the
 * problem files of its reference implementation, Clojush). Sizes are Push
 * program points; a gene is one Plush gene, and the largest genome is
 * maxPoints / 4 genes, as in the reference. Steps are Push interpreter steps;
 * gas = GAS_PER_STEP x steps.
 */
export interface PsbSetup {
  readonly pop: number;
  readonly gens: number;
  readonly maxPoints: number;
  /** Initial genomes have 1..initGenes genes (max-genome-size-in-initial-program). */
  readonly initGenes: number;
  readonly steps: number;
  /** Alternation's alignment deviation. */
  readonly alignment: number;
  /** The reference scores printed output (0 or 1 per case) rather than a returned integer. */
  readonly printed?: boolean;
  /** The reference's success count out of 100 with lexicase (PSB1 Table 5), when published. */
  readonly reference?: number;
  /** Instructions in the reference's set (PSB1 Table 2), when published. */
  readonly referenceInstructions?: number;
}

/** Gas per Push step: a gene compiles to 1–7 VM instructions of about 1 gas each; see spec/gp.md. */
export const GAS_PER_STEP = 4;

/** How a problem is described before its data exists. */
export interface ProblemSpec {
  readonly name: string;
  readonly description: string;
  readonly inputs: number;
  readonly vector: boolean;
  /** A second input after the vector: another vector, or one integer (Layout.second). */
  readonly second?: "vector" | "int";
  readonly output: OutputKind;
  /** Number of integer outputs (output "ints"). */
  readonly outputs?: number;
  /** How a vector output is scored. */
  readonly vectorError?: VectorError;
  readonly families: readonly Family[];
  readonly constants: readonly number[];
  readonly ercRange: readonly [number, number];
  readonly strings?: readonly string[];
  readonly scratch?: number;
  /** Characters of the output area (string output); default OUT_CAP. */
  readonly outCap?: number;
  readonly penalty: number;
  readonly defaults: RunDefaults;
  readonly psb?: PsbSetup;
  generate(rng: Rng): { train: Case[]; test: Case[] };
}

/** Output area size of string problems, in characters; vector problems get this many elements beyond their longest expected output. */
export const OUT_CAP = 24;

// --- gene pools ----------------------------------------------------------------

/** The gene templates of a set of families, for a layout. Inputs get extra weight so programs read them. */
export function poolFor(
  families: readonly Family[],
  l: Pick<Layout, "inputs" | "scratch" | "vector" | "strings" | "second" | "outCap">,
  constants: readonly number[],
  ercRange: readonly [number, number],
): GenePool {
  const t: GeneTemplate[] = [];
  const add = (kind: G, arg: number | "erc", weight = 1): void => void t.push({ kind, arg, weight });
  const fams = new Set(families);
  for (const f of ["stack", "arith", "bits", "cmp", "logic", "memory"] as const)
    if (fams.has(f)) for (const op of SAFE_OPS[f]) if (!t.some((x) => x.kind === G.Op && x.arg === op)) add(G.Op, op);
  // Inputs: about a sixth of all draws, as in PushGP's proportion-inputs.
  const inputWeight = Math.max(1, Math.round((t.length + 8) / (4 * l.inputs)));
  for (let i = 0; i < l.inputs; i++) add(G.Get, i, inputWeight);
  if (fams.has("const")) add(G.Push, "erc", 2);
  if (fams.has("arith")) add(G.AddI, "erc");
  if (fams.has("minmax")) {
    add(G.Min, 0);
    add(G.Max, 0);
  }
  if (fams.has("parity")) {
    add(G.Op, Op.AND);
    add(G.Op, Op.OR);
    add(G.Nand, 0);
    add(G.Nor, 0);
  }
  if (fams.has("locals"))
    for (let s = 0; s < l.scratch; s++) {
      const local = l.inputs + s;
      add(G.Get, local);
      add(G.Set, local);
      add(G.Inc, local, 0.5);
    }
  const blocks = fams.has("if") || fams.has("loop") || fams.has("each") || fams.has("while");
  if (fams.has("if")) {
    add(G.If, 0);
    add(G.Else, 0, 0.5);
  }
  if (fams.has("loop")) add(G.Loop, 0);
  if (fams.has("each") && l.vector) {
    add(G.Each, 0);
    add(G.Elem, 0);
    // Each vector input has its reading gene, as each input has its GET.
    if (l.second === "vector") add(G.Elem2, 0);
  }
  if (fams.has("loop") || (fams.has("each") && l.vector)) add(G.Index, 0);
  if (fams.has("while")) add(G.While, 0, 0.5);
  if (blocks) add(G.End, 0);
  if (fams.has("memory")) {
    add(G.Load, 0, 0.5);
    add(G.Store, 0, 0.5);
  }
  if (fams.has("recurse")) {
    add(G.Recurse, 0, 0.25);
    add(G.Op, Op.RET, 0.25);
  }
  if (fams.has("print")) {
    add(G.PrintI, 0);
    add(G.PrintC, 0, 0.5);
    l.strings.forEach((_, i) => add(G.PrintS, i));
  }
  if (fams.has("vecout")) {
    add(G.OutV, 0);
    add(G.OutNew, 0, 0.5);
  }
  if (fams.has("outs")) for (let k = 0; k < l.outCap; k++) add(G.Out, k);
  return { templates: t, constants, ercRange };
}

/** Data types a problem's genes work on (the faithful presets' rule, the same for every problem). */
export type DataType = "int" | "bool" | "exec" | "vector" | "print" | "vector-out" | "int-outs";

/** Gene families by data type: every family a type allows. Stack and locals (inputs, scratch) are always in. */
export const TYPE_FAMILIES: Readonly<Record<DataType, readonly Family[]>> = {
  int: ["arith", "bits", "cmp", "minmax", "const"],
  bool: ["logic", "parity"],
  exec: ["if", "loop", "while", "recurse"],
  vector: ["each", "memory"],
  print: ["print"],
  "vector-out": ["vecout"],
  "int-outs": ["outs"],
};

/**
 * The data types of a layout: integers, booleans and control always (as in
 * PSB1), vectors when an input is one, printing, a vector result or several
 * integer results when the output is so.
 */
export function typesOf(l: Pick<Layout, "vector" | "output">): DataType[] {
  const t: DataType[] = ["int", "bool", "exec"];
  if (l.vector) t.push("vector");
  if (l.output === "string") t.push("print");
  if (l.output === "vector") t.push("vector-out");
  if (l.output === "ints") t.push("int-outs");
  return t;
}

/**
 * The gene pool of a problem's data types: every family the types allow,
 * each distinct gene once and all equally likely (the reference draws
 * uniformly from its instructions, inputs and constant generators).
 */
export function typedPool(
  l: Pick<Layout, "inputs" | "scratch" | "vector" | "strings" | "output" | "second" | "outCap">,
  constants: readonly number[],
  ercRange: readonly [number, number],
): GenePool {
  const families: Family[] = ["stack", "locals", ...typesOf(l).flatMap((t) => TYPE_FAMILIES[t])];
  const all = poolFor(families, l, constants, ercRange).templates;
  const seen = new Set<string>();
  const templates: GeneTemplate[] = [];
  for (const t of all) {
    const key = `${t.kind}:${t.arg}`;
    if (seen.has(key)) continue;
    seen.add(key);
    templates.push({ kind: t.kind, arg: t.arg, weight: 1 });
  }
  return { templates, constants, ercRange };
}

// --- data domains (the PSB reference generators' shape) -----------------------

/** A set of inputs and how many of them go to train and to test. */
type Domain<T extends unknown[] = number[]> = [items: T[] | ((rng: Rng) => T), train: number, test: number];

/** Draws train and test inputs from domains: a list gives all of itself, or a random subset; a generator gives fresh draws. */
function fromDomains<T extends unknown[] = number[]>(rng: Rng, domains: readonly Domain<T>[]): { train: T[]; test: T[] } {
  const train: T[] = [];
  const test: T[] = [];
  for (const [items, nTrain, nTest] of domains) {
    for (const [n, out] of [
      [nTrain, train],
      [nTest, test],
    ] as const) {
      if (typeof items === "function") for (let i = 0; i < n; i++) out.push(items(rng));
      else if (n >= items.length) out.push(...items.map((x) => x.slice() as T));
      else if (n > 0) out.push(...rng.shuffle(items.map((x) => x.slice() as T)).slice(0, n));
    }
  }
  return { train, test };
}

function repeat(n: number, f: () => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(f());
  return out;
}

/** Distinct permutations of a multiset, in lexicographic order. */
export function permutations(items: readonly number[]): number[][] {
  const out: number[][] = [];
  const a = items.slice().sort((x, y) => x - y);
  for (;;) {
    out.push(a.slice());
    let i = a.length - 2;
    while (i >= 0 && a[i] >= a[i + 1]) i--;
    if (i < 0) return out;
    let j = a.length - 1;
    while (a[j] <= a[i]) j--;
    [a[i], a[j]] = [a[j], a[i]];
    for (let l = i + 1, r = a.length - 1; l < r; l++, r--) [a[l], a[r]] = [a[r], a[l]];
  }
}

function cases(inputs: { train: number[][]; test: number[][] }, f: (x: number[]) => Case["output"]) {
  return {
    train: inputs.train.map((x) => ({ input: x, output: f(x) })),
    test: inputs.test.map((x) => ({ input: x, output: f(x) })),
  };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export function fizzBuzz(x: number): string {
  if (x % 15 === 0) return "FizzBuzz";
  if (x % 3 === 0) return "Fizz";
  if (x % 5 === 0) return "Buzz";
  return String(x);
}

export function fuelCost(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += Math.floor(x / 3) - 2;
  return s;
}

export function sumOfSquares(n: number): number {
  let s = 0;
  for (let i = 1; i <= n; i++) s += i * i;
  return s;
}

/** Terms of the Collatz sequence from n down to 1, both counted (1 has one term). */
export function collatzTerms(n: number): number {
  let len = 1;
  for (let x = n; x > 1; len++) x = x % 2 === 0 ? x / 2 : 3 * x + 1;
  return len;
}

/** The first index at which the running sum is negative, or null if none is. */
export function basement(xs: readonly number[]): number | null {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) {
    sum += xs[i];
    if (sum < 0) return i;
  }
  return null;
}

/**
 * A basement input of length len (the reference's generator): the answer
 * index is drawn uniformly first, then vectors are drawn, each element
 * negative with probability (i + 1) / (len + 1) (magnitude 0..100), until
 * one has that answer.
 */
function basementInput(rng: Rng, len: number): number[] {
  const answer = rng.int(len);
  for (;;) {
    const v = Array.from({ length: len }, (_, i) => (rng.float() < (i + 1) / (len + 1) ? -rng.int(101) | 0 : rng.int(101)));
    if (basement(v) === answer) return v;
  }
}

// prettier-ignore
const BASEMENT_EDGE2 = [[-1, 100], [-95, 100], [-30, 5], [-50, 50], [0, -1], [1, -2], [3, -97], [99, -100]];
// prettier-ignore
const BASEMENT_EDGE3 = [[1, -1, -1], [1, -2, -1], [0, -1, -1], [0, 0, -1], [2, -2, -1], [5, -6, -5], [5, -5, -5], [100, -100, -100], [-100, -100, -100], [-1, 100, 99]];
// prettier-ignore
const BASEMENT_EDGE20 = [
  new Array<number>(20).fill(-10),
  [-1, ...new Array<number>(19).fill(100)],
  [5, -10, ...new Array<number>(18).fill(5)],
  [...new Array<number>(19).fill(5), -99],
  [1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, 10],
  [93, ...new Array<number>(19).fill(-5)],
  [99, -10, -9, -12, -10, -5, -12, -3, -10, -9, -9, -10, -12, -11, -12, -9, -10, -12, -11, -10],
  [1, 1, 1, 1, 2, 2, 2, 2, -1, -1, -1, -2, -3, -4, -5, -1, 1, 2, 3, 4],
  [0, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, -1],
  [...new Array<number>(19).fill(0), -1],
  [50, -30, 0, 0, 0, 0, 0, 0, 0, 0, -30, 0, 0, 0, 0, 0, 0, 0, 0, -30],
  [50, 0, 0, 0, 0, 0, 0, 0, 0, 0, -30, 0, 0, 0, 0, 0, 0, 0, 0, -30],
  [50, ...new Array<number>(18).fill(0), -60],
  [20, -30, 0, 0, 0, 0, 0, 0, 0, 0, -30, 0, 0, 0, 0, 0, 0, 0, 0, -30],
];

/** Luhn's sum: every other digit from the first doubled (less 9 when over 9), all summed. */
export function luhn(digits: readonly number[]): number {
  let s = 0;
  digits.forEach((d, i) => (s += i % 2 === 0 ? (2 * d >= 10 ? 2 * d - 9 : 2 * d) : d));
  return s;
}

// prettier-ignore
const LUHN_EDGE = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 7, 6, 5, 4, 3], new Array<number>(16).fill(9), new Array<number>(16).fill(0),
  new Array<number>(16).fill(5), new Array<number>(16).fill(4), [1, 0, 2, 0, 4, 3, 2, 1, 0, 4, 1, 2, 3, 4, 2, 1],
  [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0], [0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0],
  [0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [8, 0, 0, 0, 0, 6, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0],
  [0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0], [0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5],
  [9, 9, 8, 7, 6, 6, 7, 8, 9, 9, 8, 7, 6, 5, 5, 6], [0, 0, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0],
];


/** An integer in [-1000, 1000], as the PSB1 vector problems draw their elements. */
const int1000 = (rng: Rng): number => rng.int(2001) - 1000;

/** True when b is a reversed, element for element (mirror-image's answer). */
export function mirrored(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[b.length - 1 - i]);
}

/** The reference's "change a few elements": 1..5 times, a random position gets a fresh value in [-1000, 1000]. */
function changeAFew(rng: Rng, v: readonly number[]): number[] {
  const out = v.slice();
  for (let k = 1 + rng.int(5); k > 0; k--) out[rng.int(out.length)] = int1000(rng);
  return out;
}

/** A negative-to-zero input: each element negative ([-1000, -1]) with probability prob, else in [0, 1000]. */
function negativeToZeroInput(rng: Rng, len: number, prob: number): number[] {
  return repeat(len, () => (rng.float() < prob ? -(1 + rng.int(1000)) : rng.int(1001)));
}

/**
 * Every pair (x, y) of elements, x and y in vector order (the same element
 * twice included), with x + y = target; find-pair's answer is the first.
 */
export function pairsSummingTo(xs: readonly number[], target: number): [number, number][] {
  const out: [number, number][] = [];
  for (const x of xs) for (const y of xs) if (x + y === target) out.push([x, y]);
  return out;
}

/**
 * A find-pair input as the reference draws it: len draws in [-10000, 10000]
 * with duplicates removed; the target is the sum of two picks; drawn again
 * unless the picks differ, the vector has two elements or more, and exactly
 * one pair (in either order) sums to the target.
 */
function findPairInput(rng: Rng, len: number): [number[], number] {
  for (;;) {
    const xs = [...new Set(repeat(len, () => rng.int(20001) - 10000))];
    const a = rng.pick(xs);
    const b = rng.pick(xs);
    if (a !== b && xs.length >= 2 && pairsSummingTo(xs, a + b).length <= 2) return [xs, a + b];
  }
}

// prettier-ignore
const FIND_PAIR_EDGE2: [number[], number][] = [
  [[5, 7], 12], [[2500, 6352], 8852], [[-14, 5], -9], [[40, -19], 21], [[-4, 4], 0],
  [[-5, -20], -25], [[-7831, -3001], -10832], [[10000, -10000], 0], [[8310, -8320], -10], [[0, 1234], 1234],
];
// prettier-ignore
const FIND_PAIR_EDGE3: [number[], number][] = [
  [[1, 3, 5], 4], [[1, 3, 5], 6], [[1, 3, 5], 8], [[-1, 0, 1], 0], [[-1, 0, 1], 1], [[-1, 0, 1], -1],
  [[14, -35, 78], -21], [[14, -35, 78], 92], [[14, -35, 78], 43], [[9492, -3791, -7317], 5701],
  [[9492, -3791, -7317], 2175], [[9492, -3791, -7317], -11108], [[237, 410, -777], 647], [[237, 410, -777], -540],
  [[237, 410, -777], -367],
];

/** Mirror-image's length-1, length-2 and equal-palindrome edge cases (the reference's lists). */
// prettier-ignore
const MIRROR_EDGE: [number[], number[]][] = [
  [[1], [1]], [[1], [0]], [[0], [1]], [[16], [-44]], [[-12], [-13]],
  [[1, 2], [2, 1]], [[1, 1], [0, 1]], [[7, 0], [0, 7]], [[5, 8], [5, 8]], [[34, 12], [34, 12]], [[456, 456], [456, 456]], [[-431, -680], [40, 831]],
];
const PALINDROMES: number[][] = [
  [1, 2, 1],
  [1, 2, 3, 4, 5, 4, 3, 2, 1],
  [45, 99, 0, 12, 44, 7, 7, 44, 12, 0, 99, 45],
  [...Array.from({ length: 25 }, (_, i) => 24 - i), ...Array.from({ length: 25 }, (_, i) => i)],
];

/** Cases of two-input problems: [first, second] inputs and the answer of each. */
function cases2<S extends number | number[]>(inputs: { train: [number[], S][]; test: [number[], S][] }, f: (a: number[], b: S) => Case["output"]) {
  const one = ([a, b]: [number[], S]): Case => ({ input: a, second: b, output: f(a, b) });
  return { train: inputs.train.map(one), test: inputs.test.map(one) };
}

const BASE: Omit<RunDefaults, "gas" | "maxSize" | "initSize"> = { pop: 1000, gens: 300, mem: 4096 };
const SCALAR: readonly Family[] = ["stack", "arith", "cmp", "minmax", "const", "locals", "if"];
const VECTOR: readonly Family[] = ["stack", "arith", "cmp", "const", "locals", "if", "each"];

const SPECS: readonly ProblemSpec[] = [
  {
    name: "smallest",
    description: "PSB1 Smallest: 4 integers in [-100, 100] -> the smallest (100 train, 1000 test)",
    inputs: 4,
    vector: false,
    output: "int",
    families: SCALAR,
    constants: [],
    ercRange: [-100, 100],
    penalty: 1000,
    defaults: { ...BASE, pop: 500, gens: 100, gas: 400, maxSize: 100, initSize: 40 },
    psb: { pop: 1000, gens: 200, maxPoints: 800, initGenes: 100, steps: 200, alignment: 5, printed: true, reference: 81 },
    generate(rng) {
      const r = (): number => rng.range(-100, 100);
      const data = fromDomains(rng, [
        [[[0, 0, 0, 0], [-44, -44, -7, -13], [0, 4, -99, -33], [-22, -22, -22, -22], [99, 100, 99, 100]], 5, 0],
        [(g) => g.shuffle([...repeat(3, () => 0).fill(r()), r()]), 10, 100],
        [() => repeat(4, () => 0).fill(r()), 5, 100],
        [(g) => repeat(4, () => g.range(0, 100)), 20, 200],
        [() => repeat(4, r), 60, 600],
      ]);
      return cases(data, (x) => Math.min(...x));
    },
  },
  {
    name: "median",
    description: "PSB1 Median: 3 integers in [-100, 100] -> the median (100 train, 1000 test)",
    inputs: 3,
    vector: false,
    output: "int",
    families: SCALAR,
    constants: [],
    ercRange: [-100, 100],
    penalty: 1000,
    defaults: { ...BASE, pop: 500, gens: 100, gas: 400, maxSize: 100, initSize: 40 },
    psb: { pop: 1000, gens: 200, maxPoints: 800, initGenes: 100, steps: 200, alignment: 5, printed: true, reference: 45 },
    generate(rng) {
      const r = (): number => rng.range(-100, 100);
      const data = fromDomains(rng, [
        [() => repeat(3, r), 60, 600],
        [(g) => g.shuffle([...repeat(2, () => 0).fill(r()), r()]), 30, 300],
        [() => repeat(3, () => 0).fill(r()), 10, 100],
      ]);
      return cases(data, (x) => x.slice().sort((a, b) => a - b)[1]);
    },
  },
  {
    name: "count-odds",
    description: "PSB1 Count Odds: a vector of length [0, 50] of integers in [-1000, 1000] -> how many are odd (200 train, 2000 test)",
    inputs: 1,
    vector: true,
    output: "int",
    families: VECTOR,
    constants: [0, 1, 2],
    ercRange: [-1000, 1000],
    penalty: 1000,
    defaults: { ...BASE, gas: 2000, maxSize: 250, initSize: 60 },
    psb: { pop: 1000, gens: 300, maxPoints: 2000, initGenes: 250, steps: 1500, alignment: 10, reference: 8 },
    generate(rng) {
      const vec = (len: number, prob: number): number[] =>
        repeat(len, () => (rng.float() < prob ? 2 * (rng.int(1000) - 500) + 1 : 2 * (rng.int(1001) - 500)));
      const single = [...Array.from({ length: 21 }, (_, i) => [i - 10]), [-947], [-450], [303], [886]];
      const data = fromDomains(rng, [
        [[[]], 1, 0],
        [single, 25, 0],
        [[[0, 0], [0, 1], [7, 1], [-9, -1], [-11, 40], [944, 77]], 6, 0],
        [(g) => vec(g.range(1, 50), 1), 9, 100],
        [(g) => vec(g.range(1, 50), 0), 9, 100],
        [(g) => vec(g.range(1, 50), g.float()), 150, 1800],
      ]);
      return cases(data, (x) => x.filter((v) => v % 2 !== 0).length);
    },
  },
  {
    name: "last-index-of-zero",
    description: "PSB1 Last Index of Zero: a vector of length [1, 50] of integers in [-50, 50] with at least one 0 -> the last index of 0 (150 train, 1000 test)",
    inputs: 1,
    vector: true,
    output: "int",
    families: VECTOR,
    constants: [],
    ercRange: [-50, 50],
    penalty: 1000,
    defaults: { ...BASE, gas: 1000, maxSize: 150, initSize: 50 },
    psb: { pop: 1000, gens: 300, maxPoints: 1200, initGenes: 150, steps: 600, alignment: 10, reference: 21 },
    generate(rng) {
      const random = (g: Rng): number[] =>
        g.shuffle([0, ...repeat(g.int(6), () => 0), ...repeat(g.int(45), () => g.range(-50, 50))]);
      const data = fromDomains(rng, [
        [[[0, 1], [1, 0], [7, 0], [0, 8], [0, -1], [-1, 0], [-7, 0], [0, -8]], 8, 0],
        [Array.from({ length: 50 }, (_, i) => new Array<number>(i + 1).fill(0)), 30, 20],
        [permutations([0, 5, -8, 9]), 20, 4],
        [permutations([0, 0, -8, 9]), 10, 2],
        [permutations([0, 0, 0, 9]), 4, 0],
        [random, 78, 974],
      ]);
      return cases(data, (x) => x.lastIndexOf(0));
    },
  },
  {
    name: "sum-of-squares",
    description: "PSB1 Sum of Squares: an integer n in [1, 100] -> 1^2 + 2^2 + ... + n^2 (20 train, the 100 of [1, 100] test)",
    inputs: 1,
    vector: false,
    output: "int",
    families: [...SCALAR, "loop"],
    constants: [0, 1],
    ercRange: [-100, 100],
    penalty: 1_000_000_000,
    defaults: { ...BASE, gas: 4000, maxSize: 100, initSize: 50 },
    psb: { pop: 1000, gens: 300, maxPoints: 400, initGenes: 50, steps: 4000, alignment: 10 },
    generate(rng) {
      const data = fromDomains(rng, [
        [[1, 2, 3, 4, 5].map((n) => [n]), 5, 0],
        [[[100]], 1, 0],
        [(g) => [6 + g.int(94)], 14, 0],
        [Array.from({ length: 100 }, (_, i) => [i + 1]), 0, 100],
      ]);
      return cases(data, ([n]) => sumOfSquares(n));
    },
  },
  {
    name: "collatz-numbers",
    description: "PSB1 Collatz Numbers: an integer in [1, 10000] -> the number of terms of its Collatz sequence (200 train, 2000 test)",
    inputs: 1,
    vector: false,
    output: "int",
    families: ["stack", "arith", "cmp", "const", "locals", "if", "while", "loop"],
    constants: [0, 1],
    ercRange: [-100, 100],
    penalty: 1_000_000,
    defaults: { ...BASE, gas: 20000, maxSize: 150, initSize: 75 },
    psb: { pop: 1000, gens: 300, maxPoints: 600, initGenes: 75, steps: 15000, alignment: 10 },
    generate(rng) {
      const data = fromDomains(rng, [
        [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9999, 10000].map((n) => [n]), 12, 0],
        [[6171, 6943, 7963, 9257].map((n) => [n]), 4, 0],
        [(g) => [11 + g.int(9988)], 184, 2000],
      ]);
      return cases(data, ([n]) => collatzTerms(n));
    },
  },
  {
    name: "basement",
    description: "PSB2 Basement: a vector of length [1, 20] of integers in [-100, 100] -> the first index at which the running sum is negative (200 train, 2000 test)",
    inputs: 1,
    vector: true,
    output: "int",
    families: VECTOR,
    constants: [-1, 0, 1],
    ercRange: [-1000, 1000],
    penalty: 1_000_000,
    defaults: { ...BASE, gas: 2000, maxSize: 250, initSize: 60 },
    generate(rng) {
      const data = fromDomains(rng, [
        [[[-1], [-100]], 2, 0],
        [BASEMENT_EDGE2, 8, 0],
        [BASEMENT_EDGE3, 10, 0],
        [BASEMENT_EDGE20, 15, 0],
        [(g) => basementInput(g, 1 + g.int(20)), 165, 2000],
      ]);
      return cases(data, (x) => basement(x) as number);
    },
  },
  {
    name: "luhn",
    description: "PSB2 Luhn: a vector of 16 digits -> the sum of the digits after doubling every other one from the first (less 9 when over 9) (200 train, 2000 test)",
    inputs: 1,
    vector: true,
    output: "int",
    families: VECTOR,
    constants: [0, 2, 9, 10],
    ercRange: [-10, 10],
    penalty: 1_000_000,
    defaults: { ...BASE, gas: 2000, maxSize: 250, initSize: 60 },
    psb: { pop: 1000, gens: 300, maxPoints: 2000, initGenes: 250, steps: 2000, alignment: 10 },
    generate(rng) {
      const data = fromDomains(rng, [
        [LUHN_EDGE, 20, 0],
        [(g) => repeat(16, () => g.int(10)), 180, 2000],
      ]);
      return cases(data, luhn);
    },
  },
  {
    name: "fuel-cost",
    description: "PSB2 Fuel Cost: a vector of length [1, 20] of integers in [6, 10000] -> sum of (floor(x / 3) - 2) (200 train, 2000 test)",
    inputs: 1,
    vector: true,
    output: "int",
    // Pure arithmetic over a vector: no comparisons or branches (PushGP likewise picks the stacks per problem).
    families: ["stack", "arith", "const", "locals", "each"],
    constants: [0, 1, 2, 3],
    ercRange: [-1000, 1000],
    penalty: 1_000_000,
    defaults: { ...BASE, pop: 500, gens: 300, gas: 2000, maxSize: 100, initSize: 40, downsample: 0.25 },
    generate(rng) {
      const vec = (len: number): number[] => repeat(len, () => 6 + rng.int(9995));
      const edge1 = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 9998, 9999, 10000].map((x) => [x]);
      const edge2 = [[6, 6], [9, 14], [9, 15], [14, 9], [15, 9], [32, 32], [33, 33], [10000, 9], [9, 10000], [10000, 10000]];
      const long = [6, 7, 8, 9, 10, 11, 12, 13, 9998, 9999, 10000].map((x) => new Array<number>(20).fill(x));
      long.push(new Array<number>(15).fill(9));
      const data = fromDomains(rng, [
        [edge1, 15, 0],
        [edge2, 10, 0],
        [long, 12, 0],
        [(g) => vec(g.range(1, 5)), 75, 1000],
        [(g) => vec(g.range(6, 20)), 88, 1000],
      ]);
      return cases(data, fuelCost);
    },
  },
  {
    name: "gcd",
    description: "PSB2 GCD: two integers in [1, 1000000] -> their greatest common divisor (200 train, 2000 test)",
    inputs: 2,
    vector: false,
    output: "int",
    families: ["stack", "arith", "cmp", "const", "locals", "if", "while", "loop"],
    constants: [],
    ercRange: [-10, 10],
    penalty: 1_000_000,
    defaults: { ...BASE, gas: 2000, maxSize: 200, initSize: 60 },
    generate(rng) {
      const data = fromDomains(rng, [
        [[[1, 1], [4, 400000], [54, 24], [4200, 3528], [820000, 63550], [123456, 654321]], 6, 0],
        [(g) => [g.range(1, 1_000_000), g.range(1, 1_000_000)], 194, 2000],
      ]);
      return cases(data, (x) => gcd(x[0], x[1]));
    },
  },
  {
    name: "fizz-buzz",
    description: "PSB2 Fizz Buzz: an integer in [1, 1000000] -> \"Fizz\", \"Buzz\", \"FizzBuzz\" or its digits, scored by Levenshtein distance (200 train, 2000 test)",
    inputs: 1,
    vector: false,
    output: "string",
    families: ["stack", "arith", "cmp", "const", "locals", "if", "print"],
    constants: [0, 3, 5],
    ercRange: [-100, 100],
    strings: ["Fizz", "Buzz", "FizzBuzz"],
    penalty: 100,
    defaults: { ...BASE, gas: 2000, maxSize: 200, initSize: 60 },
    generate(rng) {
      const edge = [...Array.from({ length: 20 }, (_, i) => [i + 1]), [49995], [49998], [49999], [50000]];
      const data = fromDomains(rng, [
        [edge, 24, 0],
        [(g) => [g.range(1, 1_000_000)], 176, 2000],
      ]);
      return cases(data, (x) => fizzBuzz(x[0]));
    },
  },
  {
    name: "mirror-image",
    description: "PSB1 Mirror Image: two vectors of the same length [0, 50] of integers in [-1000, 1000] -> whether one is the other reversed (100 train, 1000 test)",
    inputs: 2,
    vector: true,
    second: "vector",
    output: "bool",
    families: [...VECTOR, "logic", "loop"],
    // The reference's only constant generator is a boolean one.
    constants: [0, 1],
    ercRange: [0, 1],
    penalty: 1,
    defaults: { ...BASE, gas: 2400, maxSize: 150, initSize: 60 },
    psb: { pop: 1000, gens: 300, maxPoints: 1200, initGenes: 150, steps: 600, alignment: 10 },
    generate(rng) {
      const random = (g: Rng): number[] => repeat(1 + g.int(50), () => int1000(g));
      const data = fromDomains<[number[], number[]]>(rng, [
        [[[[], []]], 1, 0],
        [MIRROR_EDGE.slice(0, 5), 5, 0],
        [MIRROR_EDGE.slice(5), 7, 0],
        [PALINDROMES.map((v) => [v, v.slice()]), 4, 0],
        [permutations([33, 45, -941]).map((v) => [[33, 45, -941], v]), 6, 0],
        [(g) => { const a = random(g); return [a, a.slice().reverse()]; }, 37, 500],
        [(g) => { const a = random(g); return [a, a.slice()]; }, 10, 100],
        [(g) => { const a = random(g); return [a, changeAFew(g, a.slice().reverse())]; }, 20, 200],
        [(g) => { const a = random(g); return [a, repeat(a.length, () => int1000(g))]; }, 10, 200],
      ]);
      return cases2(data, (a, b) => (mirrored(a, b) ? 1 : 0));
    },
  },
  {
    name: "negative-to-zero",
    description: "PSB1 Negative To Zero: a vector of length [0, 50] of integers in [-1000, 1000] -> the vector with every negative replaced by 0, scored by Levenshtein distance (200 train, 2000 test)",
    inputs: 1,
    vector: true,
    output: "vector",
    vectorError: "levenshtein",
    families: [...VECTOR, "minmax", "vecout"],
    // The reference's constants are 0 and the empty vector (OUTNEW), with no random integers.
    constants: [0],
    ercRange: [0, 0],
    penalty: 5000,
    defaults: { ...BASE, gas: 2000, maxSize: 250, initSize: 60 },
    psb: { pop: 1000, gens: 300, maxPoints: 2000, initGenes: 250, steps: 1500, alignment: 10 },
    generate(rng) {
      // The reference's five random length-1 edge cases are drawn once, before the domains.
      const single = [[-10], [-1], [0], [1], [10], ...repeat(5, () => 0).map(() => [int1000(rng)])];
      const data = fromDomains(rng, [
        [[[]], 1, 0],
        [single, 10, 0],
        [[[0, 0], [0, 1], [-1, 0], [-90, -6], [-16, 33], [412, 111]], 6, 0],
        [(g) => negativeToZeroInput(g, 1 + g.int(50), 1), 9, 100],
        [(g) => negativeToZeroInput(g, 1 + g.int(50), 0), 9, 100],
        [(g) => negativeToZeroInput(g, 1 + g.int(50), g.float()), 165, 1800],
      ]);
      return cases(data, (x) => x.map((v) => (v < 0 ? 0 : v)));
    },
  },
  {
    name: "vectors-summed",
    description: "PSB1 Vectors Summed: two vectors of the same length [0, 50] of integers in [-1000, 1000] -> their element-wise sum, scored element-wise plus 10000 per element of length difference (150 train, 1500 test)",
    inputs: 2,
    vector: true,
    second: "vector",
    output: "vector",
    vectorError: "elementwise",
    families: [...VECTOR, "vecout"],
    constants: [],
    ercRange: [-1000, 1000],
    penalty: 1_000_000_000,
    defaults: { ...BASE, gas: 2000, maxSize: 250, initSize: 60 },
    psb: { pop: 1000, gens: 300, maxPoints: 2000, initGenes: 250, steps: 1500, alignment: 10 },
    generate(rng) {
      const pair = (g: Rng, len: number): [number[], number[]] => [repeat(len, () => int1000(g)), repeat(len, () => int1000(g))];
      const single: [number[], number[]][] = [[[0], [0]], [[0], [10]], [[3], [5]], [[7], [-9]], [[-432], [-987]], ...repeat(5, () => 0).map(() => pair(rng, 1))];
      const data = fromDomains<[number[], number[]]>(rng, [
        [[[[], []]], 1, 0],
        [single, 10, 0],
        [[[[0, 0], [0, 0]], [[0, 1], [-4, 2]], [[-1, 0], [-3, 0]], [[-90, -6], [-323, 49]]], 4, 0],
        [(g) => pair(g, 50), 10, 100],
        [(g) => pair(g, 1 + g.int(50)), 125, 1400],
      ]);
      return cases2(data, (a, b) => a.map((x, i) => x + b[i]));
    },
  },
  {
    name: "find-pair",
    description: "PSB2 Find Pair: a vector of length [2, 20] of distinct integers in [-10000, 10000] and a target -> the two elements that sum to it (200 train, 2000 test)",
    inputs: 2,
    vector: true,
    second: "int",
    output: "ints",
    outputs: 2,
    families: [...VECTOR, "loop", "outs"],
    constants: [0, 1, 2, -1],
    ercRange: [-1000, 1000],
    penalty: 2_000_000,
    defaults: { ...BASE, gas: 8000, maxSize: 250, initSize: 60 },
    psb: { pop: 1000, gens: 300, maxPoints: 2000, initGenes: 250, steps: 2000, alignment: 10 },
    generate(rng) {
      const data = fromDomains<[number[], number]>(rng, [
        [FIND_PAIR_EDGE2, 10, 0],
        [FIND_PAIR_EDGE3, 15, 0],
        [(g) => findPairInput(g, 4), 25, 0],
        [(g) => findPairInput(g, 5), 25, 0],
        [(g) => findPairInput(g, 2 + g.int(19)), 125, 2000],
      ]);
      return cases2(data, (xs, target) => pairsSummingTo(xs, target)[0]);
    },
  },
  {
    name: "quartic",
    description: "Koza's quartic polynomial over integers: x -> x^4 + x^3 + x^2 + x (train x in [-10, 10], test 200 x in [-100, 100])",
    inputs: 1,
    vector: false,
    output: "int",
    families: ["stack", "arith", "const", "locals"],
    constants: [0, 1, 2],
    ercRange: [-5, 5],
    penalty: 1_000_000_000,
    defaults: { ...BASE, pop: 500, gens: 100, gas: 400, maxSize: 100, initSize: 30 },
    generate(rng) {
      const data = fromDomains(rng, [
        [Array.from({ length: 21 }, (_, i) => [i - 10]), 21, 0],
        [(g) => [g.range(-100, 100)], 0, 200],
      ]);
      return cases(data, ([x]) => x ** 4 + x ** 3 + x ** 2 + x);
    },
  },
];

/** even-parity-N: N bits -> 1 when an even number of them are 1, with only {AND, OR, NAND, NOR}. Exhaustive cases. */
function parity(n: number): ProblemSpec {
  return {
    name: n === 3 ? "even-parity" : `even-parity-${n}`,
    description: `Koza's even-${n}-parity: ${n} bits -> 1 if an even number are set, over {and, or, nand, nor} (all ${2 ** n} cases, train = test)`,
    inputs: n,
    vector: false,
    output: "bool",
    families: ["parity", "stack"],
    constants: [],
    ercRange: [0, 1],
    scratch: 0,
    penalty: 1,
    defaults: { ...BASE, pop: 500, gens: 100, gas: 400, maxSize: 200, initSize: 60 },
    generate() {
      const all: number[][] = [];
      for (let i = 0; i < 2 ** n; i++) all.push(Array.from({ length: n }, (_, j) => (i >> j) & 1));
      const even = (x: number[]): number => (x.reduce((a, b) => a + b, 0) % 2 === 0 ? 1 : 0);
      return cases({ train: all, test: all.map((x) => x.slice()) }, even);
    },
  };
}

/** Names of the built-in problems (even-parity-N accepts N in 2..10). */
export const PROBLEM_NAMES: readonly string[] = [...SPECS.map((s) => s.name), "even-parity", "even-parity-N"];

export function findSpec(name: string): ProblemSpec | undefined {
  const spec = SPECS.find((s) => s.name === name);
  if (spec) return spec;
  if (name === "even-parity") return parity(3);
  const m = /^even-parity-(\d+)$/.exec(name);
  if (m && Number(m[1]) >= 2 && Number(m[1]) <= 10) return parity(Number(m[1]));
  return undefined;
}

/** Stream of the run's seed used for data, so that data does not depend on search settings. */
export const DATA_STREAM = 1;

/** Builds a problem from its spec for a preset, drawing the data with the seed's data stream (or using given cases). */
export function instantiate(spec: ProblemSpec, seed: number, given?: { train: Case[]; test: Case[] }, preset: Preset = "tuned"): Problem {
  let data = given ?? spec.generate(new Rng(seed, DATA_STREAM));
  const psb = preset === "tuned" ? undefined : spec.psb;
  // The reference prints: the expected output is the integer's decimal text, scored 0 or 1.
  const printed = psb?.printed === true;
  if (printed) {
    const text = (c: Case): Case => ({ ...c, output: String(c.output) });
    data = { train: data.train.map(text), test: data.test.map(text) };
  }
  const all = [...data.train, ...data.test];
  let widest = 0;
  let longest = 0;
  for (const c of all) {
    widest = Math.max(widest, c.input.length, typeof c.second === "object" ? c.second.length : 0);
    if (typeof c.output === "object") longest = Math.max(longest, c.output.length);
  }
  const second = spec.vector ? spec.second : undefined;
  const output = printed ? "string" : spec.output;
  const layout: Layout = {
    inputs: spec.vector ? (second ? 2 : 1) : spec.inputs,
    vector: spec.vector,
    ...(second ? { second } : {}),
    scratch: spec.scratch ?? 2,
    output,
    // Two vectors get the same room each (secondAt); one integer after a vector takes the last word.
    stride: second === "vector" ? 2 * (widest + 1) : second === "int" ? widest + 2 : widest + 1,
    outCap: output === "vector" ? longest + OUT_CAP : output === "ints" ? (spec.outputs ?? 1) : (spec.outCap ?? OUT_CAP),
    strings: spec.strings ?? [],
  };
  const defaults: RunDefaults = psb
    ? { pop: psb.pop, gens: psb.gens, gas: GAS_PER_STEP * psb.steps, mem: spec.defaults.mem, maxSize: psb.maxPoints / 4, initSize: psb.initGenes }
    : spec.defaults;
  return {
    name: spec.name,
    description: spec.description,
    preset,
    layout,
    pool: preset === "tuned" ? poolFor(spec.families, layout, spec.constants, spec.ercRange) : typedPool(layout, spec.constants, spec.ercRange),
    train: data.train,
    test: data.test,
    penalty: printed ? 1 : spec.penalty,
    exact: printed,
    ...(spec.vectorError ? { vectorError: spec.vectorError } : {}),
    defaults,
    ...(spec.psb ? { psb: spec.psb } : {}),
  };
}

/** The built-in problem `name` with the data of `seed`, for a preset; a usage error names the choices. */
export function builtinProblem(name: string, seed: number, preset: Preset = "tuned"): Problem {
  const spec = findSpec(name);
  if (!spec)
    throw new RarError("usage.problem", `unknown problem '${name}' (choose from ${PROBLEM_NAMES.join(", ")}, or give --cases FILE.json)`);
  return instantiate(spec, seed, undefined, preset);
}
