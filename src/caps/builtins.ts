// The built-in host capabilities (DESIGN §4), assembled into one registry:
//
//   io.print(text) -> 0          one line of code points to stdout
//   io.read() -> text            the next line of stdin with its "\n"; [] at end of input
//                                (a line longer than the caller's headroom faults it cap_failed)
//   clock.now() -> ms            a wrapping 32-bit millisecond tick counter
//   random.u32() -> word         32 random bits
//   io.eprint(text) -> 0         one line of code points to stderr (HostIO.stderr)
//   random.bytes(n) -> bytes     n random bytes, one per word (0..255), n <= RANDOM_BYTES_MAX
//   clock.mono() -> ms           a monotonic millisecond clock (wrapping 32-bit)
//   clock.sleep(ms) -> 0         advances the virtual clock by ms; with :real, waits ms (async)
//   log.write(level, text) -> 0  a log record (0 debug .. 3 error) to the host (HostIO.log)
//   env.get(key) -> text         a host environment variable granted by name (env.get:KEY); [] if unset
//   net.fetch(url) -> response   [status, body bytes...] of a GET to a granted origin (see net.ts)
//   kv.get(key) -> value / kv.put(key, value) -> 0        (see kv.ts)
//   fs.read/write/stat/list/mkdir/remove/rename           (see fs.ts)
//
// clock.now, clock.mono, clock.sleep, random.u32 and random.bytes are virtual unless the caller holds the `:real`
// grant (`clock.now:real`, `random.u32:real`): the virtual clock reads 0, 1,
// 2, ... (one millisecond per read), the virtual generator's k-th word is a
// fixed function of the policy's seed and k. The counters k live in a
// CallCounters object the Session rebuilds from the trace after a migration,
// so a resumed run continues the same sequence. Either way every result is
// recorded in the trace.

import { readSync } from "node:fs";
import { kvHandlers, KvStore } from "./kv.js";
import { fsHandlers, type Mount } from "./fs.js";
import { netHandlers } from "./net.js";
import {
  CapRegistry,
  RESULT_MAX,
  codePointCount,
  codePointsToText,
  textToCodePoints,
  type CapContext,
  type CapHandler,
  type CapSignature,
  type CapValue,
} from "./registry.js";
import { BUILTIN_NAMES, BUILTIN_SIGNATURES } from "./signatures.js";
import { logLevel, type LogRecord } from "./log.js";

/** Where a host sends guest output and takes its input. */
export interface HostIO {
  stdout(text: string): void;
  /** Where io.eprint writes. Default: nowhere. */
  stderr?(text: string): void;
  /** Where log.write's records go. Default: nowhere (they are still recorded in the trace). */
  log?(record: LogRecord): void;
  /**
   * The next line of input with its "\n" (the last may lack it); null at end
   * of input. Default: none. `max` is the most code points the caller can
   * receive: a reader that knows it (fdLines) reads no further than that
   * allows and throws for a longer line; io.read refuses a longer one anyway.
   */
  stdin?(max?: number): string | null;
}

/** Per-family call counts driving the virtual clock, the virtual generator and mocks. */
export class CallCounters {
  /** Made at the first count set (a session that makes no call and continues none makes none). */
  private map: Map<string, number> | null = null;
  private get counts(): Map<string, number> {
    return (this.map ??= new Map<string, number>());
  }

  /** The count for `family`, then increments it. */
  next(family: string): number {
    const k = this.counts.get(family) ?? 0;
    this.counts.set(family, k + 1);
    return k;
  }

  set(family: string, n: number): void {
    this.counts.set(family, n);
  }

  get(family: string): number {
    return this.map?.get(family) ?? 0;
  }
}

/** A mocked capability: the k-th call returns results[k mod n] (arrays are copied). */
export interface MockSpec {
  readonly results: readonly CapValue[];
  readonly sig: CapSignature;
}

export interface BuiltinOptions {
  io: HostIO;
  /** Seed of the virtual random generator. Default 0. */
  seed?: number;
  counters?: CallCounters;
  /** The kv store. Default: an empty in-memory one. */
  kv?: KvStore;
  /** Host directories mounted into the file tree (fs.ts). Default: none. */
  mounts?: readonly Mount[];
  /** Reads a host environment variable (undefined when unset). Default: process.env. */
  env?: (key: string) => string | undefined;
  /** Deadline of one net.fetch call in milliseconds. Default NET_TIMEOUT_MS (net.ts). */
  netTimeout?: number;
}

/** Most bytes one random.bytes call returns. */
export const RANDOM_BYTES_MAX = 65536;
/** Longest clock.sleep, in milliseconds (setTimeout's limit). */
export const SLEEP_MAX = 0x7fffffff;

/**
 * The virtual generator's bytes for the k-th random.bytes call: byte i is
 * byte (i mod 4) of word i/4 of a stream keyed by the seed and k, distinct
 * from random.u32's stream.
 */
export function virtualBytes(seed: number, k: number, n: number): Int32Array {
  const key = virtualRandom(seed ^ 0x62797465, k);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = (virtualRandom(key, i >>> 2) >>> ((i & 3) * 8)) & 0xff;
  return out;
}

/**
 * The counter holding the virtual monotonic clock's time (no family has this
 * name, so mocks keep their own counts): each clock.mono read advances it by
 * one millisecond, each clock.sleep(ms) by ms.
 */
export const VIRTUAL_TIME = "clock.mono#time";

/** A 32-bit finalizer (murmur3 fmix32): a bijection that mixes every input bit into every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** The virtual generator's k-th word for a seed. */
export function virtualRandom(seed: number, k: number): number {
  return fmix32(fmix32(seed | 0) ^ fmix32(Math.imul(k | 0, 0x9e3779b9) + 0x7f4a7c15));
}

/** The real clock as a wrapping 32-bit millisecond counter. */
function realClock(): number {
  return (Date.now() % 2 ** 32) | 0;
}

/** The host's monotonic clock as a wrapping 32-bit millisecond counter. */
function realMono(): number {
  return Number((process.hrtime.bigint() / 1_000_000n) % 4_294_967_296n) | 0;
}

function realRandom(): number {
  return crypto.getRandomValues(new Int32Array(1))[0];
}

const isReal = (ctx: CapContext): boolean => ctx.scopes.includes("real");

/** Bytes read from the input at a time. */
const READ_CHUNK = 65536;

/**
 * A line reader over a byte source: `read(buf)` fills `buf` and returns the
 * number of bytes, 0 at end of input. Each call returns the next line with
 * its "\n" (the last may lack it), or null at end of input.
 *
 * A call given `max` returns only a line of at most `max` code points: a
 * longer one throws, and stays unread (a later call with more room gets it
 * whole). The reader holds at most 4 * max + READ_CHUNK bytes for that (a
 * code point is at most 4 bytes), so what the host allocates is bounded by
 * what the guest can receive. Every byte is read and searched for "\n" once:
 * time is linear in the input, however long its lines.
 */
export function lineReader(read: (buf: Buffer) => number): (max?: number) => string | null {
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  // Unconsumed input, in order; `pending` bytes in all.
  const chunks: Buffer[] = [];
  let pending = 0;
  // Where the search for "\n" resumes: chunk index, offset in it, and the bytes in the chunks before
  // it (which hold none).
  let scanAt = 0;
  let scanOff = 0;
  let scanBase = 0;
  let eof = false;
  let first = true;
  const bom = new TextDecoder("utf-8");
  const plain = new TextDecoder("utf-8", { ignoreBOM: true });

  /** Offset in the pending input just past the next "\n", or -1. */
  const findLine = (): number => {
    for (; scanAt < chunks.length; scanAt++, scanOff = 0) {
      const c = chunks[scanAt];
      const at = c.indexOf(10, scanOff);
      if (at >= 0) {
        scanOff = at;
        return scanBase + at + 1;
      }
      scanBase += c.length;
    }
    return -1;
  };

  /** The first n pending bytes as one buffer (not consumed). */
  const peek = (n: number): Buffer => {
    if (chunks[0].length >= n) return chunks[0].subarray(0, n);
    const parts: Buffer[] = [];
    for (let i = 0, left = n; left > 0; i++) {
      const c = chunks[i];
      parts.push(c.length <= left ? c : c.subarray(0, left));
      left -= c.length;
    }
    return Buffer.concat(parts, n);
  };

  const consume = (n: number): void => {
    pending -= n;
    while (n > 0) {
      const c = chunks[0];
      if (c.length <= n) {
        chunks.shift();
        n -= c.length;
      } else {
        chunks[0] = c.subarray(n);
        n = 0;
      }
    }
    scanAt = 0;
    scanOff = 0;
    scanBase = 0;
  };

  /** The first n pending bytes as a line of at most `max` code points, consumed; throws (consuming nothing) if longer. */
  const line = (n: number, max: number): string => {
    const text = (first ? bom : plain).decode(peek(n));
    const count = codePointCount(text);
    if (count > max) throw new Error(`line of ${count} characters exceeds memory headroom (${max} words)`);
    consume(n);
    first = false;
    return text;
  };

  return (max = RESULT_MAX) => {
    for (;;) {
      const end = findLine();
      if (end >= 0) return line(end, max);
      if (eof) return pending === 0 ? null : line(pending, max);
      // No "\n" in more than 4 * max bytes: more than max code points, whatever they are.
      if (pending > 4 * max) throw new Error(`line longer than ${max} characters exceeds memory headroom`);
      const n = read(buf);
      if (n === 0) eof = true;
      else {
        chunks.push(Buffer.from(buf.subarray(0, n)));
        pending += n;
      }
    }
  };
}

/** A line reader (see lineReader) over a file descriptor, stdin by default, reading synchronously. */
export function fdLines(fd = 0): (max?: number) => string | null {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  return lineReader((buf) => {
    for (;;) {
      try {
        return readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          Atomics.wait(nap, 0, 0, 5); // non-blocking stdin: wait for data
          continue;
        }
        if (code === "EOF") return 0;
        throw e;
      }
    }
  });
}

/** The handler of a mocked capability. */
export function mockHandler(family: string, spec: MockSpec, counters: CallCounters): CapHandler {
  return {
    sig: spec.sig,
    call(_args, ctx) {
      const k = counters.next(family);
      const r = spec.results[k % spec.results.length];
      if (typeof r === "number") return r;
      if (r.length > ctx.maxWords) throw new Error(`result of ${r.length} words exceeds memory headroom`);
      return r.slice();
    },
  };
}

/** Every built-in capability. Registering grants nothing: a process still needs the grant. */
export function builtinRegistry(opts: BuiltinOptions): CapRegistry {
  const counters = opts.counters ?? new CallCounters();
  const seed = opts.seed ?? 0;
  const io = opts.io;
  const reg = new CapRegistry();
  const sig = (n: string): CapSignature => BUILTIN_SIGNATURES[n];
  reg.register("io.print", {
    sig: sig("io.print"),
    call(args) {
      io.stdout(codePointsToText(args[0] as Int32Array) + "\n");
      return 0;
    },
  });
  reg.register("io.read", {
    sig: sig("io.read"),
    call(_args, ctx) {
      const line = io.stdin ? io.stdin(ctx.maxWords) : null;
      if (line === null) return new Int32Array(0);
      const n = codePointCount(line);
      if (n > ctx.maxWords) throw new Error(`line of ${n} characters exceeds memory headroom (${ctx.maxWords} words)`);
      return textToCodePoints(line);
    },
  });
  reg.register("clock.now", {
    sig: sig("clock.now"),
    call(_args, ctx) {
      const k = counters.next("clock.now");
      return isReal(ctx) ? realClock() : k | 0;
    },
  });
  reg.register("random.u32", {
    sig: sig("random.u32"),
    call(_args, ctx) {
      const k = counters.next("random.u32");
      return isReal(ctx) ? realRandom() : virtualRandom(seed, k);
    },
  });
  reg.register("io.eprint", {
    sig: sig("io.eprint"),
    call(args) {
      io.stderr?.(codePointsToText(args[0] as Int32Array) + "\n");
      return 0;
    },
  });
  reg.register("random.bytes", {
    sig: sig("random.bytes"),
    call(args, ctx) {
      const n = args[0] as number;
      // Counted even when refused, as the trace counts it (a resumed run continues the same stream).
      const k = counters.next("random.bytes");
      if (n < 0 || n > RANDOM_BYTES_MAX) throw new Error(`cannot give ${n} bytes: from 0 to ${RANDOM_BYTES_MAX} per call`);
      if (n > ctx.maxWords) throw new Error(`result of ${n} words exceeds memory headroom (${ctx.maxWords} words)`);
      if (!isReal(ctx)) return virtualBytes(seed, k, n);
      return Int32Array.from(crypto.getRandomValues(new Uint8Array(n)));
    },
  });
  reg.register("clock.mono", {
    sig: sig("clock.mono"),
    call(_args, ctx) {
      const t = counters.next(VIRTUAL_TIME);
      return isReal(ctx) ? realMono() : t | 0;
    },
  });
  reg.register("clock.sleep", {
    sig: sig("clock.sleep"),
    call(args, ctx) {
      const ms = args[0] as number;
      if (ms < 0 || ms > SLEEP_MAX) throw new Error(`cannot sleep ${ms} ms: from 0 to ${SLEEP_MAX}`);
      counters.set(VIRTUAL_TIME, counters.get(VIRTUAL_TIME) + ms);
      if (!isReal(ctx)) return 0;
      // The real wait never blocks the event loop: an async call (Session.runAsync). It ends early
      // (still 0) when the run's signal is aborted, and the run then stops at its next slice.
      const signal = ctx.signal;
      if (signal?.aborted === true) return Promise.resolve(0);
      return new Promise<CapValue>((done) => {
        const stop = (): void => {
          clearTimeout(timer);
          done(0);
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener("abort", stop);
          done(0);
        }, ms);
        signal?.addEventListener("abort", stop, { once: true });
      });
    },
  });
  reg.register("log.write", {
    sig: sig("log.write"),
    call(args, ctx) {
      const level = logLevel(args[0] as number);
      io.log?.({ type: "log", level, path: ctx.path, text: codePointsToText(args[1] as Int32Array) });
      return 0;
    },
  });
  const env = opts.env ?? ((key: string) => process.env[key]);
  reg.register("env.get", {
    sig: sig("env.get"),
    call(args, ctx) {
      const key = codePointsToText(args[0] as Int32Array);
      // Only a variable granted by name, at every level of the caller's chain.
      if (!ctx.chain.every((level) => level.includes(key))) throw new Error(`the environment variable '${key.slice(0, 256)}' is not granted`);
      const value = env(key) ?? "";
      const n = codePointCount(value);
      if (n > ctx.maxWords) throw new Error(`value of ${n} characters exceeds memory headroom (${ctx.maxWords} words)`);
      return textToCodePoints(value);
    },
  });
  const kv = kvHandlers(opts.kv ?? new KvStore());
  for (const name of Object.keys(kv).sort()) reg.register(name, kv[name]);
  const fs = fsHandlers(opts.mounts ?? []);
  for (const name of Object.keys(fs).sort()) reg.register(name, fs[name]);
  const net = netHandlers({ timeout: opts.netTimeout });
  for (const name of Object.keys(net).sort()) reg.register(name, net[name]);
  return reg;
}

/**
 * Built-ins whose calls change something outside the process tree: files in
 * host directories, and the kv store when it is a host file (in memory, its
 * puts are state that travels in the trace). A run resumed from an image
 * taken before such a call makes it again (spec/distributed.md).
 */
export const HOST_EFFECTS: ReadonlySet<string> = new Set(BUILTIN_NAMES.filter((n) => BUILTIN_SIGNATURES[n].effect));

/** The VM core's minimal registry: io.print only. */
export function builtinCaps(io: HostIO): CapRegistry {
  const all = builtinRegistry({ io });
  return new CapRegistry().register("io.print", all.get("io.print") as CapHandler);
}
