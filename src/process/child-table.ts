// A process's children by handle (process.ts holds one per process). Generic
// over the process type only so that this file need not import process.ts.

const NO_HANDLES = Object.freeze([]) as readonly number[] as number[];
const NO_PROCS = Object.freeze([]) as readonly null[] as null[];
const NO_LIST: readonly never[] = Object.freeze([]);

/**
 * A process's children by handle. A parent numbers its children 1, 2, ...
 * (images and restores keep that order), so they are kept in handle order in
 * two arrays and found by binary search: no hashing, and spawning and killing
 * one child at a time (what an evaluator does) allocates nothing. A killed
 * child leaves a hole; holes are squeezed out when they outnumber the living.
 * Iteration is in handle order, as for a Map filled in that order.
 */
export class Children<P extends object> {
  // Shared empty arrays until the first child (most processes have none).
  private handles: number[] = NO_HANDLES;
  private procs: (P | null)[] = NO_PROCS;
  private live = 0;

  get size(): number {
    return this.live;
  }

  /** Index of handle h (a hole or not), or -1. */
  private find(h: number): number {
    const hs = this.handles;
    let lo = 0;
    let hi = hs.length - 1;
    // The newest child is the usual one.
    if (hi >= 0 && hs[hi] === h) return hi;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = hs[mid];
      if (x === h) return mid;
      if (x < h) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  get(h: number): P | undefined {
    const i = this.find(h);
    return i < 0 ? undefined : (this.procs[i] ?? undefined);
  }

  has(h: number): boolean {
    return this.get(h) !== undefined;
  }

  set(h: number, p: P): this {
    if (this.handles === NO_HANDLES) {
      // Literals of one: room for exactly the first child (a parent of one is common).
      this.handles = [h];
      this.procs = [p];
      this.live = 1;
      return this;
    }
    const hs = this.handles;
    const n = hs.length;
    if (n === 0 || hs[n - 1] < h) {
      hs.push(h);
      this.procs.push(p);
      this.live++;
      return this;
    }
    const i = this.find(h);
    if (i >= 0) {
      if (this.procs[i] === null) this.live++;
      this.procs[i] = p;
      return this;
    }
    // Out of order (never, as handles are given): insert in place.
    let at = 0;
    while (hs[at] < h) at++;
    hs.splice(at, 0, h);
    this.procs.splice(at, 0, p);
    this.live++;
    return this;
  }

  delete(h: number): boolean {
    const i = this.find(h);
    if (i < 0 || this.procs[i] === null) return false;
    const hs = this.handles;
    const ps = this.procs;
    ps[i] = null;
    this.live--;
    if (i === hs.length - 1) {
      // The newest: drop it and the holes before it (pop keeps the arrays' room).
      do {
        hs.pop();
        ps.pop();
      } while (ps.length > 0 && ps[ps.length - 1] === null);
    } else if (hs.length - this.live > this.live && hs.length > 8) this.squeeze();
    return true;
  }

  private squeeze(): void {
    const hs = this.handles;
    const ps = this.procs;
    let m = 0;
    for (let i = 0; i < hs.length; i++) {
      if (ps[i] === null) continue;
      hs[m] = hs[i];
      ps[m] = ps[i];
      m++;
    }
    hs.length = m;
    ps.length = m;
  }

  /** The living children in handle order: a new array, or a shared empty one (not to be changed). */
  list(): readonly P[] {
    if (this.live === 0) return NO_LIST as readonly P[];
    const out: P[] = [];
    for (const p of this.procs) if (p !== null) out.push(p);
    return out;
  }

  /** The sum of `f` over the living children (without making a list of them). */
  sum(f: (p: P) => number): number {
    let total = 0;
    for (const p of this.procs) if (p !== null) total += f(p);
    return total;
  }

  *keys(): IterableIterator<number> {
    for (let i = 0; i < this.handles.length; i++) if (this.procs[i] !== null) yield this.handles[i];
  }

  *values(): IterableIterator<P> {
    for (let i = 0; i < this.procs.length; i++) {
      const p = this.procs[i];
      if (p !== null) yield p;
    }
  }

  *entries(): IterableIterator<[number, P]> {
    for (let i = 0; i < this.procs.length; i++) {
      const p = this.procs[i];
      if (p !== null) yield [this.handles[i], p];
    }
  }

  [Symbol.iterator](): IterableIterator<[number, P]> {
    return this.entries();
  }
}
