// Parent selection: tournament and lexicase. Resource pressure enters in one
// of two configurable ways: "tiebreak" (among equally good candidates, the one
// that used less gas and memory wins) or "weighted" (each case's error gets
// weight x that case's gas + memory; selection then compares those sums).

import type { Rng } from "./random.js";

export type Pressure = "off" | "tiebreak" | "weighted";

/** What selection needs to know about one individual. */
export interface Fitness {
  /** Per-case errors used for selection (already weighted when pressure is "weighted"). */
  readonly errors: Float64Array;
  readonly total: number;
  /** Gas + weighted memory over all cases. */
  readonly cost: number;
  readonly size: number;
}

/** Orders individuals: lower total error, then (unless pressure is off) lower cost, then smaller, then earlier. */
export function better(a: Fitness, b: Fitness, ia: number, ib: number, pressure: Pressure): boolean {
  if (a.total !== b.total) return a.total < b.total;
  if (pressure !== "off" && a.cost !== b.cost) return a.cost < b.cost;
  if (a.size !== b.size) return a.size < b.size;
  return ia < ib;
}

/** Indices of the population, best first by `better`. */
export function ranking(pop: readonly Fitness[], pressure: Pressure): number[] {
  const idx = pop.map((_, i) => i);
  return idx.sort((x, y) => (better(pop[x], pop[y], x, y, pressure) ? -1 : better(pop[y], pop[x], y, x, pressure) ? 1 : 0));
}

/** Tournament: `size` individuals drawn uniformly with replacement; the best wins. */
export function tournament(pop: readonly Fitness[], size: number, pressure: Pressure, rng: Rng): number {
  let best = rng.int(pop.length);
  for (let i = 1; i < size; i++) {
    const c = rng.int(pop.length);
    if (better(pop[c], pop[best], c, best, pressure)) best = c;
  }
  return best;
}

/**
 * Lexicase selection over one population (Spector 2012; Helmuth et al. 2015).
 * Individuals with identical error vectors are grouped once, and the errors
 * of the groups are kept in one flat matrix, so each selection filters a few
 * distinct behaviours rather than the whole population.
 */
export class Lexicase {
  /** Distinct error vectors, case-major (a case's errors of all groups side by side): errors[c * groups + g]. */
  private readonly errors: Float64Array;
  /** Members of each group, in population order. */
  private readonly members: number[][];
  /** Per group, its cheapest member (lowest cost, then earliest): the group's tiebreak winner. */
  private readonly cheapest: Int32Array;
  private readonly pool: Int32Array;
  private readonly order: number[];

  constructor(
    private readonly pop: readonly Fitness[],
    private readonly cases: number,
    private readonly pressure: Pressure,
  ) {
    const groups = new Map<number, number[]>();
    const reps: number[] = [];
    this.members = [];
    for (let i = 0; i < pop.length; i++) {
      const e = pop[i].errors;
      const h = hashErrors(e);
      let list = groups.get(h);
      if (!list) groups.set(h, (list = []));
      let g = -1;
      for (const k of list) if (sameErrors(pop[reps[k]].errors, e)) g = k;
      if (g < 0) {
        g = reps.length;
        reps.push(i);
        this.members.push([]);
        list.push(g);
      }
      this.members[g].push(i);
    }
    const n = reps.length;
    this.errors = new Float64Array(n * cases);
    for (let g = 0; g < n; g++) {
      const e = pop[reps[g]].errors;
      for (let c = 0; c < cases; c++) this.errors[c * n + g] = e[c];
    }
    this.pool = new Int32Array(reps.length);
    this.order = Array.from({ length: cases }, (_, i) => i);
    this.cheapest = new Int32Array(n);
    for (let g = 0; g < n; g++) {
      let best = -1;
      for (const j of this.members[g]) if (best < 0 || pop[j].cost < pop[best].cost) best = j;
      this.cheapest[g] = best;
    }
  }

  /** Number of distinct error vectors in the population. */
  get groups(): number {
    return this.members.length;
  }

  /**
   * Cases in random order; keep only the groups with the lowest error on each
   * case in turn; then the cheapest surviving individual (tiebreak) or a
   * uniformly random one (each individual equally likely, as without groups).
   */
  select(rng: Rng): number {
    const pool = this.pool;
    const errors = this.errors;
    const cases = this.cases;
    const groups = this.members.length;
    let n = groups;
    for (let i = 0; i < n; i++) pool[i] = i;
    rng.shuffle(this.order);
    for (let k = 0; k < cases && n > 1; k++) {
      const base = this.order[k] * groups;
      let min = Infinity;
      for (let i = 0; i < n; i++) {
        const e = errors[base + pool[i]];
        if (e < min) min = e;
      }
      let m = 0;
      for (let i = 0; i < n; i++) if (errors[base + pool[i]] === min) pool[m++] = pool[i];
      n = m;
    }
    if (this.pressure === "tiebreak") {
      let best = -1;
      for (let i = 0; i < n; i++) {
        const j = this.cheapest[pool[i]];
        if (best < 0 || this.pop[j].cost < this.pop[best].cost || (this.pop[j].cost === this.pop[best].cost && j < best)) best = j;
      }
      return best;
    }
    let total = 0;
    for (let i = 0; i < n; i++) total += this.members[pool[i]].length;
    let pick = rng.int(total);
    for (let i = 0; i < n; i++) {
      const list = this.members[pool[i]];
      if (pick < list.length) return list[pick];
      pick -= list.length;
    }
    return this.members[pool[n - 1]][0];
  }
}

function hashErrors(e: Float64Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < e.length; i++) {
    // Errors are integers (or integers plus a small weighted cost): mix both halves.
    const x = e[i];
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h = Math.imul(h ^ ((x * 4096) | 0), 0x01000193);
  }
  return h >>> 0;
}

function sameErrors(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
