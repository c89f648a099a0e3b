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
import { ReadSlot } from "../image/decode.js";
import { WireReader, sameRange } from "../image/wire.js";
import { RarError } from "../vm/errors.js";
import { Chain, TraceError, encodeEvents } from "./chain.js";
import { EVENTS, HOST_BASES, LETTER_TYPE, isEventKind, withBase, type Field, type FieldType, type FieldValue, type HostCap, type TraceEvent } from "./events.js";
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

const LETTERS = [...LETTER_TYPE].map(([l, t]) => `${l} (${t})`).join(" and ");

const I32_MIN = -0x80000000;
const I32_MAX = 0x7fffffff;

/**
 * Where an event's field readers take values from, one at a time, in order:
 * the bytes of an image's trace slot read in place (a WireReader, which also
 * refuses a form the writer would not give), or the values of a slot given
 * as values. A value of another type than the one asked for is not consumed.
 */
interface Source {
  /** Whether the next value is a number. */
  isNumber(): boolean;
  /** The next value if it is a number, consumed; NaN (nothing consumed) otherwise. */
  number(): number;
  /** The next value if it is a string, consumed; null (nothing consumed) otherwise. */
  str(): string | null;
  /** The next value if it is binary, consumed; null (nothing consumed) otherwise. */
  bin(): Uint8Array | null;
  /** The length of the next value if it is an array (its header consumed: its elements come next); -1 (nothing consumed) otherwise. */
  array(): number;
  /** Consumes the next value, whatever it is. */
  pass(): void;
}

/** A slot given as values: the elements of one event, and of the arrays entered in it. */
class Values implements Source {
  private readonly lists: (readonly unknown[])[];
  private readonly at: number[];

  constructor(event: readonly unknown[], from: number) {
    this.lists = [event];
    this.at = [from];
  }

  private peek(): unknown {
    const k = this.lists.length - 1;
    return this.lists[k][this.at[k]];
  }

  /** Past the current value; lists whose elements are all read are left. */
  private next(): void {
    let k = this.lists.length - 1;
    this.at[k]++;
    while (k > 0 && this.at[k] >= this.lists[k].length) {
      this.lists.pop();
      this.at.pop();
      k--;
    }
  }

  isNumber(): boolean {
    return typeof this.peek() === "number";
  }

  number(): number {
    const x = this.peek();
    if (typeof x !== "number") return NaN;
    this.next();
    return x;
  }

  str(): string | null {
    const x = this.peek();
    if (typeof x !== "string") return null;
    this.next();
    return x;
  }

  bin(): Uint8Array | null {
    const x = this.peek();
    if (!(x instanceof Uint8Array)) return null;
    this.next();
    return x;
  }

  array(): number {
    const x = this.peek();
    if (!Array.isArray(x)) return -1;
    this.next();
    if (x.length > 0) {
      this.lists.push(x as unknown[]);
      this.at.push(0);
    }
    return x.length;
  }

  pass(): void {
    this.next();
  }
}

/** The bytes of an image's trace slot, read in place. */
class Bytes extends WireReader implements Source {
  isNumber(): boolean {
    const t = this.peek();
    return t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xce) || (t >= 0xd0 && t <= 0xd2) || t === 0xcb;
  }

  pass(): void {
    // The slot's bytes were checked as scan() checks (decodeImage).
    this.over();
  }
}

class EventReader {
  constructor(
    readonly src: Source,
    readonly index: number,
    readonly where: string,
  ) {}

  fail(message: string): never {
    throw new TraceError(this.index, "trace.bad_event", `trace event ${this.index}: ${message}`, this.where);
  }

  /** A string read already (null: the value there was not one), within its bound. */
  checkStr(s: string | null, max: number, what: string): string {
    if (s === null || s.length > max) this.fail(`${what} must be a string of at most ${max} characters`);
    return s;
  }

  str(max: number, what: string): string {
    return this.checkStr(this.src.str(), max, what);
  }

  int(lo: number, hi: number, what: string): number {
    const x = this.src.number();
    if (!Number.isSafeInteger(x) || x < lo || x > hi) this.fail(`${what} must be an integer in ${lo}..${hi}`);
    return x;
  }

  words(what: string): Int32Array {
    const x = this.src.bin();
    if (x === null || x.length % 4 !== 0) this.fail(`${what} must be binary data of whole words`);
    return bytesToInt32(x);
  }

  value(what: string): CapValue {
    if (this.src.isNumber()) return this.int(I32_MIN, I32_MAX, what);
    return this.words(what);
  }

  /** The length of a list (its elements come next). */
  list(max: number, what: string): number {
    const n = this.src.array();
    if (n < 0 || n > max) this.fail(`${what} must be a list of at most ${max}`);
    return n;
  }

  /** Sorted, distinct strings. */
  names(max: number, length: number, what: string): string[] {
    const n = this.list(max, what);
    const out: string[] = [];
    for (let k = 0; k < n; k++) out.push(this.str(length, what));
    for (let i = 1; i < out.length; i++) if (!(out[i - 1] < out[i])) this.fail(`${what} must be sorted and distinct`);
    return out;
  }

  /** The value types a string read already spells. */
  types(x: string | null, what: string): ValueType[] {
    const s = this.checkStr(x, TRACE_LIMITS.args, what);
    const out: ValueType[] = [];
    // Letter by letter (each letter is one UTF-16 unit; anything else is refused).
    for (let i = 0; i < s.length; i++) out.push(LETTER_TYPE.get(s[i]) ?? this.fail(`${what} must be letters ${LETTERS}`));
    return out;
  }

  /** The next value if it is a string, else null; consumed either way. */
  anyStr(): string | null {
    const s = this.src.str();
    if (s === null) this.src.pass();
    return s;
  }

  hostCaps(what: string): FieldValue["hostCaps"] {
    const n = this.list(TRACE_LIMITS.hostCaps + 1, what);
    // [base, ...the rest] names a base table (events.ts HOST_BASES); a list of rows is the whole table.
    const base = n > 0 && this.src.isNumber() ? this.int(1, HOST_BASES.length - 1, "a host table's base") : 0;
    const host: HostCap[] = [];
    for (let k = base === 0 ? 0 : 1; k < n; k++) {
      const len = this.list(3, "a host capability");
      if (len !== 3) this.fail("a host capability is [name, args, result]");
      const name = this.anyStr();
      const args = this.anyStr();
      const result = this.types(this.anyStr(), "result type");
      if (result.length !== 1) this.fail("a result type is one letter");
      host.push({ name: this.checkStr(name, TRACE_LIMITS.name, "capability name"), sig: { args: this.types(args, "argument types"), result: result[0] } });
    }
    for (let k = 1; k < host.length; k++) if (!(host[k - 1].name < host[k].name)) this.fail(`${what} must be sorted and distinct`);
    if (base === 0) {
      if (n > TRACE_LIMITS.hostCaps) this.fail(`${what}: more than ${TRACE_LIMITS.hostCaps}`);
      return host;
    }
    // As the writer gives it: only what the base table does not hold, and the whole within bounds.
    const inBase = new Set(HOST_BASES[base].map((h) => h.name));
    if (host.some((h) => inBase.has(h.name))) this.fail(`${what} lists a capability its base table ${base} holds`);
    if (HOST_BASES[base].length + host.length > TRACE_LIMITS.hostCaps) this.fail(`${what}: more than ${TRACE_LIMITS.hostCaps}`);
    return withBase(base, host);
  }
}

/**
 * The last host table read in place, with its bytes: the same host gives
 * the same table in every image it writes, so an image whose table's bytes
 * are these bytes holds this table (frozen: every trace that reads it
 * shares it). Compared byte for byte, never by a digest.
 */
let lastHost: { bytes: Uint8Array; table: FieldValue["hostCaps"] } | null = null;

function hostCapsAt(r: EventReader, what: string): FieldValue["hostCaps"] {
  if (!(r.src instanceof Bytes)) return r.hostCaps(what);
  const c = r.src;
  const from = c.pos;
  // A msgpack value ends where its encoding does: bytes that start with a whole table's are that table.
  if (lastHost !== null && from + lastHost.bytes.length <= c.end && sameRange(c.bytes, from, lastHost.bytes, 0, lastHost.bytes.length)) {
    c.pos = from + lastHost.bytes.length;
    return lastHost.table;
  }
  const table = r.hostCaps(what);
  for (const h of table) Object.freeze(Object.freeze(Object.freeze(h.sig.args) && h.sig) && h);
  Object.freeze(table);
  lastHost = { bytes: c.bytes.slice(from, c.pos), table };
  return table;
}

/** How each field type is read, within its bounds. */
const READ: { readonly [T in FieldType]: (r: EventReader, what: string) => FieldValue[T] } = {
  digest: (r, what) => r.str(2 * DIGEST_BYTES, what),
  digests: (r, what) => r.names(TRACE_LIMITS.linked, 2 * DIGEST_BYTES, what),
  grants: (r, what) => r.names(TRACE_LIMITS.grants, TRACE_LIMITS.grant, what),
  name: (r, what) => r.str(TRACE_LIMITS.name, what),
  path: (r, what) => {
    const path = r.str(TRACE_LIMITS.path, what);
    if (!/^0(\.[0-9]+)*$/.test(path)) r.fail(`'${path.slice(0, 40)}' is not a process path`);
    return path;
  },
  text: (r, what) => r.str(TRACE_LIMITS.text, what),
  entry: (r, what) => r.int(0, MODULE_LIMITS.functions - 1, what),
  limit: (r, what) => r.int(0, I32_MAX, what),
  amount: (r, what) => r.int(0, Number.MAX_SAFE_INTEGER, what),
  word: (r, what) => r.int(I32_MIN, I32_MAX, what),
  words: (r, what) => r.words(what),
  value: (r, what) => r.value(what),
  values: (r, what) => {
    const n = r.list(TRACE_LIMITS.args, what);
    const out: CapValue[] = [];
    for (let k = 0; k < n; k++) out.push(r.value(`argument ${k}`));
    return out;
  },
  texts: (r, what) => {
    const n = r.list(TRACE_LIMITS.texts, what);
    const out: Int32Array[] = [];
    for (let k = 0; k < n; k++) out.push(r.words(`text ${k}`));
    return out;
  },
  hostCaps: hostCapsAt,
};

/**
 * Reads one event [kind, ...fields, link] (untrusted) of `length` values
 * (-1: not an array), its kind and its link already taken from `src` (null:
 * not a string, not binary); `src` stands at its first field.
 */
function readEvent(src: Source, length: number, kind: string | null, link: Uint8Array | null, i: number, where: string): TraceEvent {
  // Declared type: only then does r.fail (never) narrow what follows.
  const r: EventReader = new EventReader(src, i, where);
  if (length <= 0) r.fail("must be an array starting with its kind");
  const k = r.checkStr(kind, 16, "kind");
  if (!isEventKind(k)) r.fail(`unknown kind '${k}'`);
  const fields: readonly Field[] = EVENTS[k];
  const arity = fields.length + 1;
  const required = ARITY[k];
  if (length < required + 1 || length > arity + 1) {
    const counts = required === arity ? `${arity}` : `${required} to ${arity}`;
    r.fail(`a ${k} event has ${counts} fields and a link, not ${length} values`);
  }
  if (link === null || link.length !== DIGEST_BYTES) r.fail(`its link must be a ${DIGEST_BYTES}-byte digest`);
  const event: Record<string, unknown> = { kind: k };
  for (let f = 0; f < length - 2; f++) {
    const { name, type, what } = fields[f];
    event[name] = (READ[type] as (r: EventReader, what: string) => unknown)(r, what);
  }
  // Sound: the object has exactly the row's fields, each read by its type's reader.
  return event as unknown as TraceEvent;
}

/** Per kind: the values of its row that are not optional, and its kind (the least an event has besides its link). */
const ARITY = Object.fromEntries(Object.entries(EVENTS).map(([k, fields]) => [k, (fields as readonly Field[]).filter((d) => !d.optional).length + 1])) as Record<
  keyof typeof EVENTS,
  number
>;

/** The one-byte msgpack header of an array of n < 16 values. */
const FIXARRAY: readonly Uint8Array[] = Array.from({ length: 16 }, (_, n) => Uint8Array.of(0x90 | n));

/**
 * Reads an image's trace slot (untrusted): decodes every event, recomputes
 * both chains and compares every link and the head. Throws a TraceError
 * naming the first event that does not check (index n: the head).
 *
 * A slot decodeImage read (ReadSlot, its events untouched) is read in place:
 * each event's canonical bytes enc(e) are then its array's bytes in the slot
 * without its link (a header one shorter, then the bytes of its kind and
 * fields), which the chain hashes as they are. That is sound because the
 * reader admits only what the writer gives (WireReader refuses every other
 * form: image.noncanonical, named here as the event's), so the bytes are
 * exactly enc of the event decoded from them (test/trace-events.test.ts
 * checks it on random and mutated events).
 */
export function traceFromWire(slot: TraceSlot, where = "trace"): Trace {
  if (slot instanceof ReadSlot && slot.pristine) return readInPlace(slot, where);
  const n = slot.events.length;
  if (n > TRACE_LIMITS.events) throw new TraceError(0, "trace.too_long", `more than ${TRACE_LIMITS.events} events`, where);
  const events: TraceEvent[] = [];
  const recorded: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const x: unknown = slot.events[i];
    const f = Array.isArray(x) ? (x as unknown[]) : null;
    const last = f === null ? undefined : f[f.length - 1];
    const link = last instanceof Uint8Array ? last : null;
    const event = readEvent(new Values(f ?? [], 1), f === null ? -1 : f.length, f && typeof f[0] === "string" ? f[0] : null, link, i, where);
    order(event, i, where);
    events.push(event);
    recorded.push((link as Uint8Array).slice());
  }
  return Trace.checked(events, Chain.verified(events, recorded, encodeEach(events), slot.head, where));
}

function order(event: TraceEvent, i: number, where: string): void {
  if ((i === 0) !== (event.kind === "start")) throw new TraceError(i, "trace.order", `trace event ${i}: a trace starts with exactly one start event`, where);
}

/**
 * Reads event i of a slot's bytes in place: its array at `start`, its link
 * at `linkAt` (where decodeImage found its last element). Returns the event,
 * its recorded link and enc(e) in chunks: a header one shorter than its
 * array's, then the bytes of its kind and fields as they are in the slot.
 */
export function readEventAt(b: Uint8Array, start: number, linkAt: number, i: number, where: string): InPlace {
  return eventAt(new Bytes(b, start, b.length, where), start, linkAt, i, where);
}

interface InPlace {
  event: TraceEvent;
  /** The link recorded (a view of the slot's bytes: it is only compared). */
  link: Uint8Array;
  enc: Uint8Array[];
}

/**
 * readEventAt with a reader of the slot's bytes (one for all its events).
 * `known`: the event its bytes read as (lastEvents), or null: then only its
 * link is read. (One function for both: a path first taken deep in the
 * host's stack compiles nothing there.)
 */
function eventAt(c: Bytes, start: number, linkAt: number, i: number, where: string, known: TraceEvent | null = null): InPlace {
  const b = c.bytes;
  c.pos = start;
  try {
    if (known !== null) {
      c.pos = linkAt;
      const link = c.bin();
      if (link === null || link.length !== DIGEST_BYTES) throw new TraceError(i, "trace.bad_event", `trace event ${i}: its link must be a ${DIGEST_BYTES}-byte digest`, where);
      // The array's header is the remembered one's: a fixarray of the same length.
      return { event: eventCopy(known), link, enc: [FIXARRAY[(b[start] & 0x0f) - 1], b.subarray(start + 1, linkAt)] };
    }
    const length = c.array();
    const kind = length > 0 ? c.str() : null;
    let link: Uint8Array | null = null;
    if (length >= 2) {
      const first = c.pos;
      c.pos = linkAt;
      link = c.bin();
      c.pos = first;
    }
    const event = readEvent(c, length, kind, link, i, where);
    // Each field is read as one value, so the fields end where the link starts.
    if (c.pos !== linkAt) throw new TraceError(i, "trace.bad_event", `trace event ${i}: its fields end at byte ${c.pos}, not where its link starts (${linkAt})`, where);
    // [kind, ...fields]: length - 1 values, fewer than 16 (the arity check passed), so a fixarray.
    return { event, link: link as Uint8Array, enc: [FIXARRAY[length - 1], b.subarray(start + 1, linkAt)] };
  } catch (e) {
    // A form the writer does not give (image.noncanonical) is named as the event's.
    if (e instanceof RarError && !(e instanceof TraceError) && e.key.startsWith("image."))
      throw new TraceError(i, "trace.bad_event", `trace event ${i}: ${e.message}`, where);
    throw e;
  }
}

/**
 * The first events of the last slot read in place (readInPlace), up to
 * REMEMBERED_BYTES of them: each one's bytes without its link (its array
 * header, kind and fields: `bytes`, event i's ending at ends[i]) and the
 * event read from them (a copy of its own: the trace's events go to the
 * caller). Reading an event is a function of those bytes alone (its fields
 * end where its link starts, all within them), so an event whose bytes are
 * these bytes, at the same index, reads as this event: compared byte for
 * byte, never by a digest. Restoring an image again, or a later image of
 * the same run, reads only the events that differ (the start event, the
 * largest, is the same in every image of a run). Its link is read and the
 * chain checked as for any event.
 */
let lastEvents: { bytes: Uint8Array; ends: number[]; events: TraceEvent[]; whole: boolean } | null = null;
const REMEMBERED_BYTES = 1 << 14;

/** Event i of lastEvents if its bytes are b[start, linkAt), else null. */
function rememberedEvent(b: Uint8Array, start: number, linkAt: number, i: number): TraceEvent | null {
  const m = lastEvents;
  if (m === null || i >= m.events.length) return null;
  const from = i === 0 ? 0 : m.ends[i - 1];
  const n = linkAt - start;
  return m.ends[i] - from === n && sameRange(m.bytes, from, b, start, n) ? m.events[i] : null;
}

/** Makes lastEvents the first events of a slot just read (`spans`: per event, where its array starts and where its link starts). */
function rememberEvents(b: Uint8Array, spans: readonly number[], events: readonly TraceEvent[]): void {
  const ends: number[] = [];
  let total = 0;
  for (let i = 0; i < events.length; i++) {
    const n = spans[2 * i + 1] - spans[2 * i];
    if (total + n > REMEMBERED_BYTES) break;
    ends.push((total += n));
  }
  const bytes = new Uint8Array(total);
  const kept: TraceEvent[] = [];
  for (let i = 0; i < ends.length; i++) {
    bytes.set(b.subarray(spans[2 * i], spans[2 * i + 1]), i === 0 ? 0 : ends[i - 1]);
    kept.push(eventCopy(events[i]));
  }
  lastEvents = { bytes, ends, events: kept, whole: ends.length === events.length };
}

/** How each field type's value is copied so that the copy shares nothing a caller could change (null: a value as it is). */
const COPY: { readonly [T in FieldType]: ((v: FieldValue[T]) => FieldValue[T]) | null } = {
  digest: null,
  digests: (v) => v.slice(),
  grants: (v) => v.slice(),
  name: null,
  path: null,
  text: null,
  entry: null,
  limit: null,
  amount: null,
  word: null,
  words: (v) => v.slice(),
  value: (v) => (typeof v === "number" ? v : v.slice()),
  values: (v) => v.map((x) => (typeof x === "number" ? x : x.slice())),
  texts: (v) => v.map((x) => x.slice()),
  // Frozen, shared as it is (hostCapsAt).
  hostCaps: null,
};

/** A copy of an event read from a slot (COPY: strings and numbers are values, words and lists are copied). */
function eventCopy(e: TraceEvent): TraceEvent {
  const out: Record<string, unknown> = { ...e };
  for (const { name, type } of EVENTS[e.kind] as readonly Field[]) {
    const copy = COPY[type] as ((v: unknown) => unknown) | null;
    if (copy !== null && out[name] !== undefined) out[name] = copy(out[name]);
  }
  return out as unknown as TraceEvent;
}

function readInPlace(slot: ReadSlot, where: string): Trace {
  const at = slot.at;
  const n = at.length / 2;
  if (n > TRACE_LIMITS.events) throw new TraceError(0, "trace.too_long", `more than ${TRACE_LIMITS.events} events`, where);
  const events: TraceEvent[] = [];
  const recorded: Uint8Array[] = [];
  const enc: Uint8Array[][] = [];
  const b = slot.bytes;
  const c = new Bytes(b, 0, b.length, where);
  /** The first event read from its bytes (not remembered), or -1. */
  let fresh = -1;
  for (let i = 0; i < n; i++) {
    const start = at[2 * i];
    const linkAt = at[2 * i + 1];
    const known = rememberedEvent(b, start, linkAt, i);
    const e = eventAt(c, start, linkAt, i, where, known);
    if (known === null && fresh < 0) fresh = i;
    order(e.event, i, where);
    events.push(e.event);
    recorded.push(e.link);
    enc.push(e.enc);
  }
  const trace = Trace.checked(events, Chain.verified(events, recorded, enc, slot.head, where));
  // Only a slot that checked is remembered: when one of the remembered events differs, or when they were
  // all of their slot's and this one has more (a later image of the run); else it changes nothing.
  if (fresh >= 0 && (lastEvents === null || fresh < lastEvents.events.length || lastEvents.whole)) rememberEvents(b, at, events);
  return trace;
}

/** enc(e) of each event, as one chunk each, encoded in one writer. */
function encodeEach(events: readonly TraceEvent[]): Uint8Array[][] {
  return encodeEvents(events, 0).map((bytes) => [bytes]);
}
