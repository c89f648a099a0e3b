// The hash chain of a trace (spec/trace-format.md §3): h_0 = 32 zero bytes,
// h_i = sha256(h_{i-1} || enc(e_i)); the trace's head is h_n. Refuel, resume
// and interrupt are host actions that an execution does not observe, so the
// execution-state digest must leave them out; every other event also extends
// the execution chain x (x_0 = zeros, x_k = sha256(x_{k-1} || enc(e))). On
// the wire each event carries one link: h_i for host actions, x for the
// others. That link lets a checker name the first event that does not match,
// and keeps execution events independent of when the host suspended the run.
//
// A Chain is extended over events already recorded (a Trace seals lazily,
// when its head, a link or its wire form is first needed) or rebuilt from an
// untrusted slot, checking every recorded link and the head (verified).

import { bytesToHex } from "@noble/hashes/utils";
import { sha256Chunks, sha256Link } from "../vm/sha256.js";
import { DIGEST_BYTES, type TraceEvent as WireEvent, type WireValue } from "../image/format.js";
import { WireWriter, join, sameBytes, sameRange } from "../image/wire.js";
import { RarError, type ErrorKey } from "../vm/errors.js";
import { encodeEvent, eventFields, isHostEvent, type TraceEvent } from "./events.js";

/** h_0 and x_0: the head of an empty trace. */
const GENESIS: Uint8Array = new Uint8Array(DIGEST_BYTES);

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

/** node:crypto's SHA-256 (the same bytes as @noble/hashes', several times faster: a restore checks every link) of prev || enc. */
function link(prev: Uint8Array, enc: readonly Uint8Array[]): Uint8Array {
  return enc.length <= 2 ? sha256Link(prev, enc[0], enc[1]) : sha256Chunks([prev, ...enc]);
}

/** enc(e) of events[from..], encoded in one writer: views of one buffer. */
export function encodeEvents(events: readonly TraceEvent[], from: number): Uint8Array[] {
  const w = new WireWriter();
  const ends: number[] = [];
  for (let i = from; i < events.length; i++) {
    w.value(eventFields(events[i]));
    ends.push(w.length());
  }
  const all = join(w.parts(), w.length());
  const bytes: Uint8Array[] = [];
  let at = 0;
  for (const end of ends) {
    bytes.push(all.subarray(at, end));
    at = end;
  }
  return bytes;
}

/**
 * The first link of the last chain begun, h_1 = sha256(zeros || enc(e_0)),
 * with the bytes it hashed: every image of a run (and every run of the same
 * program, arguments and host) starts with the same start event, the
 * largest. Bytes equal to these have this digest: compared byte for byte.
 */
let lastFirst: { enc: Uint8Array; link: Uint8Array } | null = null;

/** link(GENESIS, enc), remembered for the next chain (a fresh array either way). */
function firstLink(enc: readonly Uint8Array[]): Uint8Array {
  if (lastFirst !== null && sameChunks(enc, lastFirst.enc)) return lastFirst.link.slice();
  const l = link(GENESIS, enc);
  lastFirst = { enc: join(enc), link: l.slice() };
  return l;
}

/**
 * The first events of the last chain verified from an untrusted slot
 * (Chain.verified), up to REMEMBERED bytes of them: the bytes they hashed
 * (enc(e) one after the other, event i's ending at ends[i]) and both heads
 * after each (heads[2i], heads[2i + 1]: one array when they are equal). A
 * chain whose first events are these bytes has these heads after them (a
 * head is the SHA-256 of the one before and the event's bytes, from zeros):
 * compared byte for byte, never by a digest. Restoring an image again, or a
 * later image of the same run (its trace starts with the earlier one's),
 * hashes only the events past those.
 */
let lastChain: { enc: Uint8Array; ends: number[]; heads: Uint8Array[] } | null = null;
/** Most event bytes lastChain keeps. */
const REMEMBERED = 1 << 16;

/** How many of the first events (enc: each one's bytes, in chunks) are lastChain's, byte for byte. */
function remembered(enc: readonly (readonly Uint8Array[])[]): number {
  const m = lastChain;
  if (m === null) return 0;
  let at = 0;
  let i = 0;
  for (; i < enc.length && i < m.ends.length; i++) {
    const end = m.ends[i];
    for (const chunk of enc[i]) {
      if (at + chunk.length > end || !sameRange(chunk, 0, m.enc, at, chunk.length)) return i;
      at += chunk.length;
    }
    if (at !== end) return i;
  }
  return i;
}

/** Makes lastChain the first events of a chain just verified (`heads`: both heads after each event), up to REMEMBERED bytes of them. */
function remember(enc: readonly (readonly Uint8Array[])[], heads: readonly Uint8Array[]): void {
  const ends: number[] = [];
  let total = 0;
  for (const chunks of enc) {
    let n = 0;
    for (const chunk of chunks) n += chunk.length;
    if (total + n > REMEMBERED) break;
    ends.push((total += n));
  }
  const bytes = new Uint8Array(total);
  const kept: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < ends.length; i++) {
    for (const chunk of enc[i]) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    // Copies: the chain's own arrays go to the trace, whose caller may write to them.
    const full = heads[2 * i].slice();
    kept.push(full, sameBytes(heads[2 * i + 1], full) ? full : heads[2 * i + 1].slice());
  }
  lastChain = { enc: bytes, ends, heads: kept };
}

/** Whether the chunks' concatenation is `bytes`. */
function sameChunks(chunks: readonly Uint8Array[], bytes: Uint8Array): boolean {
  let at = 0;
  for (const c of chunks) {
    if (!sameRange(c, 0, bytes, at, c.length)) return false;
    at += c.length;
  }
  return at === bytes.length;
}

export class Chain {
  private full: Uint8Array = GENESIS;
  private exec: Uint8Array = GENESIS;
  /** Per event: its link (h or x). */
  private readonly links: Uint8Array[] = [];
  /** Per event: its wire form [kind, ...fields, link], made when first asked for (wireEvents). */
  private readonly wire: WireEvent[] = [];

  /** Events hashed so far. */
  get length(): number {
    return this.links.length;
  }

  /** Extends both chains by one event's bytes enc(e) (in chunks); returns the link the event carries. */
  private add(e: TraceEvent, enc: readonly Uint8Array[]): Uint8Array {
    const prev = this.full;
    this.full = prev === GENESIS ? firstLink(enc) : link(prev, enc);
    if (isHostEvent(e)) return this.full;
    // Until the first host action both chains are one (both start at zeros): the same digest, hashed once.
    return (this.exec = this.exec === prev ? this.full : link(this.exec, enc));
  }

  /** Hashes events[length..]: those recorded since the last extend. */
  extend(events: readonly TraceEvent[]): void {
    const from = this.links.length;
    if (from === events.length) return;
    const bytes = encodeEvents(events, from);
    for (let k = 0; k < bytes.length; k++) this.links.push(this.add(events[from + k], [bytes[k]]));
  }

  /** The trace chain's head h_n (32 zero bytes for an empty trace). */
  head(): Uint8Array {
    return this.full;
  }

  /** The execution chain's head (host actions left out). */
  execHead(): Uint8Array {
    return this.exec;
  }

  /** The link event i carries. */
  link(i: number): Uint8Array {
    return this.links[i];
  }

  /** The wire form of the events hashed so far (`events`: those hashed), oldest first. */
  wireEvents(events: readonly TraceEvent[]): WireEvent[] {
    for (let i = this.wire.length; i < this.links.length; i++) this.wire.push([...(eventFields(events[i]) as [string, ...WireValue[]]), this.links[i]]);
    return this.wire;
  }

  /**
   * The chain of decoded events, checked against what an untrusted slot
   * recorded: each event's link (`recorded[i]`) and the head. `enc[i]`: the
   * event's canonical bytes, in chunks. Throws a TraceError naming the first
   * event that does not check (index n: the head).
   */
  static verified(events: readonly TraceEvent[], recorded: readonly Uint8Array[], enc: readonly (readonly Uint8Array[])[], head: Uint8Array, where: string): Chain {
    const c = new Chain();
    const n = events.length;
    // The first `same` events are lastChain's: their heads are its heads (fresh copies, one array when equal,
    // as add() leaves them until the first host action). Past them, each event is hashed, both heads kept.
    const same = remembered(enc);
    const heads: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const event = events[i];
      let expected: Uint8Array;
      if (i < same) {
        const kept = (lastChain as NonNullable<typeof lastChain>).heads;
        const full = kept[2 * i];
        const exec = kept[2 * i + 1];
        c.full = full.slice();
        c.exec = exec === full ? c.full : exec.slice();
        expected = isHostEvent(event) ? c.full : c.exec;
      } else expected = c.add(event, enc[i]);
      if (same < n) heads.push(c.full, c.exec);
      if (!sameBytes(expected, recorded[i]))
        throw new TraceError(
          i,
          "trace.broken_link",
          `trace event ${i} (${event.kind}) does not match its link: recorded ${bytesToHex(recorded[i]).slice(0, 16)}…, computed ${bytesToHex(expected).slice(0, 16)}…`,
          where,
        );
      c.links.push(expected);
    }
    if (!sameBytes(c.full, head))
      throw new TraceError(
        n,
        "trace.broken_head",
        `the trace head ${bytesToHex(head).slice(0, 16)}… does not match its ${n} events (${bytesToHex(c.full).slice(0, 16)}…): events are missing at the end`,
        where,
      );
    if (same < n) remember(enc, heads);
    return c;
  }
}

/** The trace chain's digest after events[0..i-1] (h_i), in hex. */
export function digestBefore(events: readonly TraceEvent[], i: number): string {
  let h: Uint8Array = GENESIS;
  for (let k = 0; k < i && k < events.length; k++) h = link(h, [encodeEvent(events[k])]);
  return bytesToHex(h);
}
