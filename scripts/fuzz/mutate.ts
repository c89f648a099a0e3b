// Mutations shared by the binary kinds (images and modules): damage to raw
// bytes, and structural damage to a decoded msgpack value that keeps it valid
// msgpack but changes fields — numbers nudged to boundaries, strings swapped
// for names the formats use, binaries resized or with a word changed, arrays
// with elements dropped, repeated, swapped or taken from elsewhere.

import type { Rng } from "./rng.js";

/** A decoded msgpack value (images: no maps or floats; modules may get those too). */
export type Value = number | string | Uint8Array | null | boolean | Value[] | { [k: string]: Value };

const BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc2, 0xc3, 0xc4, 0xc6, 0xca, 0xcb, 0xcc, 0xce, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x90, 0x9f, 0xa0, 0xbf, 0xe0, 0xd4, 0xc7];

/** 1..n byte-level changes: flips, awkward bytes, inserted, deleted or repeated runs, u32 overwrites, truncation. */
export function mutateBytes(rng: Rng, input: Uint8Array, start = 0): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  const n = 1 + rng.size(6);
  for (let k = 0; k < n; k++) {
    const len = b.length - start;
    if (len <= 0) {
      b = concat(b, rng.bytes(1 + rng.size(16)));
      continue;
    }
    const at = start + rng.below(len);
    switch (rng.below(9)) {
      case 0:
        b[at] ^= 1 << rng.below(8);
        break;
      case 1:
        b[at] = rng.pick(BYTES);
        break;
      case 2:
        b[at] = rng.u32() & 0xff;
        break;
      case 3: {
        const ins = rng.chance(0.5) ? rng.bytes(1 + rng.size(8)) : Uint8Array.of(rng.pick(BYTES));
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 4:
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.size(16))));
        break;
      case 5: {
        const end = Math.min(b.length, at + 1 + rng.size(64));
        b = concat(b.subarray(0, end), b.subarray(at, end), b.subarray(end));
        break;
      }
      case 6: {
        // A big-endian length or count somewhere (msgpack's lengths are big-endian).
        if (at + 4 > b.length) break;
        new DataView(b.buffer, b.byteOffset).setUint32(at, rng.pick([0, 1, 0x7fffffff, 0xffffffff, 0x10000, rng.u32()]));
        break;
      }
      case 7:
        if (rng.chance(0.3)) b = b.slice(0, at);
        break;
      default: {
        // A run of the same byte (zeros, 0xff, or a fixarray header repeated: nesting).
        const v = rng.pick([0, 0xff, 0x91, 0xc0]);
        b = concat(b.subarray(0, at), new Uint8Array(1 + rng.size(40)).fill(v), b.subarray(at));
      }
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Names the formats use: statuses' fault kinds, capabilities, tags. */
const STRINGS = [
  "",
  "fault",
  "div_by_zero",
  "mem_bounds",
  "cap_failed",
  "trap",
  "bad_image",
  "io.print",
  "io.read",
  "clock.now",
  "random.u32",
  "kv.get:app",
  "fs.read:/tmp",
  "fs.write:/",
  "zz.unknown",
  "mod",
  "rmod",
  "rimg",
  "main",
  "start",
  "refuel",
  "resume",
  "cap",
  "narrow",
  "__proto__",
  "constructor",
  "rar 0.1.0",
  "\u0000",
  "\ud800",
  "x".repeat(300),
];

export const NUMBERS = [
  0, 1, 2, 3, 4, 5, 6, 7, 12, 15, 16, 255, 256, 4096, 65_535, 65_536, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 40,
  Number.MAX_SAFE_INTEGER, -1, -2, -0x80000000, -0x80000001, -(2 ** 40),
];

export interface Slot {
  parent: Value[] | { [k: string]: Value } | null;
  key: number | string;
  value: Value;
}

/** Every node of a value, with where it sits (iterative: values may nest deeply). */
export function slots(root: Value): Slot[] {
  const out: Slot[] = [{ parent: null, key: 0, value: root }];
  for (let i = 0; i < out.length; i++) {
    const v = out[i].value;
    if (Array.isArray(v)) for (let k = 0; k < v.length; k++) out.push({ parent: v, key: k, value: v[k] });
    else if (v !== null && typeof v === "object" && !(v instanceof Uint8Array))
      for (const k of Object.keys(v)) out.push({ parent: v, key: k, value: v[k] });
  }
  return out;
}

/** A deep copy (binaries copied too, so mutations never touch a base). */
export function clone(v: Value): Value {
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (Array.isArray(v)) return v.map(clone);
  if (v !== null && typeof v === "object") {
    const o: { [k: string]: Value } = {};
    for (const k of Object.keys(v)) o[k] = clone(v[k]);
    return o;
  }
  return v;
}

export interface ValueOptions {
  /** Also produce values outside the image format: maps, floats, booleans. */
  loose: boolean;
}

function awkward(rng: Rng, opts: ValueOptions): Value {
  switch (rng.below(opts.loose ? 9 : 6)) {
    case 0:
      return rng.pick(NUMBERS);
    case 1:
      return rng.pick(STRINGS);
    case 2:
      return null;
    case 3:
      return new Uint8Array(rng.pick([0, 1, 4, 12, 32, 33]));
    case 4:
      return rng.chance(0.5) ? [] : [rng.pick(NUMBERS)];
    case 5:
      return rng.word();
    case 6:
      return rng.pick([1.5, -0.5, NaN, Infinity, 1e300]);
    case 7:
      return rng.chance(0.5);
    default:
      return { a: 1, length: 5 };
  }
}

function replaceAt(s: Slot, v: Value): Value {
  if (s.parent === null) return v;
  (s.parent as Record<string | number, Value>)[s.key] = v;
  return v;
}

/** A change to one number: nudged, scaled, negated or set to a boundary. */
export function nudge(rng: Rng, x: number): number {
  switch (rng.below(6)) {
    case 0:
      return x + rng.pick([1, -1]);
    case 1:
      return x + rng.int(-20, 20);
    case 2:
      return x * 2;
    case 3:
      return -x;
    case 4:
      return rng.pick(NUMBERS);
    default:
      return rng.word();
  }
}

/** A changed copy of binary data: a word or byte changed, words added or removed. */
export function mutateBinary(rng: Rng, b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  const dv = new DataView(out.buffer);
  switch (rng.below(6)) {
    case 0:
      if (out.length > 0) out[rng.below(out.length)] ^= 1 << rng.below(8);
      return out;
    case 1:
      if (out.length >= 4) dv.setInt32(4 * rng.below(out.length >> 2), rng.word(), true);
      return out;
    case 2:
      if (out.length >= 4) {
        const i = 4 * rng.below(out.length >> 2);
        dv.setInt32(i, nudge(rng, dv.getInt32(i, true)) | 0, true);
      }
      return out;
    case 3:
      return out.subarray(0, Math.max(0, out.length - 4 * (1 + rng.size(4))));
    case 4:
      return concat(out, rng.chance(0.5) ? new Uint8Array(4 * (1 + rng.size(4))) : rng.bytes(1 + rng.size(12)));
    default:
      return out.subarray(rng.chance(0.5) ? 4 : 1);
  }
}

/**
 * 1..n structural changes to `root` (mutated in place, which callers clone
 * first); returns the new root. `focus` picks the nodes to change more often
 * (e.g. the process records of an image).
 */
export function mutateValue(rng: Rng, root: Value, opts: ValueOptions, focus?: (all: Slot[]) => Slot[]): Value {
  let r = root;
  const n = 1 + rng.size(3);
  for (let k = 0; k < n; k++) {
    const all = slots(r);
    const pool = focus && rng.chance(0.7) ? focus(all) : all;
    if (pool.length === 0) continue;
    const s = pool[rng.below(pool.length)];
    const v = s.value;
    const set = (x: Value): void => {
      const nv = replaceAt(s, x);
      if (s.parent === null) r = nv;
    };
    const c = rng.below(10);
    if (c === 0) {
      set(awkward(rng, opts));
    } else if (c === 1) {
      // A node taken from elsewhere in the value (another record, another field).
      set(clone(all[rng.below(all.length)].value));
    } else if (typeof v === "number") {
      set(nudge(rng, v));
    } else if (typeof v === "string") {
      set(rng.chance(0.5) ? rng.pick(STRINGS) : v.slice(0, rng.below(v.length + 1)) + rng.pick(["", "x", ".", ":", "/", "\u00e9"]));
    } else if (v instanceof Uint8Array) {
      set(mutateBinary(rng, v));
    } else if (Array.isArray(v)) {
      const i = rng.below(v.length + 1);
      switch (rng.below(6)) {
        case 0:
          v.splice(i, 1);
          break;
        case 1:
          if (v.length > 0) v.splice(i, 0, clone(v[Math.min(i, v.length - 1)]));
          break;
        case 2: {
          const j = rng.below(v.length);
          const a = Math.min(i, v.length - 1);
          if (a >= 0) [v[a], v[j]] = [v[j], v[a]];
          break;
        }
        case 3:
          v.splice(i, 0, awkward(rng, opts));
          break;
        case 4:
          v.length = rng.below(v.length + 1);
          break;
        default:
          set(rng.chance(0.5) ? [] : [v]);
      }
    } else {
      set(awkward(rng, opts));
    }
  }
  return r;
}
