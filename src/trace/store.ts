// The trace as it is recorded (DESIGN §5): its events in order, with the
// common one, a call with int arguments and an int result, kept compact while
// the guest runs (no object per call, nothing for the GC to trace). A compact
// call becomes a CapEvent when the trace is next read.
//
// Hashing is lazy: recording stores the event; encoding and hashing (chain.ts)
// happen when the head, a link or the wire form is first needed (writing an
// image, audit), so tracing costs the hot path almost nothing.

import { bytesToHex } from "@noble/hashes/utils";
import type { CapValue } from "../caps/registry.js";
import type { TraceEvent as WireEvent, TraceSlot } from "../image/format.js";
import { Chain, digestBefore } from "./chain.js";
import { isCallEvent, type TraceEvent } from "./events.js";

// One compact call, in consecutive words: [cap id, path id, n, arg_0 .. arg_n-1, result].
const AT_CAP = 0;
const AT_PATH = 1;
const AT_COUNT = 2;
const AT_ARGS = 3;
/** Words of the entry of a call with n arguments: AT_ARGS + n + 1 (the result). */
const ENTRY_WORDS = AT_ARGS + 1;

/** The first block of compact calls, in words (most traces are short). */
const FIRST_BLOCK = 256;
const NO_WORDS = new Int32Array(0);

/** Largest block of compact calls, in words (64 KiB). */
const COMPACT_BLOCK = 16_384;

export class Trace {
  private readonly list: TraceEvent[] = [];
  // Compact calls fill fixed-size blocks (a full block is kept, never copied or regrown).
  // Allocated at the first compact call (a trace read from an image may never record one).
  private compact = NO_WORDS;
  private compactLen = 0;
  private compactCount = 0;
  /** Full blocks before `compact`, with the words used in each. */
  private readonly fullBlocks: { words: Int32Array; len: number }[] = [];
  private readonly strings: string[] = [];
  // Made at the first string interned (a trace read from an image may never intern one).
  private stringIds: Map<string, number> | null = null;
  private lastString: string | null = null;
  private lastStringId = -1;
  private prevString: string | null = null;
  private prevStringId = -1;
  private chain = new Chain();

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
    if (this.compact === NO_WORDS) this.compact = new Int32Array(Math.max(FIRST_BLOCK, ENTRY_WORDS + n));
    else if (mark + ENTRY_WORDS + n > this.compact.length) {
      this.fullBlocks.push({ words: this.compact, len: mark });
      // Blocks start small (most traces are short) and grow to COMPACT_BLOCK.
      this.compact = new Int32Array(Math.max(Math.min(COMPACT_BLOCK, this.compact.length * 2), ENTRY_WORDS + n));
      this.compactLen = mark = 0;
    }
    const c = this.compact;
    c[mark + AT_CAP] = capId;
    c[mark + AT_PATH] = pathId;
    c[mark + AT_COUNT] = n;
    for (let i = 0; i < n; i++) c[mark + AT_ARGS + i] = args[i];
    return mark;
  }

  /** The arguments recorded at `mark` (a call begun and not yet committed). */
  intCallArgs(mark: number): number[] {
    const n = this.compact[mark + AT_COUNT];
    return Array.from(this.compact.subarray(mark + AT_ARGS, mark + AT_ARGS + n));
  }

  /** Completes a call begun with beginIntCall. */
  commitIntCall(mark: number, result: number): void {
    const n = this.compact[mark + AT_COUNT];
    this.compact[mark + AT_ARGS + n] = result;
    this.compactLen = mark + ENTRY_WORDS + n;
    this.compactCount++;
  }

  /** A small number standing for `s` in compact calls (stable for this trace's lifetime). */
  stringId(s: string): number {
    // Consecutive calls mostly come from the same process for the same capability.
    if (s === this.lastString) return this.lastStringId;
    if (s === this.prevString) return this.prevStringId;
    const ids = (this.stringIds ??= new Map());
    let id = ids.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      ids.set(s, id);
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
      const n = c[at + AT_COUNT];
      const args: number[] = [];
      for (let i = 0; i < n; i++) args.push(c[at + AT_ARGS + i]);
      this.list.push({ kind: "cap", cap: this.strings[c[at + AT_CAP]], path: this.strings[c[at + AT_PATH]], args, result: c[at + AT_ARGS + n] });
      at += ENTRY_WORDS + n;
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

  /** Hashes every event recorded since the last seal. */
  private sealed(): Chain {
    this.flush();
    this.chain.extend(this.list);
    return this.chain;
  }

  /** The chain's head h_n (32 zero bytes for an empty trace). */
  head(): Uint8Array {
    return this.sealed().head();
  }

  headHex(): string {
    return bytesToHex(this.head());
  }

  /** Head of the execution chain (host actions left out). */
  execHead(): Uint8Array {
    return this.sealed().execHead();
  }

  /** The link event i carries (h_i for host actions, the execution chain's digest otherwise). */
  link(i: number): Uint8Array {
    return this.sealed().link(i);
  }

  /** The full chain's digest before event i: h_{i} of the spec's 1-based numbering, i.e. after events 0..i-1. */
  digestBefore(i: number): string {
    return digestBefore(this.events(), i);
  }

  /** The wire form of the events (sealed), oldest first. */
  wireEvents(): WireEvent[] {
    return this.sealed().wireEvents(this.list);
  }

  /** A trace of events already checked against their recorded chain (decode.ts). */
  static checked(events: readonly TraceEvent[], chain: Chain): Trace {
    const t = new Trace();
    // One push per element: spreading a long trace into push() would overflow the host stack.
    for (const e of events) t.list.push(e);
    t.chain = chain;
    return t;
  }
}

/** How many calls of each capability family the trace holds (answered or refused). */
export function callCounts(trace: Trace): ReadonlyMap<string, number> {
  let counts: Map<string, number> | null = null;
  for (const e of trace.events()) if (isCallEvent(e)) (counts ??= new Map<string, number>()).set(e.cap, (counts.get(e.cap) ?? 0) + 1);
  return counts ?? NO_CALLS;
}

/** The counts of a trace without calls (shared: read only). */
const NO_CALLS: ReadonlyMap<string, number> = new Map<string, number>();

/** The image's trace slot for a trace: a live view, always current. */
export function traceToWire(trace: Trace): TraceSlot {
  return new LiveSlot(trace);
}

/** traceToWire's view (a class: its getters are made once, not per view). */
class LiveSlot implements TraceSlot {
  constructor(private readonly trace: Trace) {}
  get head(): Uint8Array {
    return this.trace.head();
  }
  get events(): WireEvent[] {
    return this.trace.wireEvents();
  }
}
