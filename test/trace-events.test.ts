// The event table (src/trace/events.ts) is the one statement of which event
// kinds a trace holds and what fields each has, in what order: the encoder
// and the decoder both read it, so every event of every kind must come back
// from its wire form as itself, and an event whose shape differs from its row
// is refused naming the row's arity.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { traceSlotOf } from "../src/image/decode.js";
import { HOST_EVENT_KINDS, type TraceEvent as WireEvent, type WireValue } from "../src/image/format.js";
import { WireWriter, join as joinChunks } from "../src/image/wire.js";
import { TraceError } from "../src/trace/chain.js";
import { readEventAt, traceFromWire } from "../src/trace/decode.js";
import { EVENTS, encodeEvent, eventFields, isEventKind, type EventKind, type Field, type FieldType, type FieldValue, type TraceEvent } from "../src/trace/events.js";
import { Trace, traceToWire } from "../src/trace/store.js";
import { rarErrorOf } from "./helpers/errors.js";

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const sorted = (xs: string[]): string[] => [...xs].sort();
const word = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const words = fc.array(word, { maxLength: 6 }).map((a) => Int32Array.from(a));
const value = fc.oneof(word, words);
const name = fc.stringMatching(/^[a-z]{1,6}\.[a-z]{1,6}$/);
const valueType = fc.constantFrom("int" as const, "array" as const);

/** Values of each field type, within the decoder's bounds. */
const ARB: { [T in FieldType]: fc.Arbitrary<FieldValue[T]> } = {
  digest: hex,
  digests: fc.uniqueArray(hex, { maxLength: 3 }).map(sorted),
  grants: fc.uniqueArray(fc.string({ maxLength: 12 }), { maxLength: 4 }).map(sorted),
  name,
  path: fc.array(fc.nat(99), { maxLength: 4 }).map((hs) => ["0", ...hs].join(".")),
  text: fc.string({ maxLength: 40 }),
  entry: fc.nat(65_535),
  limit: fc.nat(0x7fffffff),
  amount: fc.nat(Number.MAX_SAFE_INTEGER),
  word,
  words,
  value,
  values: fc.array(value, { maxLength: 4 }),
  texts: fc.array(words, { maxLength: 4 }),
  hostCaps: fc
    .uniqueArray(fc.record({ name, sig: fc.record({ args: fc.array(valueType, { maxLength: 4 }), result: valueType }) }), {
      selector: (h) => h.name,
      maxLength: 4,
    })
    .map((hs) => [...hs].sort((a, b) => (a.name < b.name ? -1 : 1))),
};

/** An event of `kind` built field by field from its row of the table. */
function eventOf(kind: EventKind): fc.Arbitrary<TraceEvent> {
  const fields = Object.fromEntries(EVENTS[kind].map((f) => [f.name, ARB[f.type] as fc.Arbitrary<unknown>]));
  return fc.record(fields).map((r) => ({ kind, ...r }) as unknown as TraceEvent);
}

const KINDS = Object.keys(EVENTS) as EventKind[];
const laterEvent = fc.constantFrom(...KINDS.filter((k) => k !== "start")).chain(eventOf);

function recorded(events: readonly TraceEvent[]): Trace {
  const t = new Trace();
  for (const e of events) t.push(e);
  return t;
}

describe("the trace event table", () => {
  it("every event of every kind reads back from its wire form as itself, with the same links and head", () => {
    fc.assert(
      fc.property(eventOf("start"), fc.array(laterEvent, { maxLength: 12 }), (start, later) => {
        const t = recorded([start, ...later]);
        const back = traceFromWire(traceToWire(t));
        expect(back.events()).toEqual(t.events());
        expect(back.head()).toEqual(t.head());
        expect(back.execHead()).toEqual(t.execHead());
        // Re-recording the decoded events gives the same chain: the encoding is canonical.
        expect(recorded(back.events()).wireEvents()).toEqual(t.wireEvents());
      }),
      { numRuns: 150 },
    );
  });

  it("an event with a field too many or too few is refused, naming its kind's arity", () => {
    fc.assert(
      fc.property(eventOf("start"), laterEvent, fc.boolean(), (start, e, extra) => {
        const slot = traceToWire(recorded([start, e]));
        const wire = [...slot.events[1]];
        // Fields counted with the kind; optional fields (last in their row) may be left out.
        const fields = EVENTS[e.kind] as readonly Field[];
        const most = fields.length + 1;
        const least = fields.filter((f) => !f.optional).length + 1;
        if (extra) while (wire.length <= most + 1) wire.splice(1, 0, 0);
        else if (least > 1) while (wire.length >= least + 1) wire.splice(1, 1);
        else return;
        const err = rarErrorOf(() => traceFromWire({ head: slot.head, events: [slot.events[0], wire as WireEvent] }));
        expect(err).toBeInstanceOf(TraceError);
        expect((err as TraceError).index).toBe(1);
        const counts = least === most ? `${most}` : `${least} to ${most}`;
        expect(err.message).toContain(`a ${e.kind} event has ${counts} fields and a link, not ${wire.length} values`);
      }),
      { numRuns: 60 },
    );
  });

  it("a kind named like an Object.prototype property is refused as an unknown kind", () => {
    for (const kind of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(isEventKind(kind)).toBe(false);
      const err = rarErrorOf(() => traceFromWire({ head: new Uint8Array(32), events: [[kind, new Uint8Array(32)]] }));
      expect(err).toBeInstanceOf(TraceError);
      expect(err.message).toContain(`trace event 0: unknown kind '${kind}'`);
    }
  });

  it("the host actions the image's digest leaves out are event kinds of the table", () => {
    expect(HOST_EVENT_KINDS.size).toBeGreaterThan(0);
    for (const kind of HOST_EVENT_KINDS) expect(isEventKind(kind)).toBe(true);
  });

  it("spec/trace-format.md lists every event kind with its fields in encoding order", () => {
    const spec = readFileSync(join(__dirname, "..", "spec", "trace-format.md"), "utf8");
    const section = spec.slice(spec.indexOf("## 1. Events"), spec.indexOf("## 2."));
    const rows = [...section.matchAll(/^\| `([a-z_]+)` \| ([^|]*) \|/gm)].map((m) => [m[1], m[2].trim() === "—" ? [] : m[2].split(",").map((f) => f.trim())]);
    // An optional field is written in brackets: [by].
    const table = KINDS.map((k) => [k, (EVENTS[k] as readonly Field[]).map((f) => (f.optional ? `[${f.name}]` : f.name))]);
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(table));
  });
});

// --- reading a slot's bytes in place --------------------------------------
//
// A restore hashes each event's bytes as they are in the image (decode.ts
// readEventAt) instead of encoding the decoded event again. That is sound
// only if every event the reader accepts is exactly what the writer gives for
// the event it decodes to: the properties below check it on random events,
// written canonically or with some values in a longer form msgpack allows.

/** A msgpack writer that may give any value a longer form than the shortest; `widened` says whether it did. */
class AnyForm {
  readonly out: number[] = [];
  widened = false;
  constructor(private readonly pick: () => number) {}

  private be(n: number, bytes: number): void {
    for (let k = bytes - 1; k >= 0; k--) this.out.push(Math.floor(n / 2 ** (8 * k)) & 0xff);
  }

  private float(n: number): void {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, n);
    for (let k = 0; k < 8; k++) this.out.push(b.getUint8(k));
  }

  /** Header of a length: the forms [short?, 8-bit?, 16-bit, 32-bit], the shortest that fits or a longer one. */
  private header(len: number, forms: readonly (number | null)[], shortMax: number, eightMax: boolean): void {
    const fits = [forms[0] !== null && len <= shortMax, forms[1] !== null && eightMax && len < 0x100, len < 0x10000, true];
    const first = fits.indexOf(true);
    const options = [0, 1, 2, 3].filter((k) => fits[k] && forms[k] !== null);
    const k = options[this.pick() % options.length];
    if (k !== first) this.widened = true;
    if (k === 0) this.out.push((forms[0] as number) | len);
    else {
      this.out.push(forms[k] as number);
      this.be(len, k === 1 ? 1 : k === 2 ? 2 : 4);
    }
  }

  int(n: number): void {
    // Every form that holds n exactly, shortest first (as the writer orders them).
    const forms: (() => void)[] = [];
    if (n >= 0 && n < 0x80) forms.push(() => this.out.push(n));
    if (n >= -32 && n < 0) forms.push(() => this.out.push(n & 0xff));
    if (n >= 0 && n < 0x100) forms.push(() => (this.out.push(0xcc), this.be(n, 1)));
    if (n >= -128 && n < 0) forms.push(() => (this.out.push(0xd0), this.be(n & 0xff, 1)));
    if (n >= 0 && n < 0x10000) forms.push(() => (this.out.push(0xcd), this.be(n, 2)));
    if (n >= -32768 && n < 0) forms.push(() => (this.out.push(0xd1), this.be(n & 0xffff, 2)));
    if (n >= 0 && n < 0x100000000) forms.push(() => (this.out.push(0xce), this.be(n, 4)));
    if (n >= -0x80000000 && n < 0) forms.push(() => (this.out.push(0xd2), this.be(n >>> 0, 4)));
    forms.push(() => (this.out.push(0xcb), this.float(n)));
    const k = this.pick() % forms.length;
    if (k !== 0) this.widened = true;
    forms[k]();
  }

  value(v: unknown): void {
    if (typeof v === "number") this.int(v);
    else if (typeof v === "string") {
      const b = new TextEncoder().encode(v);
      this.header(b.length, [0xa0, 0xd9, 0xda, 0xdb], 31, true);
      this.out.push(...b);
    } else if (v instanceof Uint8Array) {
      this.header(v.length, [null, 0xc4, 0xc5, 0xc6], 0, true);
      this.out.push(...v);
    } else {
      const a = v as unknown[];
      this.header(a.length, [0x90, null, 0xdc, 0xdd], 15, false);
      for (const x of a) this.value(x);
    }
  }
}

const anyEvent = fc.oneof(eventOf("start"), laterEvent);
const link32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** The trace field [head, [event]] with the event's wire values written by `w`; the offset of the event. */
function fieldOf(w: AnyForm, e: TraceEvent, link: Uint8Array): { bytes: Uint8Array; start: number } {
  w.out.push(0x92);
  w.out.push(0xc4, 32, ...new Uint8Array(32), 0x91);
  const start = w.out.length;
  w.value([...eventFields(e), link]);
  return { bytes: Uint8Array.from(w.out), start };
}

describe("an event read in place from a slot's bytes", () => {
  it("is its canonical bytes: what the writer gives the event it decodes to (random events, canonical forms)", () => {
    fc.assert(
      fc.property(anyEvent, link32, (e, link) => {
        const { bytes } = fieldOf(new AnyForm(() => 0), e, link);
        const slot = traceSlotOf(bytes);
        const got = readEventAt(bytes, slot.at[0], slot.at[1], 0, "test");
        expect(got.event).toEqual(e);
        expect(got.link).toEqual(link);
        expect(joinChunks(got.enc)).toEqual(encodeEvent(got.event));
      }),
      { numRuns: 300 },
    );
  });

  it("is refused when any value has a longer form than the shortest, and otherwise is its canonical bytes", () => {
    fc.assert(
      fc.property(anyEvent, link32, fc.array(fc.nat(7), { minLength: 1, maxLength: 64 }), (e, link, picks) => {
        let k = 0;
        // Mostly the shortest form, now and then another.
        const w = new AnyForm(() => (picks[k++ % picks.length] < 6 ? 0 : picks[k % picks.length] + 1));
        const { bytes } = fieldOf(w, e, link);
        const read = (): ReturnType<typeof readEventAt> => {
          const slot = traceSlotOf(bytes);
          return readEventAt(bytes, slot.at[0], slot.at[1], 0, "test");
        };
        if (w.widened) {
          // The event's array and kind are read with the slot (image.noncanonical), its fields with the event.
          const err = rarErrorOf(read);
          expect(["image.noncanonical", "trace.bad_event"]).toContain(err.key);
          if (err.key === "trace.bad_event") expect(err.message).toMatch(/shortest form|longer than its length/);
        } else expect(joinChunks(read().enc)).toEqual(encodeEvent(e));
      }),
      { numRuns: 400 },
    );
  });

  it("is refused or is its canonical bytes whatever byte of it is changed", () => {
    fc.assert(
      fc.property(anyEvent, link32, fc.nat(), fc.integer({ min: 0, max: 255 }), (e, link, where, byte) => {
        const { bytes, start } = fieldOf(new AnyForm(() => 0), e, link);
        bytes[start + (where % (bytes.length - start))] = byte;
        let slot: ReturnType<typeof traceSlotOf>;
        try {
          slot = traceSlotOf(bytes);
        } catch {
          return; // not even a trace field's structure
        }
        if (slot.at.length !== 2) return;
        let got: ReturnType<typeof readEventAt>;
        try {
          got = readEventAt(bytes, slot.at[0], slot.at[1], 0, "test");
        } catch (err) {
          expect(err).toBeInstanceOf(TraceError);
          return;
        }
        expect(joinChunks(got.enc)).toEqual(encodeEvent(got.event));
      }),
      { numRuns: 1000 },
    );
  });

  it("a whole slot read in place comes back as the trace that wrote it, and writes the same bytes again", () => {
    fc.assert(
      fc.property(eventOf("start"), fc.array(laterEvent, { maxLength: 8 }), (start, later) => {
        const t = recorded([start, ...later]);
        const w = new WireWriter().value([t.head(), t.wireEvents()] as WireValue);
        const bytes = joinChunks(w.parts());
        const back = traceFromWire(traceSlotOf(bytes));
        expect(back.events()).toEqual(t.events());
        expect(back.head()).toEqual(t.head());
        expect(back.execHead()).toEqual(t.execHead());
        expect(joinChunks(new WireWriter().value([back.head(), back.wireEvents()] as WireValue).parts())).toEqual(bytes);
      }),
      { numRuns: 150 },
    );
  });
});
