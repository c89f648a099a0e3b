// Hostile checks of the in-place trace reader (src/trace/decode.ts readInPlace,
// src/image/wire.ts WireReader): each event's link is checked by hashing the
// INPUT's bytes of the event, which is only sound if every byte string the
// reader accepts is exactly what the canonical encoder writes for the decoded
// event. An adversary with a hex editor rewrites events in other msgpack forms
// of the same values, flips, inserts and deletes bytes, then fixes every link,
// the head and the body digest up (so the body is parsed and the links check
// whichever bytes the reader would hash). The oracle: an image the decoder
// accepts restores to a session whose snapshot is the input, byte for byte,
// and whose chain heads are those of the straight encoding (@noble/hashes);
// anything else is an image.* or trace.* RarError, never another exception.

import { sha256 as nobleSha256 } from "@noble/hashes/sha2";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HEX64, cat, startEvent, u8, imageWith } from "./helpers/trace-events.js";
import { HEADER_BYTES, seal } from "../src/image/encode.js";
import { B, HOST_EVENT_KINDS } from "../src/image/format.js";
import { WireWriter, elementSpans, join, scanValue, unpackChecked } from "../src/image/wire.js";
import { Session } from "../src/session.js";
import { auditImage } from "../src/trace/audit.js";
import { eventFields, type TraceEvent } from "../src/trace/events.js";
import { Trace } from "../src/trace/store.js";
import { RarError } from "../src/vm/errors.js";
import type { CapHandler } from "../src/caps/registry.js";
import { load } from "./helpers/asm.js";

// --- msgpack by hand ---------------------------------------------------------

function be(n: number, bytes: number): number[] {
  const out: number[] = [];
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((BigInt(n) >> BigInt(8 * i)) & 0xffn));
  return out;
}
const f64 = (x: number): Uint8Array => {
  const b = new Uint8Array(9);
  b[0] = 0xcb;
  new DataView(b.buffer).setFloat64(1, x);
  return b;
};
const wire = (v: Parameters<WireWriter["value"]>[0]): Uint8Array => {
  const w = new WireWriter().value(v);
  return join(w.parts(), w.length());
};

/** A value's span at `pos` in b: [start, end), any admitted form. */
const end = (b: Uint8Array, pos: number): number => scanValue(b, pos, 64, "test");

/** The header of the array at `pos`: [length, where its first element starts]; null when not an array. */
function arrayHeader(b: Uint8Array, pos: number): [number, number] | null {
  const t = b[pos];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (t >= 0x90 && t <= 0x9f) return [t & 0x0f, pos + 1];
  if (t === 0xdc) return [dv.getUint16(pos + 1), pos + 3];
  if (t === 0xdd) return [dv.getUint32(pos + 1), pos + 5];
  return null;
}

/** Element spans of the array at `pos`. */
function elements(b: Uint8Array, pos: number): [number, number][] | null {
  const h = arrayHeader(b, pos);
  if (h === null) return null;
  const out: [number, number][] = [];
  let p = h[1];
  for (let k = 0; k < h[0]; k++) {
    const e = end(b, p);
    out.push([p, e]);
    p = e;
  }
  return out;
}

// --- the image's parts -------------------------------------------------------

const versionOf = (image: Uint8Array): number => image[6];
const bodyOf = (image: Uint8Array): Uint8Array => image.subarray(HEADER_BYTES);
/** The image around `body`, its content digest recomputed (so the body is parsed). */
const reseal = (body: Uint8Array, version: number): Uint8Array => seal([body], body.length, version);

/** The raw bytes of each event of an image's trace (as stored), and the body around the trace field. */
function split(image: Uint8Array): { before: Uint8Array; after: Uint8Array; events: Uint8Array[]; version: number } {
  const body = bodyOf(image);
  const spans = elementSpans(body, []);
  const [ts, te] = spans[B.trace];
  const events = elementSpans(body, [B.trace, 1]).map(([s, e]) => body.slice(s, e));
  return { before: body.slice(0, ts), after: body.slice(te), events, version: versionOf(image) };
}

function arrayHead(n: number): Uint8Array {
  return n < 16 ? u8(0x90 | n) : n < 0x10000 ? u8(0xdc, ...be(n, 2)) : u8(0xdd, ...be(n, 4));
}

/** The trace field [head, events] around raw event bytes. */
function traceField(head: Uint8Array, events: readonly Uint8Array[]): Uint8Array {
  return cat(u8(0x92, 0xc4, 32), head, arrayHead(events.length), ...events);
}

const sha = (...parts: Uint8Array[]): Uint8Array => nobleSha256(cat(...parts)) as Uint8Array;
const ZERO: Uint8Array = new Uint8Array(32);

/**
 * How a forger fixes links up: "inplace" hashes what the in-place reader
 * hashes (a header one shorter, then the input's bytes of kind and fields),
 * "canonical" hashes the canonical re-encoding of the unpacked values (what a
 * reader that re-encodes hashes). An event that does not parse is left as it is.
 */
type Fix = "inplace" | "canonical";

function fixLinks(events: readonly Uint8Array[], how: Fix): { events: Uint8Array[]; head: Uint8Array } {
  let full = ZERO;
  let exec = ZERO;
  const out: Uint8Array[] = [];
  for (const ev of events) {
    let spans: [number, number][] | null = null;
    try {
      spans = elements(ev, 0);
    } catch {
      spans = null;
    }
    if (spans === null || spans.length < 2) {
      out.push(ev);
      continue;
    }
    const [ls, le] = spans[spans.length - 1];
    let enc: Uint8Array;
    let kind: unknown;
    try {
      kind = unpackChecked(ev.subarray(spans[0][0], spans[0][1]), 8, "t");
      if (how === "inplace") enc = cat(arrayHead(spans.length - 1), ev.subarray(spans[0][0], ls));
      else {
        const vals = unpackChecked(ev, 16, "t") as Parameters<WireWriter["value"]>[0][];
        enc = wire(vals.slice(0, -1));
      }
    } catch {
      out.push(ev);
      continue;
    }
    full = sha(full, enc);
    let link = full;
    if (!HOST_EVENT_KINDS.has(kind as string)) link = exec = sha(exec, enc);
    out.push(cat(ev.subarray(0, ls), u8(0xc4, 32), link, ev.subarray(le)));
  }
  return { events: out, head: full };
}

/** The image with these raw events as its trace, links fixed up `how`, head and body digest recomputed. */
function forge(image: Uint8Array, events: readonly Uint8Array[], how: Fix): Uint8Array {
  const p = split(image);
  const fixed = fixLinks(events, how);
  return reseal(cat(p.before, traceField(fixed.head, fixed.events), p.after), p.version);
}

// --- the oracle --------------------------------------------------------------

/** The straight chain heads of decoded events (@noble/hashes over encodeEvent's bytes). */
function straightHeads(events: readonly TraceEvent[]): { full: Uint8Array; exec: Uint8Array } {
  let full = ZERO;
  let exec = ZERO;
  for (const e of events) {
    const enc = wire(eventFields(e));
    full = sha(full, enc);
    if (!HOST_EVENT_KINDS.has(e.kind)) exec = sha(exec, enc);
  }
  return { full, exec };
}

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");

type Outcome = { ok: true } | { ok: false; key: string };

/**
 * Restores `bytes`: an image.* or trace.* RarError, or a session whose
 * snapshot is `bytes` and whose chain heads are the straight encoding's.
 * Anything else fails the test (returned for properties to count).
 */
function oracle(bytes: Uint8Array, label = "", opts: Parameters<typeof Session.fromImage>[1] = {}): Outcome {
  let s: Session;
  try {
    s = Session.fromImage(bytes, opts);
  } catch (e) {
    if (!(e instanceof RarError)) throw new Error(`${label}: not a RarError: ${(e as Error)?.stack ?? String(e)}`);
    if (!/^(image|trace)\./.test(e.key)) throw new Error(`${label}: error ${e.key} is neither image.* nor trace.*: ${e.message}`);
    return { ok: false, key: e.key };
  }
  // An image without a history (a guest snapshot) starts one when restored (Session.fromImage): not the input's bytes.
  if (split(bytes).events.length === 0) {
    expect((s.trace as Trace).at(0).kind, `${label}: empty trace`).toBe("start");
    return { ok: true };
  }
  const again = s.snapshot();
  if (hexOf(again) !== hexOf(bytes)) throw new Error(`${label}: accepted, but its snapshot differs from the input (${again.length} vs ${bytes.length} bytes, first difference at ${firstDiff(again, bytes)})`);
  const t = s.trace as Trace;
  const heads = straightHeads(t.events());
  expect(hexOf(t.head()), `${label}: head`).toBe(hexOf(heads.full));
  expect(hexOf(t.execHead()), `${label}: exec head`).toBe(hexOf(heads.exec));
  return { ok: true };
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}


describe("the harness", () => {
  it("a valid image with a varied trace restores to itself; forging without a change gives the same bytes", () => {
    const img = imageWith([
      startEvent(),
      { kind: "refuel", gas: 10_000, mem: 300 },
      { kind: "resume" },
      { kind: "cap", path: "0", cap: "t.int", args: [1, -70000], result: 300 },
      { kind: "cap", path: "0.1", cap: "t.arr", args: [Int32Array.of(1, 2, 3)], result: Int32Array.of(-1) },
      { kind: "resume", by: "worker-1" },
    ] as TraceEvent[]);
    expect(oracle(img).ok).toBe(true);
    const p = split(img);
    expect(hexOf(forge(img, p.events, "inplace"))).toBe(hexOf(img));
    expect(hexOf(forge(img, p.events, "canonical"))).toBe(hexOf(img));
  });
});

// --- other forms of the same values -------------------------------------------

interface Token {
  start: number;
  end: number;
  /** The header's end (payload or elements follow). */
  body: number;
  kind: "int" | "float" | "nil" | "str" | "bin" | "array";
  /** int/float: the value; str/bin: payload length; array: element count. */
  n: number;
  /** Nesting depth inside the event (0: the event array). */
  depth: number;
  /** Index among the event's elements (top-level elements only; -1 inside). */
  index: number;
}

/** Every value of an event (the event's array first), preorder. */
function tokens(b: Uint8Array): Token[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Token[] = [];
  // Elements left per open array, and the element index at depth 1.
  const open: number[] = [];
  let index = -1;
  let p = 0;
  for (;;) {
    const depth = open.length;
    if (depth === 1) index++;
    const t = b[p];
    const start = p;
    let kind: Token["kind"];
    let n = 0;
    let body: number;
    if (t <= 0x7f || t >= 0xe0) {
      kind = "int";
      n = t <= 0x7f ? t : t - 0x100;
      body = p + 1;
      p = body;
    } else if (t === 0xc0) {
      kind = "nil";
      body = p = p + 1;
    } else if (t >= 0xcc && t <= 0xce) {
      const k = 1 << (t - 0xcc);
      kind = "int";
      n = k === 1 ? b[p + 1] : k === 2 ? dv.getUint16(p + 1) : dv.getUint32(p + 1);
      body = p = p + 1 + k;
    } else if (t >= 0xd0 && t <= 0xd2) {
      const k = 1 << (t - 0xd0);
      kind = "int";
      n = k === 1 ? dv.getInt8(p + 1) : k === 2 ? dv.getInt16(p + 1) : dv.getInt32(p + 1);
      body = p = p + 1 + k;
    } else if (t === 0xcb) {
      kind = "float";
      n = dv.getFloat64(p + 1);
      body = p = p + 9;
    } else if ((t >= 0xa0 && t <= 0xbf) || t === 0xd9 || t === 0xda || t === 0xdb || t === 0xc4 || t === 0xc5 || t === 0xc6) {
      kind = (t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb) ? "str" : "bin";
      if (t >= 0xa0 && t <= 0xbf) {
        n = t & 0x1f;
        body = p + 1;
      } else {
        const k = t === 0xd9 || t === 0xc4 ? 1 : t === 0xda || t === 0xc5 ? 2 : 4;
        n = k === 1 ? b[p + 1] : k === 2 ? dv.getUint16(p + 1) : dv.getUint32(p + 1);
        body = p + 1 + k;
      }
      p = body + n;
    } else {
      const h = arrayHeader(b, p);
      if (h === null) throw new Error(`type 0x${t.toString(16)}`);
      kind = "array";
      n = h[0];
      body = p = h[1];
    }
    out.push({ start, end: kind === "array" ? -1 : p, body, kind, n, depth, index: depth === 1 ? index : -1 });
    if (kind === "array" && n > 0) {
      if (depth === 0) index = -1;
      open.push(n);
      continue;
    }
    // Close every array whose elements are all read.
    while (open.length > 0) {
      open[open.length - 1]--;
      if (open[open.length - 1] > 0) break;
      open.pop();
    }
    if (open.length === 0) return out;
  }
}

/** Every other header (or form) of a token's value, and values of other types in its place. */
function rewrites(b: Uint8Array, t: Token): { label: string; bytes: Uint8Array }[] {
  const out: { label: string; bytes: Uint8Array }[] = [];
  const own = b.subarray(t.start, t.body);
  const add = (label: string, head: Uint8Array, keepPayload = true): void => {
    if (hexOf(head) === hexOf(own) && keepPayload) return;
    out.push({ label, bytes: keepPayload ? cat(head, b.subarray(t.body, t.end === -1 ? t.body : t.end)) : head });
  };
  if (t.kind === "int" || t.kind === "float") {
    const v = t.n;
    if (v >= 0 && v < 0x80) add("fixint", u8(v));
    if (v >= -32 && v < 0) add("negative fixint", u8(v & 0xff));
    if (v >= 0 && v < 0x100) add("uint8", u8(0xcc, v));
    if (v >= 0 && v < 0x10000) add("uint16", u8(0xcd, ...be(v, 2)));
    if (v >= 0 && v < 2 ** 32) add("uint32", u8(0xce, ...be(v, 4)));
    if (v >= 0 && Number.isSafeInteger(v)) add("uint64", u8(0xcf, ...be(v, 8)));
    if (v >= -128 && v < 128) add("int8", u8(0xd0, v & 0xff));
    if (v >= -32768 && v < 32768) add("int16", u8(0xd1, ...be(v & 0xffff, 2)));
    if (v >= -(2 ** 31) && v < 2 ** 31) add("int32", u8(0xd2, ...be(v >>> 0, 4)));
    if (Number.isSafeInteger(v)) add("int64", u8(0xd3, ...be(BigInt.asUintN(64, BigInt(v)) as unknown as number, 8)));
    add("float64", f64(v));
    if (Math.fround(v) === v) {
      const f = new Uint8Array(5);
      f[0] = 0xca;
      new DataView(f.buffer).setFloat32(1, v);
      add("float32", f);
    }
    if (v === 0) add("float64 -0", f64(-0));
    add("float64 +0.5", f64(v + 0.5));
    add("float64 NaN", f64(NaN));
    add("float64 Infinity", f64(Infinity));
  } else if (t.kind === "str" || t.kind === "bin") {
    const n = t.n;
    const s = t.kind === "str";
    if (s && n < 32) add("fixstr", u8(0xa0 | n));
    add(s ? "str8" : "bin8", u8(s ? 0xd9 : 0xc4, n & 0xff), n < 0x100);
    if (n < 0x100) add(s ? "str8" : "bin8", u8(s ? 0xd9 : 0xc4, n));
    add(s ? "str16" : "bin16", u8(s ? 0xda : 0xc5, ...be(n, 2)));
    add(s ? "str32" : "bin32", u8(s ? 0xdb : 0xc6, ...be(n, 4)));
    // The same bytes as the other type.
    add(s ? "as bin" : "as str", n < 0x100 ? u8(s ? 0xc4 : 0xd9, n) : u8(s ? 0xc5 : 0xda, ...be(n, 2)));
  } else if (t.kind === "array") {
    const n = t.n;
    if (n < 16) add("fixarray", u8(0x90 | n));
    add("array16", u8(0xdc, ...be(n, 2)));
    add("array32", u8(0xdd, ...be(n, 4)));
  }
  if (t.kind !== "array") {
    const whole = t.end;
    const other = (label: string, bytes: Uint8Array): void => {
      if (hexOf(bytes) !== hexOf(b.subarray(t.start, whole))) out.push({ label, bytes });
    };
    other("nil", u8(0xc0));
    other("a map", u8(0x80));
    other("a map of one", u8(0x81, 0x01, 0x02));
    other("an ext", u8(0xd4, 0x00, 0x00));
    other("true", u8(0xc3));
  }
  return out.filter((r, i) => out.findIndex((q) => hexOf(q.bytes) === hexOf(r.bytes)) === i);
}

/** A trace with every kind of event and values at every boundary of the int forms. */
const VARIED: TraceEvent[] = [
  startEvent({ linked: ["0".repeat(64), "f".repeat(64)], entry: 3, args: Int32Array.of(-1, 127, 128, -33), texts: [Int32Array.of(104, 105), Int32Array.of()] }),
  { kind: "refuel", gas: 2 ** 32, mem: 65_536 },
  { kind: "resume" },
  { kind: "cap", path: "0", cap: "t.int", args: [0, 127], result: 128 },
  { kind: "cap", path: "0.1", cap: "t.int", args: [-32, -33], result: -129 },
  { kind: "cap", path: "0.1.2", cap: "t.int", args: [255, 256], result: 65_535 },
  { kind: "cap", path: "0", cap: "t.int", args: [-32_768, -32_769], result: 65_536 },
  { kind: "cap", path: "0", cap: "t.int", args: [-(2 ** 31), 2 ** 31 - 1], result: -128 },
  { kind: "cap", path: "0", cap: "t.arr", args: [Int32Array.of(1, 2), Int32Array.of()], result: Int32Array.from({ length: 70 }, (_, i) => i) },
  { kind: "cap_error", path: "0", cap: "t.int", args: [1, 2], error: "refused: " + "x".repeat(40) },
  { kind: "interrupt", gas: 2 ** 32 - 1 },
  { kind: "resume", by: "worker-a" },
  { kind: "answer", value: -1 },
  { kind: "narrow", grants: ["io.print", "t.int"] },
  { kind: "prompt", path: "0", cap: "net.fetch:http://h:1", allowed: 1 },
  { kind: "fs_import", length: 3, files: Int32Array.of(0x616263) },
  { kind: "refuel", gas: 0, mem: 2 ** 53 - 1 },
] as TraceEvent[];

describe.each([
  ["read in place", false],
  ["with a debug part (read as values)", true],
])("other msgpack forms of the same values are refused: %s", (_, debug) => {
  const img = imageWith(VARIED, debug);
  const p = split(img);

  it("the varied trace itself restores to its own bytes", () => {
    expect(oracle(img, "varied").ok).toBe(true);
  });

  it("every value of every event (but its link) in every other form, and values of other types in its place: image.* or trace.*", () => {
    let tried = 0;
    const accepted: string[] = [];
    for (let i = 0; i < p.events.length; i++) {
      const ev = p.events[i];
      const toks = tokens(ev);
      const linkIndex = toks[0].n - 1;
      for (const t of toks) {
        if (t.depth === 1 && t.index === linkIndex) continue;
        for (const r of rewrites(ev, t)) {
          const end = t.kind === "array" ? t.body : t.end;
          const changed = cat(ev.subarray(0, t.start), r.bytes, ev.subarray(end));
          for (const how of ["inplace", "canonical"] as const) {
            const events = p.events.slice();
            events[i] = changed;
            const label = `event ${i} (${VARIED[i].kind}) value at byte ${t.start} as ${r.label}, links ${how}`;
            tried++;
            try {
              if (oracle(forge(img, events, how), label).ok) accepted.push(label);
            } catch (e) {
              accepted.push((e as Error).message);
            }
          }
        }
      }
    }
    expect(tried).toBeGreaterThan(1000);
    // Listed (the first few, and how many) rather than stopping at the first.
    expect({ count: accepted.length, first: accepted.slice(0, 6) }).toEqual({ count: 0, first: [] });
  });

  it("strings that are not UTF-8 as the writer gives it (a surrogate, an overlong form, past U+10FFFF, a stray byte) are refused; a byte-order mark is kept", () => {
    const i = VARIED.findIndex((e) => e.kind === "cap_error");
    const ev = p.events[i];
    const text = wire("refused: " + "x".repeat(40));
    const at = Buffer.from(ev).indexOf(Buffer.from(text));
    expect(at).toBeGreaterThan(0);
    const payload = (bytes: number[]): Uint8Array => cat(u8(0xd9, 40 + bytes.length), Buffer.from("x".repeat(40)), u8(...bytes));
    const bad: [string, number[]][] = [
      ["a surrogate", [0xed, 0xa0, 0x80]],
      ["an overlong NUL", [0xc0, 0x80]],
      ["an overlong slash", [0xe0, 0x80, 0xaf]],
      ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
      ["a stray continuation byte", [0x80]],
      ["0xff", [0xff]],
      ["a truncated sequence", [0xe2, 0x82]],
    ];
    for (const how of ["inplace", "canonical"] as const) {
      for (const [label, bytes] of bad) {
        const events = p.events.slice();
        events[i] = cat(ev.subarray(0, at), payload(bytes), ev.subarray(at + text.length));
        let o: Outcome;
        try {
          o = oracle(forge(img, events, how), label);
        } catch (e) {
          throw new Error(`${label}, links ${how}: ${(e as Error).message}`);
        }
        expect(o.ok, `${label}, links ${how}`).toBe(false);
      }
      // A byte-order mark (and other valid multi-byte text) is text like any other: kept as it is.
      const events = p.events.slice();
      events[i] = cat(ev.subarray(0, at), payload([0xef, 0xbb, 0xbf, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98, 0x80]), ev.subarray(at + text.length));
      expect(oracle(forge(img, events, how), `BOM, links ${how}`).ok).toBe(true);
    }
  });

  it("optional trailing fields given as nil (start's texts, resume's by) are refused", () => {
    const nilled = (i: number): Uint8Array[] => {
      const ev = p.events[i];
      const spans = elements(ev, 0) as [number, number][];
      const [ls] = spans[spans.length - 1];
      const events = p.events.slice();
      events[i] = cat(u8(0x90 | (spans.length + 1)), ev.subarray(1, ls), u8(0xc0), ev.subarray(ls));
      return events;
    };
    const bare = imageWith([startEvent(), { kind: "resume" }] as TraceEvent[], debug);
    const q = split(bare);
    for (const how of ["inplace", "canonical"] as const) {
      // start without texts, then texts: nil.
      const s = q.events.slice();
      const spans = elements(s[0], 0) as [number, number][];
      const [ls] = spans[spans.length - 1];
      s[0] = cat(u8(0x90 | (spans.length + 1)), s[0].subarray(1, ls), u8(0xc0), s[0].subarray(ls));
      expect(oracle(forge(bare, s, how), `start texts nil ${how}`).ok).toBe(false);
      // resume: by nil.
      const r = q.events.slice();
      // [kind, nil, link].
      r[1] = cat(u8(0x93), q.events[1].subarray(1, 1 + 7), u8(0xc0), q.events[1].subarray(8));
      expect(oracle(forge(bare, r, how), `resume by nil ${how}`).ok).toBe(false);
      // And on the varied trace: a start that has texts, then nil after them (one value too many).
      expect(oracle(forge(img, nilled(0), how), `start texts then nil ${how}`).ok).toBe(false);
      expect(oracle(forge(img, nilled(11), how), `resume by then nil ${how}`).ok).toBe(false);
    }
  });

  it("the trace field's own headers in longer forms (the events array, [head, events], the head as bin16) are refused", () => {
    const body = bodyOf(img);
    const [ts, te] = elementSpans(body, [])[B.trace];
    const field = body.subarray(ts, te);
    const n = p.events.length;
    const head = field.subarray(3, 35);
    const evs = cat(...p.events);
    const variants: [string, Uint8Array][] = [
      // n > 16: array16 is its form; array32 is not.
      ["events array32", cat(u8(0x92, 0xc4, 32), head, u8(0xdd, ...be(n, 4)), evs)],
      ["trace array16", cat(u8(0xdc, 0, 2, 0xc4, 32), head, arrayHead(n), evs)],
      ["head bin16", cat(u8(0x92, 0xc5, 0, 32), head, arrayHead(n), evs)],
      ["head as str8", cat(u8(0x92, 0xd9, 32), head, arrayHead(n), evs)],
    ];
    expect(hexOf(cat(u8(0x92, 0xc4, 32), head, arrayHead(n), evs))).toBe(hexOf(field));
    for (const [label, f] of variants) {
      const bytes = reseal(cat(body.subarray(0, ts), f, body.subarray(te)), versionOf(img));
      expect(oracle(bytes, label).ok, label).toBe(false);
    }
    // A short trace: its events array as array16.
    const short = imageWith(VARIED.slice(0, 5), debug);
    const sb = bodyOf(short);
    const [ss, se] = elementSpans(sb, [])[B.trace];
    const sf = sb.subarray(ss, se);
    expect(sf[35]).toBe(0x95);
    const long16 = cat(sf.subarray(0, 35), u8(0xdc, 0, 5), sf.subarray(36));
    expect(oracle(reseal(cat(sb.subarray(0, ss), long16, sb.subarray(se)), versionOf(short)), "events array16").ok).toBe(false);
  });
});

// --- random traces, random damage ------------------------------------------------

const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
/** Ints near the edges of the msgpack forms more often than elsewhere. */
const edgy = fc.oneof(
  i32,
  fc.constantFrom(0, 1, 127, 128, 255, 256, 65_535, 65_536, -1, -32, -33, -128, -129, -32_768, -32_769, 2 ** 31 - 1, -(2 ** 31)),
);
const amount = fc.oneof(fc.constantFrom(0, 127, 128, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1), fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const words = fc.array(edgy, { maxLength: 80 }).map((a) => Int32Array.from(a));
const value = fc.oneof(edgy, words);
const path = fc.constantFrom("0", "0.1", "0.1.12", "0.300");
const capName = fc.constantFrom("t.int", "t.arr", "io.print", "kv.get", "x".repeat(40));
const names = (pool: readonly string[]) => fc.uniqueArray(fc.constantFrom(...pool), { maxLength: pool.length }).map((a) => [...a].sort());
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("", "é", "日本", "x".repeat(300)));
const letterType = fc.constantFrom("int", "array");
const hostTable = fc
  .uniqueArray(fc.record({ name: capName, sig: fc.record({ args: fc.array(letterType, { maxLength: 4 }), result: letterType }) }), { selector: (h) => h.name, maxLength: 4 })
  .map((a) => [...a].sort((x, y) => (x.name < y.name ? -1 : 1)));
const digest = fc.constantFrom("0".repeat(64), "f".repeat(64), HEX64, "12".repeat(32));

const startArb = fc
  .record({
    linked: names(["0".repeat(64), "f".repeat(64), HEX64]),
    entry: fc.nat({ max: 20 }),
    args: words,
    grants: names(["io.print", "t.int", "t.arr", "kv.get"]),
    host: hostTable,
    maxDepth: fc.nat({ max: 5000 }),
    memMax: fc.oneof(fc.nat(), fc.constant(2 ** 31 - 1)),
    texts: fc.option(fc.array(words, { maxLength: 3 }), { nil: undefined }),
    module: digest,
  })
  .map((r) => {
    const e: Record<string, unknown> = { kind: "start", policy: "", ...r };
    if (r.texts === undefined) delete e.texts;
    return e as unknown as TraceEvent;
  });

const eventArb: fc.Arbitrary<TraceEvent> = fc.oneof(
  fc.record({ kind: fc.constant("cap"), path, cap: capName, args: fc.array(value, { maxLength: 4 }), result: value }),
  fc.record({ kind: fc.constant("cap_error"), path, cap: capName, args: fc.array(value, { maxLength: 4 }), error: text }),
  fc.record({ kind: fc.constant("refuel"), gas: amount, mem: amount }),
  fc.constant({ kind: "resume" }),
  fc.record({ kind: fc.constant("resume"), by: fc.constantFrom("", "w1", "worker-" + "b".repeat(30)) }),
  fc.record({ kind: fc.constant("interrupt"), gas: amount }),
  fc.record({ kind: fc.constant("answer"), value: edgy }),
  fc.record({ kind: fc.constant("narrow"), grants: names(["io.print", "t.int", "t.arr"]) }),
  fc.record({ kind: fc.constant("prompt"), path, cap: fc.constantFrom("net.fetch:http://h:1", "env.get:HOME"), allowed: fc.constantFrom(0, 1) }),
) as fc.Arbitrary<TraceEvent>;

const traceArb = fc.tuple(startArb, fc.array(eventArb, { maxLength: 10 })).map(([s, rest]) => [s, ...rest]);

type Damage =
  | { op: "flip"; event: number; at: number; mask: number }
  | { op: "insert"; event: number; at: number; byte: number }
  | { op: "delete"; event: number; at: number }
  | { op: "reencode"; event: number; token: number; form: number }
  | { op: "drop" | "dup"; event: number }
  | { op: "swap"; event: number; other: number };

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), event: fc.nat(), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant("insert" as const), event: fc.nat(), at: fc.nat(), byte: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0xc0, 0x90, 0xa0, 0xcc, 0xcb, 0xdc)) }),
  fc.record({ op: fc.constant("delete" as const), event: fc.nat(), at: fc.nat() }),
  fc.record({ op: fc.constant("reencode" as const), event: fc.nat(), token: fc.nat(), form: fc.nat() }),
  fc.record({ op: fc.constantFrom("drop" as const, "dup" as const), event: fc.nat() }),
  fc.record({ op: fc.constant("swap" as const), event: fc.nat(), other: fc.nat() }),
);

/** The events with the damage done (null: nothing changed). */
function damage(events: readonly Uint8Array[], d: Damage): Uint8Array[] | null {
  if (events.length === 0) return null;
  const out = events.slice();
  const i = d.event % out.length;
  const ev = out[i];
  switch (d.op) {
    case "flip": {
      const b = ev.slice();
      b[d.at % b.length] ^= d.mask;
      out[i] = b;
      break;
    }
    case "insert": {
      const at = d.at % (ev.length + 1);
      out[i] = cat(ev.subarray(0, at), u8(d.byte), ev.subarray(at));
      break;
    }
    case "delete": {
      const at = d.at % ev.length;
      out[i] = cat(ev.subarray(0, at), ev.subarray(at + 1));
      break;
    }
    case "reencode": {
      let all: Token[];
      try {
        all = tokens(ev);
      } catch {
        return null; // damaged already past what tokens() reads
      }
      const toks = all.filter((t) => !(t.depth === 1 && t.index === all[0].n - 1));
      if (toks.length === 0) return null;
      const t = toks[d.token % toks.length];
      const rs = rewrites(ev, t);
      if (rs.length === 0) return null;
      const r = rs[d.form % rs.length];
      out[i] = cat(ev.subarray(0, t.start), r.bytes, ev.subarray(t.kind === "array" ? t.body : t.end));
      break;
    }
    case "drop":
      out.splice(i, 1);
      break;
    case "dup":
      out.splice(i, 0, ev);
      break;
    case "swap": {
      const j = d.other % out.length;
      if (hexOf(out[j]) === hexOf(ev)) return null;
      [out[i], out[j]] = [out[j], ev];
      break;
    }
  }
  return out;
}

describe("the oracle on random traces", () => {
  it("a random valid trace restores to its own bytes, its heads the straight encoding's", () => {
    fc.assert(
      fc.property(traceArb, (events) => {
        expect(oracle(imageWith(events), "random trace").ok).toBe(true);
      }),
      { numRuns: 150, seed: 0x5eed1 },
    );
  });

  it("random damage, links fixed up in place, canonically or not at all: refused (image.*, trace.*) or the same bytes back", () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(traceArb, fc.array(damageArb, { minLength: 1, maxLength: 3 }), fc.constantFrom("inplace", "canonical", "none"), (events, damages, how) => {
        const img = imageWith(events);
        let raw: Uint8Array[] = split(img).events;
        for (const d of damages) raw = damage(raw, d) ?? raw;
        const bytes = how === "none" ? forgeUnfixed(img, raw) : forge(img, raw, how);
        const o = oracle(bytes, `${how} ${JSON.stringify(damages)}`);
        if (o.ok) accepted++;
        else refused++;
      }),
      // ATK_RUNS / ATK_SEED: a longer search by hand (the suite runs the fixed default).
      { numRuns: Number(process.env.ATK_RUNS ?? 600), seed: Number(process.env.ATK_SEED ?? 0xbad5eed) },
    );
    // The damage mostly breaks something; some (a kind flipped to another valid one, links fixed) is a valid trace.
    expect(refused).toBeGreaterThan(accepted);
  });
});

/** The image with these raw events, links and head as they were (only the body digest recomputed). */
function forgeUnfixed(image: Uint8Array, events: readonly Uint8Array[]): Uint8Array {
  const p = split(image);
  const body = bodyOf(image);
  const [ts] = elementSpans(body, [])[B.trace];
  const head = body.subarray(ts + 3, ts + 35);
  return reseal(cat(p.before, traceField(head, events), p.after), p.version);
}

describe("beside the trace: the debug part's own values in other forms", () => {
  it("the debug part's every (an int) in a longer form, its lists as array16: refused", () => {
    const img = imageWith(VARIED.slice(0, 3), true);
    const body = bodyOf(img);
    const [ds] = elementSpans(body, [])[B.debug];
    const parts = elementSpans(body, [B.debug]);
    const toks = tokens(body.subarray(ds));
    // [every, checkpoints, sources, slice]: every is the first token after the header.
    const every = toks[1];
    expect(every.kind).toBe("int");
    const tried: string[] = [];
    const accepted: string[] = [];
    const variants: [string, Uint8Array][] = rewrites(body.subarray(ds), every)
      .filter((r) => r.label !== "nil")
      .map((r) => [`every as ${r.label}`, cat(body.subarray(0, ds + every.start), r.bytes, body.subarray(ds + every.end))]);
    // The checkpoints list (empty) as array16.
    variants.push(["checkpoints as array16", cat(body.subarray(0, parts[1][0]), u8(0xdc, 0, 0), body.subarray(parts[1][1]))]);
    for (const [label, b] of variants) {
      tried.push(label);
      try {
        if (oracle(reseal(b, versionOf(img)), label).ok) accepted.push(label);
      } catch (e) {
        accepted.push((e as Error).message);
      }
    }
    expect(tried.length).toBeGreaterThan(5);
    expect(accepted).toEqual([]);
  });
});

describe("event counts at the array header's boundaries", () => {
  it("15 and 16 events restore to their own bytes; 16 events under an array32 header, 15 under array16: refused", () => {
    const many = (n: number): TraceEvent[] => [startEvent(), ...Array.from({ length: n - 1 }, (_, i) => (i % 3 === 0 ? { kind: "resume" } : { kind: "answer", value: i }) as TraceEvent)];
    for (const n of [15, 16]) {
      const img = imageWith(many(n));
      expect(oracle(img, `${n} events`).ok).toBe(true);
      const p = split(img);
      const body = bodyOf(img);
      const [ts, te] = elementSpans(body, [])[B.trace];
      const head = body.subarray(ts + 3, ts + 35);
      const longer = n < 16 ? u8(0xdc, ...be(n, 2)) : u8(0xdd, ...be(n, 4));
      const b = cat(body.subarray(0, ts), u8(0x92, 0xc4, 32), head, longer, ...p.events, body.subarray(te));
      expect(oracle(reseal(b, versionOf(img)), `${n} events, longer header`).ok).toBe(false);
    }
    // 65,536 events (array32) restore to their own bytes too, but take seconds here: left out of the suite.
  });
});

describe("audit and restore agree on an image with an event in another form", () => {
  const PROGRAM = `.cap t.int
.func main 0 2
  PUSH 3
  LSET 1
top:
  LGET 1
  CAP t.int 1
  LGET 0
  ADD
  LSET 0
  LINC 1 -1
  LGET 1
  JNZ top
  LGET 0
  RET`;
  const handlers: Record<string, CapHandler> = { "t.int": { sig: { args: ["int"], result: "int" }, call: (a) => (a[0] as number) * 1000 + 7 } };

  it("a recorded run's image audits valid and restores; with one result (3007) as uint32, links fixed up either way: restore refuses it, and so must audit", () => {
    const s = Session.start(load(PROGRAM), { caps: ["t.int"], handlers, gas: 100_000, stdout: () => {} });
    expect(s.run().status).toBe("done");
    const img = s.snapshot();
    expect(auditImage(img).valid).toBe(true);
    const host = { caps: ["t.int"], handlers };
    expect(oracle(img, "recorded", host).ok).toBe(true);
    const p = split(img);
    const i = p.events.findIndex((ev) => Buffer.from(ev).includes(Buffer.from([0xcd, 0x0b, 0xbf])));
    expect(i).toBeGreaterThan(0);
    const ev = p.events[i];
    const at = Buffer.from(ev).indexOf(Buffer.from([0xcd, 0x0b, 0xbf]));
    const events = p.events.slice();
    events[i] = cat(ev.subarray(0, at), u8(0xce, 0, 0, 0x0b, 0xbf), ev.subarray(at + 3));
    const verdicts: string[] = [];
    for (const how of ["inplace", "canonical"] as const) {
      const forged = forge(img, events, how);
      const restore = oracle(forged, `uint32 result, links ${how}`, host);
      expect(restore.ok, `restore, links ${how}`).toBe(false);
      // Refusing is either a report that is not valid or, for bytes that are not a readable image, a RarError (auditImage's contract).
      let audit: string;
      try {
        audit = auditImage(forged).valid ? "valid" : "invalid";
      } catch (e) {
        audit = e instanceof RarError && /^(image|trace)\./.test(e.key) ? "invalid" : `threw ${String(e)}`;
      }
      verdicts.push(`${how}: restore ${restore.ok ? "accepts" : "refuses"}, audit ${audit}`);
    }
    expect(verdicts).toEqual(["inplace: restore refuses, audit invalid", "canonical: restore refuses, audit invalid"]);
  });
});
