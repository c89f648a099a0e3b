// The event table (src/trace/events.ts) is the one statement of which event
// kinds a trace holds and what fields each has, in what order: the encoder
// and the decoder both read it, so every event of every kind must come back
// from its wire form as itself, and an event whose shape differs from its row
// is refused naming the row's arity.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HOST_EVENT_KINDS, type TraceEvent as WireEvent } from "../src/image/format.js";
import { TraceError } from "../src/trace/chain.js";
import { traceFromWire } from "../src/trace/decode.js";
import { EVENTS, isEventKind, type EventKind, type Field, type FieldType, type FieldValue, type TraceEvent } from "../src/trace/events.js";
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
