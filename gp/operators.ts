// Variation operators on linear genomes. All randomness comes from the Rng
// passed in; none of them mutates its inputs.

import { type Genome, type GeneSampler } from "./genome.js";
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
  return Int32Array.from(out);
}

/** Uniform replacement: every gene is replaced by a random one with probability `rate`. */
export function replace(g: Genome, rate: number, sampler: GeneSampler, rng: Rng): Genome {
  const out = g.slice();
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
  const out = new Int32Array(2 * (a1 + (b2 - b1) + (na - a2)));
  out.set(a.subarray(0, 2 * a1), 0);
  out.set(b.subarray(2 * b1, 2 * b2), 2 * a1);
  out.set(a.subarray(2 * a2), 2 * (a1 + b2 - b1));
  return out;
}
