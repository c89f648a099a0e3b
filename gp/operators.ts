// Variation operators on linear genomes. All randomness comes from the Rng
// passed in; none of them mutates its inputs.

import { copyWords, newWords } from "../src/internals.js";
import { G, type Genome, type GeneSampler } from "./genome.js";
import type { Rng } from "./random.js";

/**
 * Uniform mutation by addition and deletion (UMAD, Helmuth et al. 2018):
 * before each gene (and at the end) a random gene is inserted with probability
 * `rate`; then every gene is deleted with probability rate / (1 + rate), so
 * the expected size stays the same.
 */
export function umad(g: Genome, rate: number, sampler: GeneSampler, rng: Rng): Genome {
  const n = g.length >> 1;
  const grown: number[] = [];
  const gene = new Int32Array(2);
  for (let i = 0; i <= n; i++) {
    if (rng.chance(rate)) {
      sampler.draw(rng, gene, 0);
      grown.push(gene[0], gene[1]);
    }
    if (i < n) grown.push(g[2 * i], g[2 * i + 1]);
  }
  const del = rate / (1 + rate);
  const out: number[] = [];
  for (let i = 0; i < grown.length; i += 2) if (!rng.chance(del)) out.push(grown[i], grown[i + 1]);
  return copyWords(out);
}

/** Uniform replacement: every gene is replaced by a random one with probability `rate`. */
export function replace(g: Genome, rate: number, sampler: GeneSampler, rng: Rng): Genome {
  const out = copyWords(g);
  for (let i = 0; i < out.length; i += 2) if (rng.chance(rate)) sampler.draw(rng, out, i);
  return out;
}

/** Two-point crossover: a's genes with a random segment of a replaced by a random segment of b. */
export function crossover(a: Genome, b: Genome, rng: Rng): Genome {
  const na = a.length >> 1;
  const nb = b.length >> 1;
  let a1 = rng.int(na + 1);
  let a2 = rng.int(na + 1);
  if (a1 > a2) [a1, a2] = [a2, a1];
  let b1 = rng.int(nb + 1);
  let b2 = rng.int(nb + 1);
  if (b1 > b2) [b1, b2] = [b2, b1];
  const out = newWords(2 * (a1 + (b2 - b1) + (na - a2)));
  out.set(a.subarray(0, 2 * a1), 0);
  out.set(b.subarray(2 * b1, 2 * b2), 2 * a1);
  out.set(a.subarray(2 * a2), 2 * (a1 + b2 - b1));
  return out;
}

// --- the reference PushGP operators (PSB1 §6, as in Clojush) --------------------

/** The reference's operator mix and rates (PSB1 §6): one of four ways to make each child. */
export const PSB_VARIATION = {
  /** Probabilities: alternation, uniform mutation, uniform close mutation, alternation then uniform mutation. */
  alternation: 0.2,
  mutation: 0.2,
  close: 0.1,
  alternationMutation: 0.5,
  alternationRate: 0.01,
  mutationRate: 0.01,
  /** A mutated constant is tweaked (Gaussian, deviation 1) rather than replaced, with this probability. */
  constantTweak: 0.5,
  closeRate: 0.1,
  /** A close mutation adds a close with this probability, else removes one. */
  closeIncrement: 0.2,
} as const;

/**
 * Alternation (Helmuth & Spector, PSB1 §6): copy genes from one parent,
 * starting at a random one of the two; at each step switch parents with
 * probability `rate`, continuing at the same index moved by a Gaussian of
 * deviation `deviation` (rounded, at least 0). Ends past the current
 * parent's end, or after |a| + |b| steps.
 */
export function alternation(a: Genome, b: Genome, rate: number, deviation: number, rng: Rng): Genome {
  const out = scratchOf(a.length + b.length);
  let n = 0;
  let useA = rng.chance(0.5);
  let i = 0;
  for (let budget = (a.length >> 1) + (b.length >> 1); budget > 0; budget--) {
    const p = useA ? a : b;
    if (i >= p.length >> 1) break;
    if (rng.chance(rate)) {
      i = Math.max(0, i + Math.round(deviation * rng.gaussian()));
      useA = !useA;
    } else {
      out[n++] = p[2 * i];
      out[n++] = p[2 * i + 1];
      i++;
    }
  }
  return copyWords(out.subarray(0, n));
}

/** Where alternation and close mutation build a child before it is copied out (they never run at once). */
let scratch = new Int32Array(0);

/** The scratch array, with room for n words. */
function scratchOf(n: number): Int32Array {
  if (scratch.length < n) scratch = new Int32Array(Math.max(n, 2 * scratch.length, 1024));
  return scratch;
}

/**
 * Uniform mutation: each gene, with probability `rate`, is replaced by a
 * random gene; a constant (PUSH c, ADDI c) is instead tweaked by a rounded
 * Gaussian of deviation 1 with probability `tweak`.
 */
export function uniformMutation(g: Genome, rate: number, tweak: number, sampler: GeneSampler, rng: Rng): Genome {
  const out = copyWords(g);
  for (let i = 0; i < out.length; i += 2) {
    if (!rng.chance(rate)) continue;
    if ((out[i] === G.Push || out[i] === G.AddI) && rng.chance(tweak)) out[i + 1] = (out[i + 1] + Math.round(rng.gaussian())) | 0;
    else sampler.draw(rng, out, i);
  }
  return out;
}

/**
 * Uniform close mutation. A Plush gene carries a count of blocks it closes;
 * here a close is an END gene after it. Each gene, with probability `rate`,
 * gains an END after it (probability `increment`) or loses the END that
 * follows it, if any.
 */
export function closeMutation(g: Genome, rate: number, increment: number, rng: Rng): Genome {
  const n = g.length >> 1;
  // Each gene may gain an END after it: twice the words at most.
  const out = scratchOf(2 * g.length);
  let k = 0;
  for (let i = 0; i < n; i++) {
    out[k++] = g[2 * i];
    out[k++] = g[2 * i + 1];
    if (!rng.chance(rate)) continue;
    if (rng.chance(increment)) {
      out[k++] = G.End;
      out[k++] = 0;
    } else if (i + 1 < n && g[2 * i + 2] === G.End) i++;
  }
  return copyWords(out.subarray(0, k));
}
