// Forensic views of one process's linear memory (`rar inspect --process`):
// words with their addresses, runs of printable code points (like strings(1))
// and the addresses of a word sequence. Pure functions of a decoded process;
// every result is bounded, however large the memory or the request.

import type { Process } from "../process/process.js";
import { RarError } from "../vm/errors.js";

/** Most words one `mem` view shows; a larger COUNT is cut there (and says so). */
export const MEM_WORDS_MAX = 65_536;
/** Most strings or matches one view lists (the total found is still counted). */
export const LIST_MAX = 10_000;
/** Longest string shown, in code points (a longer run is cut, its length still reported). */
export const STRING_SHOWN = 1_000;
/** Default shortest run `strings` reports, as strings(1). */
export const STRING_MIN = 4;
/** Longest word sequence `find` accepts. */
export const FIND_MAX = 1_024;

/** The process at `path` ("0", "0.2", "0.2.1": handles from the image's root), or a usage error naming it. */
export function processAt(root: Process, path: string): Process {
  if (!/^0(\.\d{1,10})*$/.test(path)) throw new RarError("usage.bad_path", `'${path.slice(0, 64)}' is not a process path (0, 0.2, 0.2.1, ...: handles from the root)`);
  let p = root;
  for (const h of path.split(".").slice(1)) {
    const c = p.children.get(Number(h));
    if (!c) {
      const known = [...p.children.keys()].slice(0, 8).map((k) => `${pathOf(root, p)}.${k}`);
      throw new RarError("usage.no_process", `no process ${path} in the image${known.length > 0 ? ` (children of ${pathOf(root, p)}: ${known.join(", ")})` : ` (${pathOf(root, p)} has no children)`}`);
    }
    p = c;
  }
  return p;
}

/** A process's path relative to `root` (the image's root is 0). */
export function pathOf(root: Process, p: Process): string {
  const hs: number[] = [];
  for (let q: Process | null = p; q && q !== root; q = q.parent) hs.push(q.handle);
  return ["0", ...hs.reverse()].join(".");
}

/** A word given on the command line: decimal (signed) or 0x hex up to 32 bits, as an i32. */
export function parseWord(text: string, what: string): number {
  const t = text.trim().replace(/_/g, "");
  let v: number;
  if (/^-?0x[0-9a-f]{1,8}$/i.test(t)) v = t.startsWith("-") ? -parseInt(t.slice(1), 16) : parseInt(t, 16);
  else if (/^-?\d{1,10}$/.test(t)) v = Number(t);
  else throw new RarError("usage.bad_word", `${what}: '${text.slice(0, 32)}' is not a word (a decimal or 0x hex 32-bit integer)`);
  if (v < -0x80000000 || v > 0xffffffff) throw new RarError("usage.bad_word", `${what}: ${text} does not fit in 32 bits`);
  return v | 0;
}

/** An address or count: a non-negative integer, decimal or 0x hex. */
function parseIndex(text: string, what: string): number {
  const t = text.trim().replace(/_/g, "");
  let v = NaN;
  if (/^0x[0-9a-f]{1,13}$/i.test(t)) v = parseInt(t, 16);
  else if (/^\d{1,15}$/.test(t)) v = Number(t);
  if (!Number.isSafeInteger(v)) throw new RarError("usage.bad_address", `${what}: '${text.slice(0, 32)}' is not a non-negative integer`);
  return v;
}

/** "ADDR:COUNT" (COUNT defaults to 1 when left out). */
export function parseRange(text: string): { addr: number; count: number } {
  const [a, c, extra] = text.split(":");
  if (extra !== undefined || a === "") throw new RarError("usage.bad_address", `--mem takes ADDR:COUNT, not '${text.slice(0, 32)}'`);
  return { addr: parseIndex(a, "--mem address"), count: c === undefined ? 1 : parseIndex(c, "--mem count") };
}

/** "W1,W2,...": the words of a sequence. */
export function parseWords(text: string): number[] {
  const parts = text.split(",");
  if (parts.length > FIND_MAX) throw new RarError("usage.bad_word", `--find takes at most ${FIND_MAX} words`);
  return parts.map((w, i) => parseWord(w, `--find word ${i + 1}`));
}

export interface MemView {
  addr: number;
  /** Words asked for. */
  count: number;
  /** Words shown: cut at the end of memory and at MEM_WORDS_MAX. */
  words: number[];
  memSize: number;
}

/** Words [addr, addr+count) of p's memory; an address beyond the memory is a usage error. */
export function memView(p: Process, addr: number, count: number): MemView {
  if (addr > p.memSize || (addr === p.memSize && count > 0))
    throw new RarError("usage.bad_address", `address ${addr} is outside process ${p.path}'s memory of ${p.memSize} word(s)`);
  const end = Math.min(p.memSize, addr + Math.min(count, MEM_WORDS_MAX));
  return { addr, count, words: Array.from(p.mem.subarray(addr, end)), memSize: p.memSize };
}

/** Code points strings(1) would print: not control characters, not surrogates, within Unicode (tab allowed). */
export function printable(w: number): boolean {
  if (w === 9) return true;
  if (w < 0x20 || w > 0x10ffff) return false;
  if (w >= 0x7f && w < 0xa0) return false;
  return w < 0xd800 || w > 0xdfff;
}

export interface FoundString {
  addr: number;
  /** Code points in the run. */
  length: number;
  /** The run as text, cut at STRING_SHOWN code points. */
  text: string;
}

export interface StringsView {
  min: number;
  /** Runs found in all of memory. */
  found: number;
  /** The first LIST_MAX of them. */
  items: FoundString[];
}

/** Runs of at least `min` printable code points in p's memory, in address order. */
export function stringsIn(p: Process, min = STRING_MIN): StringsView {
  const mem = p.mem;
  const n = p.memSize;
  const items: FoundString[] = [];
  let found = 0;
  let start = -1;
  const close = (end: number): void => {
    if (start >= 0 && end - start >= min) {
      found++;
      if (items.length < LIST_MAX) {
        let text = "";
        for (let i = start; i < Math.min(end, start + STRING_SHOWN); i++) text += String.fromCodePoint(mem[i]);
        items.push({ addr: start, length: end - start, text });
      }
    }
    start = -1;
  };
  for (let i = 0; i < n; i++) {
    if (printable(mem[i])) {
      if (start < 0) start = i;
    } else close(i);
  }
  close(n);
  return { min, found, items };
}

export interface FindView {
  words: number[];
  found: number;
  /** Start addresses of the first LIST_MAX matches (overlapping matches included). */
  addresses: number[];
}

/** Every address where `words` occurs in p's memory. */
export function findWords(p: Process, words: readonly number[]): FindView {
  const mem = p.mem;
  const n = p.memSize;
  const k = words.length;
  const addresses: number[] = [];
  let found = 0;
  if (k > 0) {
    const first = words[0];
    for (let i = 0; i + k <= n; i++) {
      if (mem[i] !== first) continue;
      let j = 1;
      while (j < k && mem[i + j] === words[j]) j++;
      if (j === k) {
        found++;
        if (addresses.length < LIST_MAX) addresses.push(i);
      }
    }
  }
  return { words: [...words], found, addresses };
}

/** A word as 8 hex digits (its 32 bits, unsigned). */
export function hexWord(w: number): string {
  return "0x" + (w >>> 0).toString(16).padStart(8, "0");
}
