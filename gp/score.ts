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
