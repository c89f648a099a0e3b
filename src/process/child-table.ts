// A process's children by handle (process.ts holds one per process), and the
// two numbers only a parent sets: its next handle and the child it waits on.
// Generic over the process type only so that this file need not import
// process.ts.

const NO_SLOTS = Object.freeze([]) as readonly never[] as never[];
const NO_LIST: readonly never[] = Object.freeze([]);

/**
 * A process's children by handle. A parent numbers its children 1, 2, ...
 * (images and restores keep that order), so they are kept in handle order in
 * one array and found by binary search: no hashing, and spawning and killing
 * one child at a time (what an evaluator does) allocates nothing. A slot holds
 * a living child (its handle is its own) or, where a child was killed, that
 * child's handle (a hole); holes are squeezed out when they outnumber the
 * living. One array slot per child. Iteration is in handle order, as for a
 * Map filled in that order.
 */
export class Children<P extends { readonly handle: number }> {
  // The shared empty array until the first child (most processes have none).
  private slots: (P | number)[] = NO_SLOTS;
  private live = 0;
  /** The handle the owner gives its next child (Process.nextHandle). */
  nextHandle = 1;
  /** Handle of the child the owner is resuming, or 0 (Process.waiting). */
  waiting = 0;

  get size(): number {
    return this.live;
  }

  /** Index of handle h (a hole or not), or -1. */
  private find(h: number): number {
    const ss = this.slots;
    let lo = 0;
    let hi = ss.length - 1;
    // The newest child is the usual one.
    if (hi >= 0 && handleOf(ss[hi]) === h) return hi;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = handleOf(ss[mid]);
      if (x === h) return mid;
      if (x < h) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  get(h: number): P | undefined {
    const i = this.find(h);
    if (i < 0) return undefined;
    const x = this.slots[i];
    return typeof x === "number" ? undefined : x;
  }

  has(h: number): boolean {
    return this.get(h) !== undefined;
  }

  /** Adds p at handle h (p.handle is h). */
  set(h: number, p: P): this {
    if (p.handle !== h) throw new Error(`internal: child ${p.handle} added at handle ${h}`);
    if (this.slots === NO_SLOTS) {
      // A literal of one: room for exactly the first child (a parent of one is common).
      this.slots = [p];
      this.live = 1;
      return this;
    }
    const ss = this.slots;
    const n = ss.length;
    if (n === 0 || handleOf(ss[n - 1]) < h) {
      ss.push(p);
      this.live++;
      return this;
    }
    const i = this.find(h);
    if (i >= 0) {
      if (typeof ss[i] === "number") this.live++;
      ss[i] = p;
      return this;
    }
    // Out of order (never, as handles are given): insert in place.
    let at = 0;
    while (handleOf(ss[at]) < h) at++;
    ss.splice(at, 0, p);
    this.live++;
    return this;
  }

  /**
   * Takes `list` as its array of children (no copy): living ones in
   * increasing handle order, given while the table holds none (a decoded
   * parent's, all read: Process.adoptAll).
   */
  fill(list: P[]): void {
    if (this.slots !== NO_SLOTS) throw new Error("internal: children filled into a table that holds some");
    this.slots = list;
    this.live = list.length;
  }

  delete(h: number): boolean {
    const i = this.find(h);
    const ss = this.slots;
    if (i < 0 || typeof ss[i] === "number") return false;
    ss[i] = h;
    this.live--;
    if (i === ss.length - 1) {
      // The newest: drop it and the holes before it (pop keeps the array's room).
      do ss.pop();
      while (ss.length > 0 && typeof ss[ss.length - 1] === "number");
    } else if (ss.length - this.live > this.live && ss.length > 8) this.squeeze();
    return true;
  }

  private squeeze(): void {
    const ss = this.slots;
    let m = 0;
    for (let i = 0; i < ss.length; i++) {
      if (typeof ss[i] === "number") continue;
      ss[m++] = ss[i];
    }
    ss.length = m;
  }

  /** The living children in handle order: a new array, or a shared empty one (not to be changed). */
  list(): readonly P[] {
    if (this.live === 0) return NO_LIST as readonly P[];
    const out: P[] = [];
    for (const x of this.slots) if (typeof x !== "number") out.push(x);
    return out;
  }

  /** The sum of `f` over the living children (without making a list of them). */
  sum(f: (p: P) => number): number {
    let total = 0;
    for (const x of this.slots) if (typeof x !== "number") total += f(x);
    return total;
  }

  *keys(): IterableIterator<number> {
    for (const x of this.slots) if (typeof x !== "number") yield x.handle;
  }

  *values(): IterableIterator<P> {
    for (const x of this.slots) if (typeof x !== "number") yield x;
  }

  *entries(): IterableIterator<[number, P]> {
    for (const x of this.slots) if (typeof x !== "number") yield [x.handle, x];
  }

  [Symbol.iterator](): IterableIterator<[number, P]> {
    return this.entries();
  }
}

/** The handle of a slot: a living child's, or the one a hole keeps. */
function handleOf(x: { readonly handle: number } | number): number {
  return typeof x === "number" ? x : x.handle;
}
