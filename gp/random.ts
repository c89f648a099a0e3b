// The harness's own pseudo-random generator: xoshiro128** seeded through
// splitmix32. Every random choice of a run (data, initial population,
// selection, variation) comes from one of these, so a seed fixes the run bit
// for bit. Only 32-bit integer operations (Math.imul, >>> 0) are used: the
// sequence does not depend on the platform. Math.random is never used.

/** The four 32-bit words of a generator's state (what checkpoints store). */
export type RngState = [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  /** a, b, c, d as 32-bit words (an Int32Array: the generator's bit operations stay in int32 registers). */
  private readonly s = new Int32Array(4);

  /** A generator for `seed` (any integer; only its low 32 bits and `stream` matter). */
  constructor(seed: number, stream = 0) {
    const next = splitmix32((seed ^ Math.imul(stream + 1, 0x632be5ab)) >>> 0);
    const s = this.s;
    s[0] = next();
    s[1] = next();
    s[2] = next();
    s[3] = next();
    // The all-zero state is the one fixed point of xoshiro; splitmix32 never yields it four times.
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    for (let i = 0; i < 4; i++) r.s[i] = state[i];
    return r;
  }

  state(): RngState {
    const s = this.s;
    return [s[0] >>> 0, s[1] >>> 0, s[2] >>> 0, s[3] >>> 0];
  }

  /** The next 32 random bits as an unsigned integer. */
  u32(): number {
    const s = this.s;
    const a = s[0];
    const b = s[1];
    const c = s[2] ^ a;
    const d = s[3] ^ b;
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    s[0] = a ^ d;
    s[1] = b ^ c;
    s[2] = c ^ (b << 9);
    s[3] = rotl(d, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 32 bits of precision. */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** A uniform integer in [0, n), n >= 1 (multiply-shift: no modulo bias worth noting for n < 2^20). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A uniform integer in [lo, hi], both inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** A standard normal draw (Box-Muller, one of the pair; mean 0, deviation 1). */
  gaussian(): number {
    const u = 1 - this.float(); // (0, 1]: the logarithm stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
