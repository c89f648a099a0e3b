// Word arrays (and arrays of doubles) of a few dozen to a few thousand
// entries, carved from shared buffers. A typed array longer than V8 keeps inside its own object (64
// bytes) gets a backing store of its own, which costs microseconds to make
// and to collect: as much as verifying a GP candidate, or running it on a
// case (and V8 counts each one's bytes toward its next collection). Code
// arrays (the emitter's, the quickened copy), genomes and GP error vectors
// are made by the thousand a second, so they are views of a slab instead; a slab is
// freed once no view of it is left. A view never shares words with another:
// what a carved array holds is its own, and starts as zeros.

/** Words per slab. */
const SLAB_WORDS = 1 << 15;
/** Longest array carved; longer ones get a buffer of their own (a slab would be mostly theirs). */
const CARVE_MAX = 1 << 11;

let slab = new ArrayBuffer(0);
let used = SLAB_WORDS;

/** A new zeroed Int32Array of n words. */
export function newWords(n: number): Int32Array {
  if (n > CARVE_MAX || n <= 16) return new Int32Array(n);
  if (used + n > SLAB_WORDS) {
    slab = new ArrayBuffer(SLAB_WORDS * 4);
    used = 0;
  }
  const a = new Int32Array(slab, used * 4, n);
  used += n;
  return a;
}

/** A copy of a's words, as newWords makes them. */
export function copyWords(a: Int32Array | readonly number[]): Int32Array {
  const b = newWords(a.length);
  b.set(a);
  return b;
}

let floatSlab = new ArrayBuffer(0);
let floatsUsed = SLAB_WORDS;

/** A new zeroed Float64Array of n entries, carved as newWords carves words. */
export function newFloats(n: number): Float64Array {
  if (n > CARVE_MAX || n <= 8) return new Float64Array(n);
  if (floatsUsed + n > SLAB_WORDS) {
    floatSlab = new ArrayBuffer(SLAB_WORDS * 8);
    floatsUsed = 0;
  }
  const a = new Float64Array(floatSlab, floatsUsed * 8, n);
  floatsUsed += n;
  return a;
}
