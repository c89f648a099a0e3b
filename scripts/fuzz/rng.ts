// The fuzzer's random numbers: a small seeded generator (sfc32), so every
// input is a function of (seed, kind, index) alone and any failure
// reproduces from those three numbers, whatever the number of workers.

/** A 32-bit hash of a list of integers (murmur3's finalizer over a running mix). */
export function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h ^= Math.imul((x >>> 0) ^ Math.floor(x / 0x100000000), 0xcc9e2d51);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(...seed: number[]) {
    this.a = mix(...seed, 1);
    this.b = mix(...seed, 2);
    this.c = mix(...seed, 3);
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** 0 <= x < n (n <= 2^32). */
  below(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  /** lo <= x <= hi. */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() < p * 0x100000000;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }

  /** Index into `weights` with probability proportional to its weight. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.u32() / 0x100000000 * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }

  /** Small sizes far more often than large ones: floor(max^u) for uniform u. */
  size(max: number): number {
    return Math.floor(Math.pow(max + 1, this.u32() / 0x100000000)) - 1;
  }

  /** An awkward 32-bit integer: small, a boundary, or anything. */
  word(): number {
    switch (this.below(6)) {
      case 0:
        return this.int(-4, 20);
      case 1:
        return this.pick([0x7fffffff, -0x80000000, -1, 0xffff, 0x10000, 255, 256, 4096, 65_536, 1 << 20, 1 << 28]);
      case 2:
        return this.int(-300, 300);
      default:
        return this.u32() | 0;
    }
  }
}
