// Traces (DESIGN §5): every nondeterministic input of a run, in order, as a
// hash chain. spec/trace-format.md describes the same layout in prose.
//
// Events:
//   start      host-given arguments and conditions: module, linked modules,
//              entry function, program arguments, the root's grants, the host
//              capabilities (names and signatures) and the policy
//   cap        a capability call answered by the host: process path, capability,
//              arguments, result
//   cap_error  a call the host refused (the caller faulted cap_failed): ..., message
//   refuel     the host raised the root's limits (the first one sets the initial limits)
//   resume     the host ran (or continued) the root
//   answer     the host answered the root's trapped call
//   narrow     the host narrowed the root's grants on resume
//   interrupt  the host stopped the root (a signal, a wall-clock budget) when
//              its gasUsed was `gas`: the root is out_of_gas there, resumable
//
// Canonical encoding: enc(e) is the canonical msgpack (image/wire.ts) of the
// event's fields [kind, ...fields]; an int is a msgpack integer, an array of
// words is a binary of little-endian int32s.
//
// The chain: h_0 = 32 zero bytes, h_i = sha256(h_{i-1} || enc(e_i)); the
// trace's head is h_n. Refuel, resume and interrupt are host actions that an execution
// does not observe, so the execution-state digest must leave them out; every
// other event also extends the execution chain x (x_0 = zeros,
// x_k = sha256(x_{k-1} || enc(e))). On the wire each event carries one link:
// h_i for host actions, x for the others. That link lets a checker name the
// first event that does not match, and keeps execution events independent of
// when the host suspended the run.
//
// Hashing is lazy: recording an event stores it; encoding and hashing happen
// when the head, a link or the wire form is first needed (writing an image,
// audit), so tracing costs the hot path almost nothing.

import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex } from "@noble/hashes/utils";
import type { CapSignature, CapValue, ValueType } from "../caps/registry.js";
import { HOST_EVENT_KINDS, type TraceEvent as WireEvent, type TraceSlot, type WireValue } from "../image/format.js";
import { WireWriter, join } from "../image/wire.js";
import { RarError, type ErrorKey } from "../vm/errors.js";
import { bytesToInt32, int32ToBytes } from "../vm/module.js";

export interface HostCap {
  readonly name: string;
  readonly sig: CapSignature;
}

export interface StartEvent {
  readonly kind: "start";
  /** Digest of the entry module. */
  readonly module: string;
  /** Digests of the linked modules the host loaded, sorted. */
  readonly linked: readonly string[];
  /** Entry function index. */
  readonly entry: number;
  /** Program arguments (the root's memory is [n, a0, ..., an-1]). */
  readonly args: Int32Array;
  /** The root's grants, sorted. */
  readonly grants: readonly string[];
  /** The host capabilities the machine offered, by name (sorted), with their signatures. */
  readonly host: readonly HostCap[];
  /** Canonical policy text (caps/policy.ts policyToJson), "" when the host gave none. */
  readonly policy: string;
  /** The machine's maximum tree depth and largest linear memory (words): they decide faults. */
  readonly maxDepth: number;
  readonly memMax: number;
}

export interface CapEvent {
  readonly kind: "cap";
  readonly path: string;
  readonly cap: string;
  readonly args: readonly CapValue[];
  readonly result: CapValue;
}

export interface CapErrorEvent {
  readonly kind: "cap_error";
  readonly path: string;
  readonly cap: string;
  readonly args: readonly CapValue[];
  readonly error: string;
}

export interface RefuelEvent {
  readonly kind: "refuel";
  readonly gas: number;
  readonly mem: number;
}

export interface ResumeEvent {
  readonly kind: "resume";
}

/**
 * The host stopped the root at an instruction boundary, when the root's
 * gasUsed was `gas` (Machine.run's stopAt), and marked it out_of_gas. A replay
 * stops its run at the same gas, so the interrupt is as transparent as a refuel.
 */
export interface InterruptEvent {
  readonly kind: "interrupt";
  readonly gas: number;
}

export interface AnswerEvent {
  readonly kind: "answer";
  readonly value: number;
}

export interface NarrowEvent {
  readonly kind: "narrow";
  readonly grants: readonly string[];
}

export type TraceEvent = StartEvent | CapEvent | CapErrorEvent | RefuelEvent | ResumeEvent | InterruptEvent | AnswerEvent | NarrowEvent;

export const DIGEST_BYTES = 32;
const GENESIS: Uint8Array = new Uint8Array(DIGEST_BYTES);

/** Bounds a decoder enforces on untrusted events. */
export const TRACE_LIMITS = {
  events: 1 << 26,
  path: 65_536,
  name: 256,
  grant: 4096,
  grants: 256,
  args: 64,
  text: 1 << 20,
  hostCaps: 4096,
} as const;

/** A trace that does not check: the first event that does not match, by index (n = the end of the trace). */
export class TraceError extends RarError {
  constructor(
    readonly index: number,
    kind: ErrorKey<"trace">,
    message: string,
    where: string,
  ) {
    super(kind, message, where);
  }
}

/** Whether an event is a host action (left out of the execution chain and the execution-state digest). */
export function isHostEvent(e: TraceEvent): boolean {
  return HOST_EVENT_KINDS.has(e.kind);
}

// --- canonical encoding ---------------------------------------------------

function valueWire(v: CapValue): WireValue {
  return typeof v === "number" ? v | 0 : int32ToBytes(v);
}

function sigText(types: readonly ValueType[]): string {
  return types.map((t) => (t === "int" ? "i" : "a")).join("");
}

/** The event's fields [kind, ...fields] as wire values (what enc(e) encodes). */
export function eventFields(e: TraceEvent): WireValue[] {
  switch (e.kind) {
    case "start":
      return [
        "start",
        e.module,
        [...e.linked],
        e.entry,
        int32ToBytes(e.args),
        [...e.grants],
        e.host.map((h) => [h.name, sigText(h.sig.args), sigText([h.sig.result])]),
        e.policy,
        e.maxDepth,
        e.memMax,
      ];
    case "cap":
      return ["cap", e.path, e.cap, e.args.map(valueWire), valueWire(e.result)];
    case "cap_error":
      return ["cap_error", e.path, e.cap, e.args.map(valueWire), e.error];
    case "refuel":
      return ["refuel", e.gas, e.mem];
    case "resume":
      return ["resume"];
    case "interrupt":
      return ["interrupt", e.gas];
    case "answer":
      return ["answer", e.value | 0];
    case "narrow":
      return ["narrow", [...e.grants]];
  }
}

/** enc(e): the canonical bytes of one event. */
export function encodeEvent(e: TraceEvent): Uint8Array {
  const w = new WireWriter().value(eventFields(e));
  return join(w.parts(), w.length());
}

function chain(prev: Uint8Array, bytes: Uint8Array): Uint8Array {
  return sha256.create().update(prev).update(bytes).digest();
}

// --- the trace ------------------------------------------------------------

/** Largest block of compact calls, in words (64 KiB). */
const COMPACT_BLOCK = 16_384;

export class Trace {
  private readonly list: TraceEvent[] = [];
  // The common event, a call with int arguments and an int result, is kept
  // compact while the guest runs (no object per call, nothing for the GC to
  // trace) and becomes a CapEvent when the trace is next read. Each entry:
  // cap id, path id, argument count, the arguments, the result. Entries fill
  // fixed-size blocks (a full block is kept, never copied or regrown).
  private compact = new Int32Array(256);
  private compactLen = 0;
  private compactCount = 0;
  /** Full blocks before `compact`, with the words used in each. */
  private readonly fullBlocks: { words: Int32Array; len: number }[] = [];
  private readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private lastString: string | null = null;
  private lastStringId = -1;
  private prevString: string | null = null;
  private prevStringId = -1;
  /** Per event: its link (h or x), once sealed. */
  private readonly links: Uint8Array[] = [];
  /** Per event: its wire form [kind, ...fields, link], once sealed. */
  private readonly wire: WireEvent[] = [];
  private full: Uint8Array = GENESIS;
  private exec: Uint8Array = GENESIS;

  /** Records an event (hashed later, when the chain is next needed). */
  push(e: TraceEvent): void {
    this.flush();
    this.list.push(e);
  }

  /**
   * Starts recording an int-only call before the handler runs (so a handler
   * that mutates its arguments cannot change the record). Returns a mark for
   * commitIntCall, or -1 when the call is not int-only (record it with push).
   */
  beginIntCall(path: string, cap: string, args: readonly CapValue[]): number {
    const n = args.length;
    for (let i = 0; i < n; i++) if (typeof args[i] !== "number") return -1;
    return this.beginInts(path, cap, args as readonly number[]);
  }

  /** beginIntCall for arguments known to be ints (the handler's signature says so). */
  beginInts(path: string, cap: string, args: readonly number[]): number {
    return this.beginIds(this.stringId(path), this.stringId(cap), args);
  }

  /** beginInts with the path and capability already interned (see stringId). */
  beginIds(pathId: number, capId: number, args: readonly number[]): number {
    const n = args.length;
    let mark = this.compactLen;
    if (mark + 4 + n > this.compact.length) {
      this.fullBlocks.push({ words: this.compact, len: mark });
      // Blocks start small (most traces are short) and grow to COMPACT_BLOCK.
      this.compact = new Int32Array(Math.max(Math.min(COMPACT_BLOCK, this.compact.length * 2), 4 + n));
      this.compactLen = mark = 0;
    }
    const c = this.compact;
    c[mark] = capId;
    c[mark + 1] = pathId;
    c[mark + 2] = n;
    for (let i = 0; i < n; i++) c[mark + 3 + i] = args[i];
    return mark;
  }

  /** The arguments recorded at `mark` (a call begun and not yet committed). */
  intCallArgs(mark: number): number[] {
    const n = this.compact[mark + 2];
    return Array.from(this.compact.subarray(mark + 3, mark + 3 + n));
  }

  /** Completes a call begun with beginIntCall. */
  commitIntCall(mark: number, result: number): void {
    const n = this.compact[mark + 2];
    this.compact[mark + 3 + n] = result;
    this.compactLen = mark + 4 + n;
    this.compactCount++;
  }

  /** A small number standing for `s` in compact calls (stable for this trace's lifetime). */
  stringId(s: string): number {
    // Consecutive calls mostly come from the same process for the same capability.
    if (s === this.lastString) return this.lastStringId;
    if (s === this.prevString) return this.prevStringId;
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    this.prevString = this.lastString;
    this.prevStringId = this.lastStringId;
    this.lastString = s;
    this.lastStringId = id;
    return id;
  }

  /** Turns the compact calls recorded since the last read into events, in order. */
  private flush(): void {
    if (this.compactCount === 0) return;
    for (const b of this.fullBlocks) this.flushBlock(b.words, b.len);
    this.flushBlock(this.compact, this.compactLen);
    this.fullBlocks.length = 0;
    this.compactLen = 0;
    this.compactCount = 0;
  }

  private flushBlock(c: Int32Array, len: number): void {
    for (let at = 0; at < len; ) {
      const n = c[at + 2];
      const args: number[] = [];
      for (let i = 0; i < n; i++) args.push(c[at + 3 + i]);
      this.list.push({ kind: "cap", cap: this.strings[c[at]], path: this.strings[c[at + 1]], args, result: c[at + 3 + n] });
      at += 4 + n;
    }
  }

  get length(): number {
    return this.list.length + this.compactCount;
  }

  at(i: number): TraceEvent {
    this.flush();
    return this.list[i];
  }

  events(): readonly TraceEvent[] {
    this.flush();
    return this.list;
  }

  /** The chain's head h_n (32 zero bytes for an empty trace). */
  head(): Uint8Array {
    this.seal();
    return this.full;
  }

  headHex(): string {
    return bytesToHex(this.head());
  }

  /** Head of the execution chain (host refuel/resume left out). */
  execHead(): Uint8Array {
    this.seal();
    return this.exec;
  }

  /** The link event i carries (h_i for host actions, the execution chain's digest otherwise). */
  link(i: number): Uint8Array {
    this.seal();
    return this.links[i];
  }

  /** The full chain's digest before event i: h_{i} of the spec's 1-based numbering, i.e. after events 0..i-1. */
  digestBefore(i: number): string {
    let h: Uint8Array = GENESIS;
    this.flush();
    for (let k = 0; k < i && k < this.list.length; k++) h = chain(h, encodeEvent(this.list[k]));
    return bytesToHex(h);
  }

  /** The wire form of the events (sealed), oldest first. */
  wireEvents(): WireEvent[] {
    this.seal();
    return this.wire;
  }

  /** Encodes and hashes every event recorded since the last seal. */
  private seal(): void {
    this.flush();
    const from = this.wire.length;
    const n = this.list.length;
    if (from === n) return;
    const w = new WireWriter();
    const ends: number[] = [];
    const fields: WireValue[][] = [];
    for (let i = from; i < n; i++) {
      const f = eventFields(this.list[i]);
      fields.push(f);
      w.value(f);
      ends.push(w.length());
    }
    const all = join(w.parts(), w.length());
    let at = 0;
    for (let k = 0; k < fields.length; k++) {
      const bytes = all.subarray(at, ends[k]);
      at = ends[k];
      this.full = chain(this.full, bytes);
      let link: Uint8Array;
      if (HOST_EVENT_KINDS.has(fields[k][0] as string)) link = this.full;
      else link = this.exec = chain(this.exec, bytes);
      this.links.push(link);
      this.wire.push([...(fields[k] as [string, ...WireValue[]]), link]);
    }
  }

  /** A trace whose events were checked against their recorded links and head. */
  static checked(events: TraceEvent[], wire: WireEvent[], links: Uint8Array[], full: Uint8Array, exec: Uint8Array): Trace {
    const t = new Trace();
    // One push per element: spreading a long trace into push() would overflow the host stack.
    for (const e of events) t.list.push(e);
    for (const w of wire) t.wire.push(w);
    for (const l of links) t.links.push(l);
    t.full = full;
    t.exec = exec;
    return t;
  }
}

/** How many calls of each capability family the trace holds (answered or refused). */
export function callCounts(trace: Trace): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of trace.events()) if (e.kind === "cap" || e.kind === "cap_error") counts.set(e.cap, (counts.get(e.cap) ?? 0) + 1);
  return counts;
}

/** The image's trace slot for a trace: a live view, always current. */
export function traceToWire(trace: Trace): TraceSlot {
  return {
    get head(): Uint8Array {
      return trace.head();
    },
    get events(): WireEvent[] {
      return trace.wireEvents();
    },
  };
}

// --- decoding untrusted traces -----------------------------------------

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
    if (typeof x === "number") return this.int(x, -0x80000000, 0x7fffffff, what);
    return this.words(x, what);
  }

  list(x: unknown, max: number, what: string): unknown[] {
    if (!Array.isArray(x) || x.length > max) this.fail(`${what} must be a list of at most ${max}`);
    return x as unknown[];
  }

  names(x: unknown, what: string): string[] {
    const out = this.list(x, TRACE_LIMITS.grants, what).map((s) => this.str(s, TRACE_LIMITS.grant, what));
    for (let i = 1; i < out.length; i++) if (!(out[i - 1] < out[i])) this.fail(`${what} must be sorted and distinct`);
    return out;
  }

  types(x: unknown, what: string): ValueType[] {
    const s = this.str(x, 16, what);
    if (!/^[ia]*$/.test(s)) this.fail(`${what} must be letters i (int) and a (array)`);
    return [...s].map((c) => (c === "i" ? "int" : "array"));
  }
}

const ARITY: Readonly<Record<string, number>> = {
  start: 10,
  cap: 5,
  cap_error: 5,
  refuel: 3,
  resume: 1,
  interrupt: 2,
  answer: 2,
  narrow: 2,
};

/** Reads one wire event [kind, ...fields, link] (untrusted). */
function readEvent(x: unknown, i: number, where: string): { event: TraceEvent; link: Uint8Array } {
  const r: EventReader = new EventReader(i, where);
  if (!Array.isArray(x) || x.length === 0) r.fail("must be an array starting with its kind");
  const f = x as unknown[];
  const kind = r.str(f[0], 16, "kind");
  const arity = ARITY[kind];
  if (arity === undefined) r.fail(`unknown kind '${kind}'`);
  if (f.length !== arity + 1) r.fail(`a ${kind} event has ${arity} fields and a link, not ${f.length} values`);
  const link = f[arity];
  if (!(link instanceof Uint8Array) || link.length !== DIGEST_BYTES) r.fail(`its link must be a ${DIGEST_BYTES}-byte digest`);
  let event: TraceEvent;
  switch (kind) {
    case "start": {
      const host = r.list(f[6], TRACE_LIMITS.hostCaps, "host capabilities").map((h) => {
        const t = r.list(h, 3, "a host capability");
        if (t.length !== 3) r.fail("a host capability is [name, args, result]");
        const result = r.types(t[2], "result type");
        if (result.length !== 1) r.fail("a result type is one letter");
        return { name: r.str(t[0], TRACE_LIMITS.name, "capability name"), sig: { args: r.types(t[1], "argument types"), result: result[0] } };
      });
      for (let k = 1; k < host.length; k++) if (!(host[k - 1].name < host[k].name)) r.fail("host capabilities must be sorted and distinct");
      event = {
        kind,
        module: r.str(f[1], 64, "module digest"),
        linked: r.names(f[2], "linked modules"),
        entry: r.int(f[3], 0, 0xffffff, "entry"),
        args: r.words(f[4], "program arguments"),
        grants: r.names(f[5], "grants"),
        host,
        policy: r.str(f[7], TRACE_LIMITS.text, "policy"),
        maxDepth: r.int(f[8], 0, 0x7fffffff, "maxDepth"),
        memMax: r.int(f[9], 0, 0x7fffffff, "memMax"),
      };
      break;
    }
    case "cap":
    case "cap_error": {
      const path = r.str(f[1], TRACE_LIMITS.path, "process path");
      if (!/^0(\.[0-9]+)*$/.test(path)) r.fail(`'${path.slice(0, 40)}' is not a process path`);
      const cap = r.str(f[2], TRACE_LIMITS.name, "capability");
      const args = r.list(f[3], TRACE_LIMITS.args, "arguments").map((a, k) => r.value(a, `argument ${k}`));
      event =
        kind === "cap"
          ? { kind, path, cap, args, result: r.value(f[4], "result") }
          : { kind, path, cap, args, error: r.str(f[4], TRACE_LIMITS.text, "error message") };
      break;
    }
    case "refuel":
      event = { kind, gas: r.int(f[1], 0, Number.MAX_SAFE_INTEGER, "gas"), mem: r.int(f[2], 0, Number.MAX_SAFE_INTEGER, "mem") };
      break;
    case "resume":
      event = { kind };
      break;
    case "interrupt":
      event = { kind, gas: r.int(f[1], 0, Number.MAX_SAFE_INTEGER, "gas") };
      break;
    case "answer":
      event = { kind, value: r.int(f[1], -0x80000000, 0x7fffffff, "value") };
      break;
    default:
      event = { kind: "narrow", grants: r.names(f[1], "grants") };
  }
  return { event, link: Uint8Array.from(link) };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
  // Encode every event in one writer, then walk both chains.
  const w = new WireWriter();
  const ends: number[] = [];
  for (const e of events) {
    w.value(eventFields(e));
    ends.push(w.length());
  }
  const all = join(w.parts(), w.length());
  const links: Uint8Array[] = [];
  const wire: WireEvent[] = [];
  let full: Uint8Array = GENESIS;
  let exec: Uint8Array = GENESIS;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const event = events[i];
    const bytes = all.subarray(at, ends[i]);
    at = ends[i];
    full = chain(full, bytes);
    const host = isHostEvent(event);
    if (!host) exec = chain(exec, bytes);
    const expected = host ? full : exec;
    if (!same(expected, recorded[i]))
      throw new TraceError(
        i,
        "trace.broken_link",
        `trace event ${i} (${event.kind}) does not match its link: recorded ${bytesToHex(recorded[i]).slice(0, 16)}…, computed ${bytesToHex(expected).slice(0, 16)}…`,
        where,
      );
    links.push(expected);
    wire.push(slot.events[i]);
  }
  if (!same(full, slot.head))
    throw new TraceError(
      n,
      "trace.broken_head",
      `the trace head ${bytesToHex(slot.head).slice(0, 16)}… does not match its ${n} events (${bytesToHex(full).slice(0, 16)}…): events are missing at the end`,
      where,
    );
  return Trace.checked(events, wire, links, full, exec);
}

/** One line for an event, for messages and audit listings. */
export function describeEvent(e: TraceEvent): string {
  const v = (x: CapValue): string => (typeof x === "number" ? String(x) : `[${x.length} words]`);
  switch (e.kind) {
    case "start":
      return `start module ${e.module.slice(0, 12)} entry #${e.entry} args (${Array.from(e.args).join(", ")}) grants [${e.grants.join(", ")}]`;
    case "cap":
      return `${e.path} ${e.cap}(${e.args.map(v).join(", ")}) -> ${v(e.result)}`;
    case "cap_error":
      return `${e.path} ${e.cap}(${e.args.map(v).join(", ")}) refused: ${e.error}`;
    case "refuel":
      return `host refuel +${e.gas} gas +${e.mem} words`;
    case "resume":
      return "host resume";
    case "interrupt":
      return `host interrupt at ${e.gas} gas`;
    case "answer":
      return `host answer ${e.value}`;
    case "narrow":
      return `host narrow grants to [${e.grants.join(", ")}]`;
  }
}
