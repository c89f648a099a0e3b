// Hostile checks of what a restore remembers or shares between traces
// (src/trace/decode.ts lastHost: the last host table read in place, reused
// when its bytes repeat; src/trace/chain.ts lastFirst: the first link with
// its bytes, and the one digest both chains share until the first host
// action; src/image/digest.ts: one scratch buffer for short links), and of
// what a restored session may still share with its input's bytes. Images
// that differ where a memo looks are restored alternately: each must get its
// own values and its own verdict, and every link must be the SHA-256 that
// @noble/hashes computes over the straight encoding.

import { sha256 as nobleSha256 } from "@noble/hashes/sha2";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HEX64, cat, host, startEvent, u8, imageWith } from "./helpers/trace-events.js";
import type { CapHandler } from "../src/caps/registry.js";
import { decodeImage } from "../src/image/decode.js";
import { sha256Chunks, sha256Link } from "../src/vm/sha256.js";
import { HEADER_BYTES, seal } from "../src/image/encode.js";
import { B, HOST_EVENT_KINDS } from "../src/image/format.js";
import { WireWriter, elementSpans, join } from "../src/image/wire.js";
import { Session } from "../src/session.js";
import { TraceError } from "../src/trace/chain.js";
import { traceFromWire } from "../src/trace/decode.js";
import { eventFields, type HostCap, type StartEvent, type TraceEvent } from "../src/trace/events.js";
import { Trace } from "../src/trace/store.js";
import { RarError } from "../src/vm/errors.js";
import { load } from "./helpers/asm.js";

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const wire = (v: Parameters<WireWriter["value"]>[0]): Uint8Array => {
  const w = new WireWriter().value(v);
  return join(w.parts(), w.length());
};
const sha = (...parts: Uint8Array[]): Uint8Array => nobleSha256(cat(...parts)) as Uint8Array;
const ZERO: Uint8Array = new Uint8Array(32);

/** The straight chains of events: every link, the head and the execution head (@noble/hashes over encodeEvent's bytes). */
function straight(events: readonly TraceEvent[]): { links: string[]; full: string; exec: string } {
  let full = ZERO;
  let exec = ZERO;
  const links: string[] = [];
  for (const e of events) {
    const enc = wire(eventFields(e));
    full = sha(full, enc);
    if (HOST_EVENT_KINDS.has(e.kind)) links.push(hexOf(full));
    else {
      exec = sha(exec, enc);
      links.push(hexOf(exec));
    }
  }
  return { links, full: hexOf(full), exec: hexOf(exec) };
}

/** Restores `bytes` and checks the restored trace against the straight chains and the snapshot against the input. */
function restoresTo(bytes: Uint8Array, label: string): Session {
  const s = Session.fromImage(bytes);
  const t = s.trace as Trace;
  const want = straight(t.events());
  expect(hexOf(t.head()), `${label}: head`).toBe(want.full);
  expect(hexOf(t.execHead()), `${label}: exec head`).toBe(want.exec);
  for (let i = 0; i < t.length; i++) expect(hexOf(t.link(i)), `${label}: link ${i}`).toBe(want.links[i]);
  expect(hexOf(s.snapshot()), `${label}: snapshot`).toBe(hexOf(bytes));
  return s;
}

/** The RarError restoring `bytes` throws (fails the test when it restores or throws something else). */
function refusal(bytes: Uint8Array): RarError {
  try {
    Session.fromImage(bytes);
  } catch (e) {
    if (e instanceof RarError) return e;
    throw e;
  }
  throw new Error("restored, but should have been refused");
}

// The raw events of an image, and an image around raw events with links fixed up in place.

const bodyOf = (image: Uint8Array): Uint8Array => image.subarray(HEADER_BYTES);

function rawEvents(image: Uint8Array): Uint8Array[] {
  return elementSpans(bodyOf(image), [B.trace, 1]).map(([s, e]) => bodyOf(image).slice(s, e));
}

/** Replaces the trace field's events (and head) by raw events, links recomputed over the bytes as the in-place reader hashes them (unless `keepLinks`). */
function withRaw(image: Uint8Array, events: readonly Uint8Array[], keepLinks = false): Uint8Array {
  const body = bodyOf(image);
  const [ts, te] = elementSpans(body, [])[B.trace];
  let full = ZERO;
  let exec = ZERO;
  const out: Uint8Array[] = [];
  for (const ev of events) {
    const n = ev[0] & 0x0f;
    // Every event here is a fixarray whose elements scanning finds.
    const spans = elementSpans(ev, []);
    const [ls, le] = spans[n - 1];
    const enc = cat(u8(0x90 | (n - 1)), ev.subarray(1, ls));
    const kind = new TextDecoder().decode(ev.subarray(spans[0][0] + 1, spans[0][1]));
    full = sha(full, enc);
    let link = full;
    if (!HOST_EVENT_KINDS.has(kind)) link = exec = sha(exec, enc);
    out.push(keepLinks ? ev : cat(ev.subarray(0, ls), u8(0xc4, 32), link, ev.subarray(le)));
  }
  const head = keepLinks ? body.subarray(ts + 3, ts + 35) : full;
  const n = events.length;
  const field = cat(u8(0x92, 0xc4, 32), head, n < 16 ? u8(0x90 | n) : u8(0xdc, n >> 8, n & 0xff), ...out);
  const b = cat(body.subarray(0, ts), field, body.subarray(te));
  return seal([b], b.length, image[6]);
}

/** `image` with the first occurrence of `from` (in its trace's events) replaced by `to`, links fixed up. */
function replaced(image: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const events = rawEvents(image).map((ev) => {
    const at = Buffer.from(ev).indexOf(Buffer.from(from));
    return at < 0 ? ev : cat(ev.subarray(0, at), to, ev.subarray(at + from.length));
  });
  return withRaw(image, events);
}

const str = (s: string): Uint8Array => wire(s);

// --- the host table memo --------------------------------------------------------

describe("the host table memo (lastHost)", () => {
  const T1 = host(["t.arr", "a", "a"], ["t.int", "ii", "i"]);
  const T2 = host(["t.arr", "a", "a"], ["t.inu", "ii", "i"]); // one byte of a name
  const T3 = host(["t.arr", "a", "a"], ["t.int", "ia", "i"]); // one type letter
  const T4 = host(["t.arr", "a", "a"], ["t.int", "ii", "a"]); // the result's letter
  const T5 = host(["t.arr", "a", "a"], ["t.int", "ii", "i"], ["t.zz", "", "i"]); // one more entry
  const T6 = host(["t.arr", "a", "a"]); // one fewer
  // Tables of 64 bytes and more (compared natively, not in a loop: wire.ts sameRange): one letter apart at the end, at the start.
  const many = (last: string, first = "a"): HostCap[] => host(...(Array.from({ length: 12 }, (_, k) => [`${k === 0 ? first : "b"}.cap${String(k).padStart(2, "0")}`, "iaia", k === 11 ? last : "i"]) as [string, string, string][]));
  const T7 = many("i");
  const T8 = many("a");
  const T9 = many("i", "A");
  const good = [T1, T2, T3, T4, T5, T6, T7, T8, T9];
  const rest: TraceEvent[] = [{ kind: "refuel", gas: 5, mem: 6 }, { kind: "cap", path: "0", cap: "t.int", args: [1, 2], result: 3 }] as TraceEvent[];
  const images = good.map((t) => imageWith([startEvent({ host: t }), ...rest]));

  /** The image of T1 with its table's bytes rewritten (links fixed up): out of order, a duplicate, a bad letter, a result of two letters. */
  const t1 = wire(eventFields(startEvent({ host: T1 }))[6]);
  const swapped = wire([
    ["t.int", "ii", "i"],
    ["t.arr", "a", "a"],
  ]);
  const dup = wire([
    ["t.int", "ii", "i"],
    ["t.int", "ii", "i"],
  ]);
  const badLetter = wire([
    ["t.arr", "a", "a"],
    ["t.int", "ix", "i"],
  ]);
  const twoResults = wire([
    ["t.arr", "a", "a"],
    ["t.int", "ii", "ii"],
  ]);
  const bad = [swapped, dup, badLetter, twoResults].map((b) => replaced(images[0], t1, b));

  it("the tables' bytes are where the forger looks for them", () => {
    expect(Buffer.from(rawEvents(images[0])[0]).indexOf(Buffer.from(t1))).toBeGreaterThan(0);
    for (const b of bad) expect(hexOf(b)).not.toBe(hexOf(images[0]));
  });

  it("tables that differ in a byte, a letter, an entry, restored alternately (and after refused ones): each gets its own table", () => {
    expect(wire(eventFields(startEvent({ host: T7 }))[6]).length).toBeGreaterThan(128);
    const order = [0, 1, 0, 2, 0, 3, 4, 0, 5, 1, 1, 0, 5, 4, 3, 2, 1, 0, 6, 7, 6, 8, 6, 7, 8, 0, 8];
    for (const k of order) {
      // A refused table between any two: its bytes must not stand for the next.
      const e = refusal(bad[k % bad.length]);
      expect(e.key, `bad table ${k % bad.length}`).toBe("trace.bad_event");
      const s = restoresTo(images[k], `table ${k}`);
      const start = (s.trace as Trace).at(0) as StartEvent;
      expect(start.host, `table ${k}`).toEqual(good[k]);
    }
  });

  it("a table accepted once, then the same bytes in an image whose other events are tampered: refused there", () => {
    restoresTo(images[0], "T1");
    // The cap's result changed, its link not: a broken link at event 2.
    const tampered = withRaw(images[0], rawEvents(images[0]).map((ev, i) => (i === 2 ? replacedIn(ev, u8(0x03, 0xc4), u8(0x04, 0xc4)) : ev)), true);
    const e = refusal(tampered);
    expect(e).toBeInstanceOf(TraceError);
    expect([e.key, (e as TraceError).index]).toEqual(["trace.broken_link", 2]);
    // The same table's bytes in a start whose other fields changed (links fixed): its own start, the same table.
    const other = replaced(images[0], str("io.print"), str("io.prinu"));
    const s = restoresTo(other, "T1 with other grants");
    expect(((s.trace as Trace).at(0) as StartEvent).grants).toEqual(["io.prinu"]);
    expect(((s.trace as Trace).at(0) as StartEvent).host).toEqual(T1);
    // A table whose bytes start with T1's but whose header says one more entry: not T1.
    const longer = cat(u8(t1[0] + 1), t1.subarray(1), wire(["t.zz", "", "i"]));
    const s5 = restoresTo(replaced(images[0], t1, longer), "T1 + one");
    expect(((s5.trace as Trace).at(0) as StartEvent).host).toEqual(T5);
    // T1's bytes with a header one shorter: the last entry is read as the policy, and T1 is not what it reads.
    const shorter = replaced(images[0], t1, cat(u8(t1[0] - 1), t1.subarray(1)).subarray(0, t1.length - wire(["t.int", "ii", "i"]).length));
    expect(((restoresTo(shorter, "T1 - one").trace as Trace).at(0) as StartEvent).host).toEqual(T6);
  });

  it("a table read in place and one read as values (trace slot given as values) agree, whichever is read first", () => {
    for (const k of [0, 2, 0, 5]) {
      const img = decodeImage(images[k]);
      const inPlace = (traceFromWire(img.meta.trace).at(0) as StartEvent).host;
      const asValues = (traceFromWire({ head: img.meta.trace.head, events: decodeImage(images[k]).meta.trace.events }).at(0) as StartEvent).host;
      expect(inPlace).toEqual(good[k]);
      expect(asValues).toEqual(good[k]);
    }
  });

  it("a remembered table cannot be changed through one session so that another sees it", () => {
    const a = Session.fromImage(images[0]);
    const b = Session.fromImage(images[0]);
    const ha = ((a.trace as Trace).at(0) as StartEvent).host as HostCap[];
    const hb = ((b.trace as Trace).at(0) as StartEvent).host as HostCap[];
    try {
      (ha as HostCap[]).push({ name: "t.evil", sig: { args: [], result: "int" } });
    } catch {
      // frozen: refused
    }
    try {
      (ha[0].sig.args as string[]).push("int");
    } catch {
      // frozen: refused
    }
    expect(hb).toEqual(T1);
    expect(((Session.fromImage(images[0]).trace as Trace).at(0) as StartEvent).host).toEqual(T1);
    expect(hexOf(b.snapshot())).toBe(hexOf(images[0]));
  });
});

/** ev with the first occurrence of `from` replaced by `to`. */
function replacedIn(ev: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  const at = Buffer.from(ev).indexOf(Buffer.from(from));
  expect(at).toBeGreaterThanOrEqual(0);
  return cat(ev.subarray(0, at), to, ev.subarray(at + from.length));
}

// --- what a restored session shares with its input ---------------------------------

// A restored slot keeps its own copy of the trace's bytes: changes to the caller's buffer after the checks
// never reach the next image (a snapshot of a session restored with record: false, or meta.trace.events read late).
describe("the input's bytes after a restore", () => {
  const events = [
    startEvent({ args: Int32Array.of(7, 8), texts: [Int32Array.of(104, 105)] }),
    { kind: "refuel", gas: 1000, mem: 10 },
    { kind: "cap", path: "0", cap: "t.arr", args: [Int32Array.of(1, 2, 3)], result: Int32Array.from({ length: 100 }, (_, i) => i) },
    { kind: "resume", by: "w" },
  ] as TraceEvent[];
  const img = imageWith(events);

  for (const record of [true, false]) {
    it(`changing the input's bytes after a restore (record: ${record}) leaves the session's snapshot as it was`, () => {
      const input = img.slice();
      const s = Session.fromImage(input, { record });
      input.fill(0x5a);
      expect(hexOf(s.snapshot())).toBe(hexOf(img));
    });
  }

  it("changing one value of the input's trace after a restore (record: false) leaves the snapshot as it was (no unchecked event in it)", () => {
    const input = img.slice();
    const s = Session.fromImage(input, { record: false });
    // refuel's gas 1000 (uint16 0x03e8) becomes 1001: still msgpack, no longer what the links say.
    const at = Buffer.from(input).indexOf(Buffer.from([0xa6, ...Buffer.from("refuel"), 0xcd, 0x03, 0xe8]));
    expect(at).toBeGreaterThan(0);
    input[at + 9] = 0xe9;
    expect(hexOf(s.snapshot())).toBe(hexOf(img));
  });

  it("changing the input's bytes after decodeImage leaves the trace slot's events as they were", () => {
    const input = img.slice();
    const d = decodeImage(input);
    input.fill(0x5a);
    // The slot's events are unpacked when first read: from the bytes as they were decoded.
    const t = traceFromWire({ head: d.meta.trace.head, events: d.meta.trace.events });
    expect(hexOf(t.head())).toBe(straight(events).full);
  });
});

// --- the scratch hash buffer ---------------------------------------------------------

describe("links hashed in the scratch buffer (sha256Link, sha256Chunks)", () => {
  const bytesArb = (max: number) => fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: Math.max(0, max - 80), maxLength: max + 80 }), fc.uint8Array({ maxLength: 2 * max }));

  it("short and long inputs interleaved, split anywhere, around the 4 KiB boundary: the digests of @noble/hashes", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), bytesArb(4096 - 32), fc.option(bytesArb(64), { nil: undefined })), { minLength: 1, maxLength: 8 }), (calls) => {
        // Every result is kept and compared only after all calls: a later call must not change an earlier result.
        const got = calls.map(([prev, a, b]) => sha256Link(prev, a, b));
        const chunks = calls.map(([prev, a, b]) => sha256Chunks(b === undefined ? [prev, a] : [prev, a, b]));
        calls.forEach(([prev, a, b], i) => {
          const want = hexOf(nobleSha256(b === undefined ? cat(prev, a) : cat(prev, a, b)));
          expect(hexOf(got[i])).toBe(want);
          expect(hexOf(chunks[i])).toBe(want);
        });
      }),
      { numRuns: 200, seed: 0x5c4a7c4 },
    );
    for (const n of [4095, 4096, 4097, 4064, 4063, 4065, 0, 1]) {
      const a = Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff);
      expect(hexOf(sha256Link(ZERO, a))).toBe(hexOf(nobleSha256(cat(ZERO, a))));
      expect(hexOf(sha256Link(ZERO, a.subarray(0, n >> 1), a.subarray(n >> 1)))).toBe(hexOf(nobleSha256(cat(ZERO, a))));
    }
  });

  it("a result is fresh memory: changing one changes no other, nor the next call's", () => {
    const a = sha256Link(ZERO, u8(1, 2, 3));
    const b = sha256Link(ZERO, u8(1, 2, 3));
    a.fill(0);
    expect(hexOf(b)).toBe(hexOf(nobleSha256(cat(ZERO, u8(1, 2, 3)))));
    expect(hexOf(sha256Link(ZERO, u8(1, 2, 3)))).toBe(hexOf(b));
  });

  it("a trace of events shorter and longer than the scratch buffer, interleaved: every link and head as @noble/hashes computes them", () => {
    const long = (n: number, k: number) => Int32Array.from({ length: n }, (_, i) => i * k);
    const events = [
      startEvent({ args: long(1100, 3) }),
      { kind: "cap", path: "0", cap: "t.int", args: [1, 2], result: 3 },
      { kind: "cap", path: "0", cap: "t.arr", args: [long(1015, 7)], result: long(0, 0) },
      { kind: "refuel", gas: 1, mem: 2 },
      { kind: "cap", path: "0", cap: "t.arr", args: [long(1007, 5)], result: long(1, 1) },
      { kind: "cap", path: "0", cap: "t.arr", args: [long(2000, 9)], result: long(3000, 11) },
      { kind: "resume" },
      { kind: "cap", path: "0", cap: "t.int", args: [], result: -1 },
      { kind: "cap_error", path: "0.1", cap: "t.arr", args: [long(1020, 1)], error: "e".repeat(5000) },
    ] as TraceEvent[];
    // Event sizes straddle ONE_SHOT_MAX (4096) once the 32-byte previous link is added.
    const sizes = events.map((e) => wire(eventFields(e)).length + 32);
    expect(sizes.some((n) => n > 4096)).toBe(true);
    expect(sizes.some((n) => n <= 4096 && n > 4000)).toBe(true);
    const img = imageWith(events);
    for (let k = 0; k < 3; k++) restoresTo(img, `round ${k}`);
    restoresTo(imageWith(events.slice(0, 5)), "prefix");
    restoresTo(img, "again");
  });

  it("a restore inside a capability handler (while another session runs) and one outside give the same links", () => {
    const inner = imageWith([startEvent(), { kind: "refuel", gas: 1, mem: 2 }, { kind: "cap", path: "0", cap: "t.arr", args: [Int32Array.from({ length: 1500 }, (_, i) => i)], result: Int32Array.of(1) }] as TraceEvent[]);
    let inside = 0;
    const handlers: Record<string, CapHandler> = {
      "t.int": {
        sig: { args: ["int"], result: "int" },
        call: (a) => {
          // A restore, its snapshot and a restore of that, nested in the outer run's call.
          const s = restoresTo(inner, "inside");
          restoresTo(s.snapshot(), "inside again");
          inside++;
          return (a[0] as number) + 1;
        },
      },
      "t.arr": { sig: { args: ["array"], result: "array" }, call: () => Int32Array.from({ length: 1100 }, (_, i) => -i) },
    };
    const program = `.cap t.int
.cap t.arr
.func main 0 2
  PUSH 8
  MGROW
  POP
  PUSH 3
  LSET 1
top:
  LGET 1
  CAP t.int 1
  POP
  PUSH 1
  PUSH 2
  CAP t.arr 2
  POP
  LINC 1 -1
  LGET 1
  JNZ top
  PUSH 0
  YIELD
  PUSH 0
  RET`;
    const s = Session.start(load(program), { caps: ["t.int", "t.arr"], handlers, gas: 60, stdout: () => {} });
    let r = s.run();
    while (r.status === "out_of_gas") {
      s.refuel(60);
      r = s.run();
    }
    expect(r.fault ?? r.status).toBe("yielded");
    expect(inside).toBe(3);
    const outer = s.snapshot();
    const back = Session.fromImage(outer, { handlers, caps: ["t.int", "t.arr"] });
    const t = back.trace as Trace;
    const want = straight(t.events());
    expect(hexOf(t.head())).toBe(want.full);
    expect(hexOf(t.execHead())).toBe(want.exec);
    expect(hexOf(t.head())).toBe(hexOf((s.trace as Trace).head()));
    expect(hexOf(back.snapshot())).toBe(hexOf(outer));
  });
});

// --- the first link, hashed once for both chains and remembered ---------------------------

describe("the first link (lastFirst, and both chains one until a host action)", () => {
  const S = startEvent();
  const S2 = startEvent({ entry: 1 });

  it("a first event that is not a start: trace.order at event 0, whatever was remembered", () => {
    restoresTo(imageWith([S, { kind: "refuel", gas: 1, mem: 1 }]), "remember S");
    for (const first of [{ kind: "refuel", gas: 1, mem: 1 }, { kind: "resume" }, { kind: "cap", path: "0", cap: "t.int", args: [], result: 0 }] as TraceEvent[]) {
      const e = refusal(imageWith([first, S]));
      expect(e).toBeInstanceOf(TraceError);
      expect([e.key, (e as TraceError).index]).toEqual(["trace.order", 0]);
    }
    // A second start: refused at 1.
    const e = refusal(imageWith([S, S]));
    expect([e.key, (e as TraceError).index]).toEqual(["trace.order", 1]);
  });

  it("one event, a host action second, host actions only, execution events only: both heads and every link straight", () => {
    const traces: TraceEvent[][] = [
      [S],
      [S, { kind: "refuel", gas: 1, mem: 1 }],
      [S, { kind: "refuel", gas: 1, mem: 1 }, { kind: "cap", path: "0", cap: "t.int", args: [1], result: 2 }],
      [S, { kind: "resume", by: "x" }, { kind: "interrupt", gas: 3 }, { kind: "resume" }],
      [S, { kind: "cap", path: "0", cap: "t.int", args: [1], result: 2 }, { kind: "answer", value: 4 }, { kind: "refuel", gas: 1, mem: 1 }, { kind: "narrow", grants: [] }],
      [S2, { kind: "refuel", gas: 1, mem: 1 }],
      [S2],
    ] as TraceEvent[][];
    for (let round = 0; round < 2; round++)
      traces.forEach((t, k) => {
        const s = restoresTo(imageWith(t), `trace ${k}`);
        // Until a host action the execution chain is the trace chain.
        const tr = s.trace as Trace;
        if (t.every((e) => !HOST_EVENT_KINDS.has(e.kind))) expect(hexOf(tr.execHead())).toBe(hexOf(tr.head()));
        else expect(hexOf(tr.execHead())).not.toBe(hexOf(tr.head()));
      });
  });

  it("an empty trace restores and starts a history; then the remembered first link is not taken for it", () => {
    const empty = imageWith([]);
    const s = Session.fromImage(empty);
    const t = s.trace as Trace;
    expect(t.length).toBeGreaterThanOrEqual(1);
    expect(t.at(0).kind).toBe("start");
    expect(hexOf(t.head())).toBe(straight(t.events()).full);
    restoresTo(s.snapshot(), "the started history");
  });

  it("the same start bytes with a wrong first link, before and after a good image: refused at 0 each time, the good one restored each time", () => {
    const good = imageWith([S, { kind: "cap", path: "0", cap: "t.int", args: [1], result: 2 }]);
    const raw = rawEvents(good);
    // The first link changed (kept as given, the rest fixed up over it would still not match event 0).
    const wrong = raw.slice();
    wrong[0] = wrong[0].slice();
    wrong[0][wrong[0].length - 1] ^= 1;
    const bad = withRaw(good, wrong, true);
    for (let k = 0; k < 3; k++) {
      const e = refusal(bad);
      expect([e.key, (e as TraceError).index]).toEqual(["trace.broken_link", 0]);
      restoresTo(good, `good ${k}`);
    }
  });

  it("start events one byte apart, restored alternately (links fixed up): each its own first link", () => {
    const good = imageWith([S, { kind: "refuel", gas: 1, mem: 1 }, { kind: "cap", path: "0", cap: "t.int", args: [1], result: 2 }]);
    const raw = rawEvents(good);
    const variants: Uint8Array[] = [good];
    // Every byte of the start's fields that can change to another valid byte: the entry, a letter, a digit of the module.
    for (const [from, to] of [
      [str(HEX64), str("ab".repeat(31) + "ac")],
      [str("io.print"), str("io.prinT")],
      [u8(0x40, 0xce), u8(0x41, 0xce)],
    ] as [Uint8Array, Uint8Array][])
      variants.push(withRaw(good, [replacedIn(raw[0], from, to), ...raw.slice(1)]));
    // The start with texts (one value more): its own length too.
    variants.push(imageWith([startEvent({ texts: [] }), { kind: "refuel", gas: 1, mem: 1 }]));
    for (const k of [0, 1, 0, 2, 3, 3, 0, 4, 1, 4, 0]) restoresTo(variants[k], `variant ${k}`);
  });

  it("a first event whose bytes extend the remembered start's (a prefix match) is not given its link", () => {
    const a = imageWith([S]);
    restoresTo(a, "S");
    // The same start with texts appended: the remembered bytes are a prefix of its fields but its array is longer.
    const withTexts = imageWith([startEvent({ texts: [Int32Array.of(1)] })]);
    restoresTo(withTexts, "S + texts");
    restoresTo(a, "S again");
  });
});

// --- the remembered chain: both heads after each of the last verified chain's first events ------

describe("the remembered chain (lastChain: heads of events whose bytes repeat)", () => {
  const S = startEvent();
  // A pool of events, host actions and execution events, some one value apart.
  const POOL = [
    { kind: "refuel", gas: 1, mem: 1 },
    { kind: "refuel", gas: 1, mem: 2 },
    { kind: "resume" },
    { kind: "resume", by: "w" },
    { kind: "interrupt", gas: 3 },
    { kind: "cap", path: "0", cap: "t.int", args: [1, 2], result: 3 },
    { kind: "cap", path: "0", cap: "t.int", args: [1, 2], result: 4 },
    { kind: "answer", value: 4 },
    { kind: "narrow", grants: [] },
  ] as TraceEvent[];
  const trace = fc.array(fc.nat(POOL.length - 1), { maxLength: 8 }).map((ks) => [S, ...ks.map((k) => POOL[k])]);

  it("traces sharing first events, restored in any order: every link and both heads straight", () => {
    fc.assert(
      fc.property(trace, fc.array(fc.tuple(fc.nat(8), fc.nat(POOL.length - 1)), { maxLength: 4 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 8 }), (t, edits, order) => {
        // Variants of t: a prefix of it, t with one event replaced, t extended: each shares first events with t.
        const variants: TraceEvent[][] = [t, t.slice(0, Math.max(1, t.length - 2)), [...t, POOL[0], POOL[5]]];
        const edited = t.slice();
        for (const [at, k] of edits) if (at > 0 && at < edited.length) edited[at] = POOL[k];
        variants.push(edited);
        const images = variants.map((v) => imageWith(v));
        for (const k of order) restoresTo(images[k], `variant ${k}`);
      }),
      { numRuns: 60 },
    );
  });

  it("a remembered trace with one link or its head changed: refused at that event (or the head) every time, the good one restored between", () => {
    const good = imageWith([S, POOL[0], POOL[5], POOL[2], POOL[7], POOL[4]]);
    const raw = rawEvents(good);
    restoresTo(good, "good");
    for (let k = 0; k < raw.length; k++) {
      const wrong = raw.slice();
      wrong[k] = wrong[k].slice();
      wrong[k][wrong[k].length - 1] ^= 1;
      for (let round = 0; round < 2; round++) {
        const e = refusal(withRaw(good, wrong, true));
        expect([e.key, (e as TraceError).index], `link ${k}`).toEqual(["trace.broken_link", k]);
        restoresTo(good, `good after link ${k}`);
      }
    }
    // The remembered events less the last, under the whole trace's head: missing events at the end.
    const short = withRaw(good, raw.slice(0, raw.length - 1), true);
    const body = bodyOf(short);
    const [ts] = elementSpans(body, [])[B.trace];
    body.set(bodyOf(good).subarray(elementSpans(bodyOf(good), [])[B.trace][0] + 3, elementSpans(bodyOf(good), [])[B.trace][0] + 35), ts + 3);
    const resealed = seal([body], body.length, short[6]);
    const e = refusal(resealed);
    expect([e.key, (e as TraceError).index]).toEqual(["trace.broken_head", raw.length - 1]);
    restoresTo(good, "good after the short one");
  });

  it("every single-byte change in a remembered event (links fixed up over the bytes): the verdict and links of a first restore", () => {
    const good = imageWith([S, POOL[0], POOL[5], POOL[3], POOL[6]]);
    const raw = rawEvents(good);
    restoresTo(good, "good");
    fc.assert(
      fc.property(fc.nat(raw.length - 1), fc.nat(1 << 16), fc.integer({ min: 1, max: 255 }), (k, pos, x) => {
        const ev = raw[k].slice();
        // Not the link (its last 32 bytes, fixed up anyway).
        const at = pos % Math.max(1, ev.length - 34);
        ev[at] ^= x;
        const events = raw.slice();
        events[k] = ev;
        let changed: Uint8Array;
        try {
          changed = withRaw(good, events);
        } catch {
          return; // not an array any more: withRaw cannot fix its link up
        }
        let verdict: string;
        try {
          restoresTo(changed, `event ${k} byte ${at}`);
          verdict = "ok";
        } catch (e) {
          if (!(e instanceof RarError)) throw e;
          verdict = e.key;
        }
        // Restored right after the good one, which it shares its first events with: the same verdict again
        // after something else was remembered.
        restoresTo(good, "good between");
        let again: string;
        try {
          restoresTo(changed, `event ${k} byte ${at}, again`);
          again = "ok";
        } catch (e) {
          if (!(e instanceof RarError)) throw e;
          again = e.key;
        }
        expect(again).toBe(verdict);
      }),
      { numRuns: 200 },
    );
  });
});

// --- the remembered events (src/trace/decode.ts lastEvents) ----------------------------

describe("the remembered events (lastEvents: an event whose bytes repeat, at its index, is read once)", () => {
  const S = startEvent({ args: Int32Array.of(7, 8), texts: [Int32Array.of(104, 105)] });
  const CALL = { kind: "cap", path: "0", cap: "t.arr", args: [Int32Array.of(1, 2, 3), 4], result: Int32Array.of(5, 6) } as TraceEvent;
  const events: TraceEvent[] = [S, { kind: "refuel", gas: 1000, mem: 10 } as TraceEvent, CALL, { kind: "narrow", grants: ["io.print"] } as TraceEvent, { kind: "resume" } as TraceEvent];
  const img = imageWith(events);

  /** What restoring `bytes` gives: its events, and the error key and index when refused. */
  function verdict(bytes: Uint8Array): string {
    try {
      const t = Session.fromImage(bytes).trace as Trace;
      return `ok ${t.length}`;
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
      return `${e.key} ${e instanceof TraceError ? e.index : ""} ${e.message}`;
    }
  }

  it("the events of a restore are the events written, whether read from their bytes or remembered", () => {
    const other = imageWith([startEvent(), { kind: "refuel", gas: 1, mem: 1 } as TraceEvent]);
    for (const first of [other, img]) {
      restoresTo(first, "first");
      for (let round = 0; round < 3; round++) expect((restoresTo(img, `round ${round}`).trace as Trace).events()).toEqual(events);
    }
  });

  it("changing a restored session's events (words, lists, values) changes neither another session's nor the next restore's", () => {
    restoresTo(img, "remembered");
    const a = restoresTo(img, "a");
    const b = restoresTo(img, "b");
    const ea = (a.trace as Trace).events() as unknown as Record<string, unknown>[];
    (ea[0].args as Int32Array)[0] = 99;
    (ea[0].texts as Int32Array[])[0][0] = 99;
    (ea[0].grants as string[]).push("evil");
    (ea[0].linked as string[]).push(HEX64);
    ((ea[2].args as (number | Int32Array)[])[0] as Int32Array)[1] = 99;
    (ea[2].args as unknown[]).push(1);
    (ea[2].result as Int32Array)[0] = 99;
    (ea[3].grants as string[]).pop();
    ea[1].gas = 1;
    expect((b.trace as Trace).events()).toEqual(events);
    expect((restoresTo(img, "c").trace as Trace).events()).toEqual(events);
    expect(hexOf(b.snapshot())).toBe(hexOf(img));
  });

  it("remembered events with a link that is not a digest, or a start at another index: the verdict of a first read", () => {
    const raw = rawEvents(img);
    const cases: Uint8Array[] = [];
    for (let k = 0; k < raw.length; k++) {
      // The link one byte short (bin 8 of 31), or a string instead of binary.
      const ev = raw[k];
      const ls = ev.length - 34;
      cases.push(withRaw(img, raw.map((e, i) => (i === k ? cat(ev.subarray(0, ls), u8(0xc4, 31), ev.subarray(ls + 2, ev.length - 1)) : e)), true));
      cases.push(withRaw(img, raw.map((e, i) => (i === k ? cat(ev.subarray(0, ls), u8(0xd9, 32), ev.subarray(ls + 2)) : e)), true));
    }
    // The start event again where the refuel was (links fixed up): a trace has one start, first.
    cases.push(withRaw(img, [raw[0], raw[0], ...raw.slice(2)]));
    // The events one place later (a refuel first): what is remembered at an index is not taken at another.
    cases.push(withRaw(img, [raw[1], ...raw]));
    const other = imageWith([startEvent(), { kind: "resume" } as TraceEvent]);
    for (const bad of cases) {
      restoresTo(other, "other");
      const fresh = verdict(bad);
      expect(fresh.startsWith("ok"), fresh).toBe(false);
      restoresTo(img, "good");
      expect(verdict(bad)).toBe(fresh);
      expect(verdict(bad)).toBe(fresh);
    }
  });

  it("a later image of the run (more events after the remembered ones) and an earlier one, alternately: each its own events", () => {
    const later = [...events, { kind: "answer", value: 3 } as TraceEvent, { kind: "interrupt", gas: 9 } as TraceEvent];
    const images = [img, imageWith(later), imageWith(events.slice(0, 2))];
    const want = [events, later, events.slice(0, 2)];
    for (const k of [0, 1, 1, 0, 2, 1, 2, 0, 0]) expect((restoresTo(images[k], `image ${k}`).trace as Trace).events()).toEqual(want[k]);
  });
});
