// The built-in host capabilities (DESIGN §4), assembled into one registry:
//
//   io.print(text) -> 0          one line of code points to stdout
//   io.read() -> text            the next line of stdin with its "\n"; [] at end of input
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
  codePointsToText,
  textToCodePoints,
  type CapContext,
  type CapHandler,
  type CapSignature,
  type CapValue,
} from "./registry.js";
import { BUILTIN_SIGNATURES } from "./signatures.js";

/** Where a host sends guest output and takes its input. */
export interface HostIO {
  stdout(text: string): void;
  /** The next line of input with its "\n" (the last may lack it); null at end of input. Default: none. */
  stdin?(): string | null;
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

/** A line reader over a file descriptor (stdin by default), reading synchronously. */
export function fdLines(fd = 0): () => string | null {
  const chunk = Buffer.alloc(65536);
  const decoder = new TextDecoder("utf-8");
  let buf = "";
  let eof = false;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  return () => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl + 1);
        buf = buf.slice(nl + 1);
        return line;
      }
      if (eof) {
        if (buf === "") return null;
        const last = buf;
        buf = "";
        return last;
      }
      let n = 0;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          Atomics.wait(nap, 0, 0, 5); // non-blocking stdin: wait for data
          continue;
        }
        if (code !== "EOF") throw e;
      }
      if (n === 0) {
        eof = true;
        buf += decoder.decode();
      } else buf += decoder.decode(chunk.subarray(0, n), { stream: true });
    }
  };
}

/** The handler of a mocked capability. */
export function mockHandler(family: string, spec: MockSpec, counters: CallCounters): CapHandler {
  return {
    sig: spec.sig,
    call() {
      const k = counters.next(family);
      const r = spec.results[k % spec.results.length];
      return typeof r === "number" ? r : r.slice();
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
    call() {
      const line = io.stdin ? io.stdin() : null;
      return line === null ? new Int32Array(0) : textToCodePoints(line);
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

/** The VM core's minimal registry: io.print only. */
export function builtinCaps(io: HostIO): CapRegistry {
  const all = builtinRegistry({ io });
  return new CapRegistry().register("io.print", all.get("io.print") as CapHandler);
}
