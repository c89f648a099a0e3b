// Per-case error of one program output, by output kind. Errors are
// non-negative integers capped at the problem's penalty, which is also what a
// case without a usable result (fault, out of gas, out of memory) scores.

/** Levenshtein (edit) distance between two strings of code points, O(|a|·|b|) time and O(|b|) space. */
export function levenshtein(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ai = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1] + (ai === b[j - 1] ? 0 : 1);
      const del = prev[j] + 1;
      const ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[b.length];
}

export function codePoints(s: string): number[] {
  return Array.from(s, (ch) => ch.codePointAt(0) as number);
}

/** Error of an integer result: absolute difference, capped. */
export function intError(expected: number, actual: number, penalty: number): number {
  const d = Math.abs(expected - actual);
  return d < penalty ? d : penalty;
}

/** Error of a boolean result (any non-zero word is true): 0 or 1. */
export function boolError(expected: number, actual: number): number {
  return (expected !== 0) === (actual !== 0) ? 0 : 1;
}

/** Error of a string result: edit distance, capped. */
export function stringError(expected: readonly number[], actual: readonly number[], penalty: number): number {
  const d = levenshtein(expected, actual);
  return d < penalty ? d : penalty;
}

/** Error of printed output scored as the reference scores it: 0 if the n characters at words[at..] are exactly `expected`, else 1. */
export function exactError(expected: readonly number[], words: Int32Array, at: number, n: number): number {
  if (n !== expected.length) return 1;
  for (let i = 0; i < n; i++) if (words[at + i] !== expected[i]) return 1;
  return 0;
}

/** How a vector result is scored (the reference's per-problem error functions). */
export type VectorError = "levenshtein" | "elementwise";

/** Cost of each element of a length difference in the element-wise vector error (the reference's). */
export const LENGTH_PENALTY = 10_000;

/**
 * Error of a vector result, capped: `levenshtein` is the edit distance
 * between the two vectors; `elementwise` sums |expected[i] - actual[i]| over
 * the positions both have, plus LENGTH_PENALTY per element of length difference.
 */
export function vectorError(expected: readonly number[], actual: readonly number[], how: VectorError, penalty: number): number {
  let d: number;
  if (how === "levenshtein") d = levenshtein(expected, actual);
  else {
    d = LENGTH_PENALTY * Math.abs(expected.length - actual.length);
    for (let i = 0, n = Math.min(expected.length, actual.length); i < n && d < penalty; i++) d += Math.abs(expected[i] - actual[i]);
  }
  return d < penalty ? d : penalty;
}

/**
 * Error of several integer outputs: per output, |expected - actual| capped at
 * `each` when the program set it (bit k of `set`), else `each`; summed.
 */
export function outputsError(expected: readonly number[], set: number, words: Int32Array, at: number, each: number): number {
  let e = 0;
  for (let k = 0; k < expected.length; k++) e += (set >> k) & 1 ? intError(expected[k], words[at + k], each) : each;
  return e;
}
