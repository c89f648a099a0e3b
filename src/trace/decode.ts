// Reading an image's trace slot, which is untrusted (spec/trace-format.md §4):
// every event must be an array of a known kind with exactly its fields (the
// table in events.ts) and a link, each field of its type and within the
// bounds below; the first event and only the first is a start. Then both
// chains are recomputed and every link and the head compared (chain.ts).
// Anything else is a TraceError naming the event and what is wrong.

import { GRANT_MAX, type CapValue, type ValueType } from "../caps/registry.js";
import { DIGEST_BYTES, IMAGE_LIMITS, type TraceSlot } from "../image/format.js";
import { MODULE_LIMITS, bytesToInt32 } from "../vm/module.js";
import { MAX_CAP_ARGS } from "../vm/verify.js";
import { Chain, TraceError } from "./chain.js";
import { EVENTS, TYPE_LETTER, isEventKind, type Field, type FieldType, type FieldValue, type TraceEvent } from "./events.js";
import { Trace } from "./store.js";

/** Bounds a decoder enforces on untrusted events. */
export const TRACE_LIMITS = {
  events: 1 << 26,
  path: 65_536,
  /** A capability name, as a module may name it. */
  name: MODULE_LIMITS.nameLength,
  /** One grant, and the grants of a process, as an image may hold them. */
  grant: GRANT_MAX,
  grants: IMAGE_LIMITS.capsPerProcess,
  linked: 256,
  /** Arguments of a call, and of a host capability's signature: what CAP can pass. */
  args: MAX_CAP_ARGS,
  text: 1 << 20,
  /** Text arguments of a run (their words are bounded by the session's ARGS_WORDS_MAX and the image's size). */
  texts: 1 << 20,
  hostCaps: 4096,
} as const;

/** The value type each signature letter stands for (TYPE_LETTER read backwards). */
const LETTER_TYPE: ReadonlyMap<string, ValueType> = new Map(Object.entries(TYPE_LETTER).map(([t, l]) => [l, t as ValueType]));
const LETTERS = [...LETTER_TYPE].map(([l, t]) => `${l} (${t})`).join(" and ");

const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;

class EventReader {
  constructor(
    readonly index: number,
    readonly where: string,
  ) {}

  fail(message: string): never {
    throw new TraceError(this.index, "trace.bad_event", `trace event ${this.index}: ${message}`, this.where);
  }

  str(x: unknown, max: number, what: string): string {
    if (typeof x !== "string" || x.length > max) this.fail(`${what} must be a string of at most ${max} characters`);
    return x;
  }

  int(x: unknown, lo: number, hi: number, what: string): number {
    if (typeof x !== "number" || !Number.isSafeInteger(x) || x < lo || x > hi) this.fail(`${what} must be an integer in ${lo}..${hi}`);
    return x;
  }

  words(x: unknown, what: string): Int32Array {
    if (!(x instanceof Uint8Array) || x.length % 4 !== 0) this.fail(`${what} must be binary data of whole words`);
    return bytesToInt32(x);
  }

  value(x: unknown, what: string): CapValue {
    if (typeof x === "number") return this.int(x, I32_MIN, I32_MAX, what);
    return this.words(x, what);
  }

  list(x: unknown, max: number, what: string): unknown[] {
    if (!Array.isArray(x) || x.length > max) this.fail(`${what} must be a list of at most ${max}`);
    return x as unknown[];
  }

  /** Sorted, distinct strings. */
  names(x: unknown, max: number, length: number, what: string): string[] {
    const out = this.list(x, max, what).map((s) => this.str(s, length, what));
    for (let i = 1; i < out.length; i++) if (!(out[i - 1] < out[i])) this.fail(`${what} must be sorted and distinct`);
    return out;
  }

  types(x: unknown, what: string): ValueType[] {
    const s = this.str(x, TRACE_LIMITS.args, what);
    const out: ValueType[] = [];
    // Letter by letter (each letter is one UTF-16 unit; anything else is refused).
    for (let i = 0; i < s.length; i++) out.push(LETTER_TYPE.get(s[i]) ?? this.fail(`${what} must be letters ${LETTERS}`));
    return out;
  }

  hostCaps(x: unknown, what: string): FieldValue["hostCaps"] {
    const host = this.list(x, TRACE_LIMITS.hostCaps, what).map((h) => {
      const t = this.list(h, 3, "a host capability");
      if (t.length !== 3) this.fail("a host capability is [name, args, result]");
      const result = this.types(t[2], "result type");
      if (result.length !== 1) this.fail("a result type is one letter");
      return { name: this.str(t[0], TRACE_LIMITS.name, "capability name"), sig: { args: this.types(t[1], "argument types"), result: result[0] } };
    });
    for (let k = 1; k < host.length; k++) if (!(host[k - 1].name < host[k].name)) this.fail(`${what} must be sorted and distinct`);
    return host;
  }
}

/** How each field type is read, within its bounds. */
const READ: { readonly [T in FieldType]: (r: EventReader, x: unknown, what: string) => FieldValue[T] } = {
  digest: (r, x, what) => r.str(x, 2 * DIGEST_BYTES, what),
  digests: (r, x, what) => r.names(x, TRACE_LIMITS.linked, 2 * DIGEST_BYTES, what),
  grants: (r, x, what) => r.names(x, TRACE_LIMITS.grants, TRACE_LIMITS.grant, what),
  name: (r, x, what) => r.str(x, TRACE_LIMITS.name, what),
  path: (r, x, what) => {
    const path = r.str(x, TRACE_LIMITS.path, what);
    if (!/^0(\.[0-9]+)*$/.test(path)) r.fail(`'${path.slice(0, 40)}' is not a process path`);
    return path;
  },
  text: (r, x, what) => r.str(x, TRACE_LIMITS.text, what),
  entry: (r, x, what) => r.int(x, 0, MODULE_LIMITS.functions - 1, what),
  limit: (r, x, what) => r.int(x, 0, I32_MAX, what),
  amount: (r, x, what) => r.int(x, 0, Number.MAX_SAFE_INTEGER, what),
  word: (r, x, what) => r.int(x, I32_MIN, I32_MAX, what),
  words: (r, x, what) => r.words(x, what),
  value: (r, x, what) => r.value(x, what),
  values: (r, x, what) => r.list(x, TRACE_LIMITS.args, what).map((a, k) => r.value(a, `argument ${k}`)),
  texts: (r, x, what) => r.list(x, TRACE_LIMITS.texts, what).map((a, k) => r.words(a, `text ${k}`)),
  hostCaps: (r, x, what) => r.hostCaps(x, what),
};

/** Reads one wire event [kind, ...fields, link] (untrusted). */
function readEvent(x: unknown, i: number, where: string): { event: TraceEvent; link: Uint8Array } {
  // Declared type: only then does r.fail (never) narrow what follows.
  const r: EventReader = new EventReader(i, where);
  if (!Array.isArray(x) || x.length === 0) r.fail("must be an array starting with its kind");
  const f = x as unknown[];
  const kind = r.str(f[0], 16, "kind");
  if (!isEventKind(kind)) r.fail(`unknown kind '${kind}'`);
  const fields: readonly Field[] = EVENTS[kind];
  const arity = fields.length + 1;
  const required = fields.filter((d) => !d.optional).length + 1;
  if (f.length < required + 1 || f.length > arity + 1) {
    const counts = required === arity ? `${arity}` : `${required} to ${arity}`;
    r.fail(`a ${kind} event has ${counts} fields and a link, not ${f.length} values`);
  }
  const link = f[f.length - 1];
  if (!(link instanceof Uint8Array) || link.length !== DIGEST_BYTES) r.fail(`its link must be a ${DIGEST_BYTES}-byte digest`);
  const event: Record<string, unknown> = { kind };
  for (let k = 0; k < f.length - 2; k++) {
    const { name, type, what } = fields[k];
    event[name] = (READ[type] as (r: EventReader, x: unknown, what: string) => unknown)(r, f[k + 1], what);
  }
  // Sound: the object has exactly the row's fields, each read by its type's reader.
  return { event: event as unknown as TraceEvent, link: Uint8Array.from(link) };
}

/**
 * Reads an image's trace slot (untrusted): decodes every event, recomputes
 * both chains and compares every link and the head. Throws a TraceError
 * naming the first event that does not check (index n: the head).
 */
export function traceFromWire(slot: TraceSlot, where = "trace"): Trace {
  const n = slot.events.length;
  if (n > TRACE_LIMITS.events) throw new TraceError(0, "trace.too_long", `more than ${TRACE_LIMITS.events} events`, where);
  const events: TraceEvent[] = [];
  const recorded: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const { event, link } = readEvent(slot.events[i], i, where);
    if ((i === 0) !== (event.kind === "start"))
      throw new TraceError(i, "trace.order", `trace event ${i}: a trace starts with exactly one start event`, where);
    events.push(event);
    recorded.push(link);
  }
  return Trace.checked(events, Chain.verified(events, recorded, slot, where));
}
