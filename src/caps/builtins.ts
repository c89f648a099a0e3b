// The built-in host capabilities (DESIGN §4), assembled into one registry:
//
//   io.print(text) -> 0          one line of code points to stdout
//   io.read() -> text            the next line of stdin with its "\n"; [] at end of input
//                                (a line longer than the caller's headroom faults it cap_failed)
//   clock.now() -> ms            a wrapping 32-bit millisecond tick counter
//   random.u32() -> word         32 random bits
//   kv.get(key) -> value / kv.put(key, value) -> 0        (see kv.ts)
//   fs.read/write/stat/list/mkdir/remove/rename           (see fs.ts)
//
// clock.now and random.u32 are virtual unless the caller holds the `:real`
// grant (`clock.now:real`, `random.u32:real`): the virtual clock reads 0, 1,
// 2, ... (one millisecond per read), the virtual generator's k-th word is a
// fixed function of the policy's seed and k. The counters k live in a
// CallCounters object the Session rebuilds from the trace after a migration,
// so a resumed run continues the same sequence. Either way every result is
// recorded in the trace.

import { readSync } from "node:fs";
import { kvHandlers, KvStore } from "./kv.js";
import { fsHandlers } from "./fs.js";
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

/** Where a host sends guest output and takes its input. */
export interface HostIO {
  stdout(text: string): void;
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
  private readonly counts = new Map<string, number>();

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
    return this.counts.get(family) ?? 0;
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
}

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
  const kv = kvHandlers(opts.kv ?? new KvStore());
  for (const name of Object.keys(kv).sort()) reg.register(name, kv[name]);
  const fs = fsHandlers();
  for (const name of Object.keys(fs).sort()) reg.register(name, fs[name]);
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
