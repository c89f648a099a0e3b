// Word arrays (and arrays of doubles) of a few dozen to a few thousand
// entries, carved from shared buffers. A typed array longer than V8 keeps
// inside its own object (64 bytes) gets a backing store of its own, which
// costs microseconds to make and to collect: as much as verifying a GP
// candidate, or running it on a case (and V8 counts each one's bytes toward
// its next collection). Code arrays (the emitter's, the quickened copy),
// genomes and GP error vectors are made by the thousand a second, so they are
// views of a slab instead; a slab is freed once no view of it is left. A view
// never shares an entry with another: what a carved array holds is its own,
// and starts as zeros.

/** Entries per slab. */
const SLAB_ENTRIES = 1 << 15;
/** Longest array carved; longer ones get a buffer of their own (a slab would be mostly theirs). */
const CARVE_MAX = 1 << 11;
/** Bytes V8 keeps inside a typed array's own object: arrays this small are made as usual. */
const IN_OBJECT = 64;

/** Arrays of one kind carved from a slab, the newest one, while it has room. */
class Slabs<A> {
  private slab = new ArrayBuffer(0);
  private used = SLAB_ENTRIES;

  constructor(
    private readonly bytes: number,
    private readonly make: { new (n: number): A; new (buffer: ArrayBuffer, byteOffset: number, length: number): A },
  ) {}

  take(n: number): A {
    if (n > CARVE_MAX || n * this.bytes <= IN_OBJECT) return new this.make(n);
    if (this.used + n > SLAB_ENTRIES) {
      this.slab = new ArrayBuffer(SLAB_ENTRIES * this.bytes);
      this.used = 0;
    }
    const a = new this.make(this.slab, this.used * this.bytes, n);
    this.used += n;
    return a;
  }
}

const words = new Slabs(4, Int32Array);
const floats = new Slabs(8, Float64Array);

/** A new zeroed Int32Array of n words. */
export function newWords(n: number): Int32Array {
  return words.take(n);
}

/** A new zeroed Float64Array of n entries. */
export function newFloats(n: number): Float64Array {
  return floats.take(n);
}

/** A copy of a's words, as newWords makes them. */
export function copyWords(a: Int32Array | readonly number[]): Int32Array {
  const b = newWords(a.length);
  b.set(a);
  return b;
}
