// Host memory per guest word (bounded amplification): the heap and buffer
// growth of the host while a suspended tree holds its memory.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Session, StatusCode, type Module } from "../src/index.js";
import { type BenchContext, type BenchGroup, type GroupResult, BENCH_GAS, compile, fmt, median } from "./harness.js";

/** Total words of the big process's memory (its one argument word included). */
const WORDS = 1_000_000;
const CHILDREN = 2000;
const CHILD_WORDS = 64;

/** One process that grows its memory to WORDS words, writes all of them, and yields (staying alive). */
const BIG_RASM = `
.module bench_bigmem
.func main 0 1
        PUSH ${WORDS - 1}
        MGROW            ; memory = [args length] + WORDS - 1 new words
        LTEE 0
        PUSH 7
        PUSH ${WORDS - 1}
        MFILL            ; touch every word
        PUSH 0
        YIELD
        PUSH 0
        RET
`;

/** CHILDREN suspended children, each holding CHILD_WORDS words copied from the parent. */
const MANY_RASM = `
.module bench_manyproc
.func main 0 2
        PUSH ${CHILD_WORDS}
        MGROW
        POP
loop:   PUSH 0
        PUSH ${CHILD_WORDS}
        PUSH 1000
        PUSH 1000
        PUSH 0
        PUSH 0
        SPAWN child
        RESUME
        POP
        LINC 1 1
        LGET 1
        PUSH ${CHILDREN}
        LT
        JNZ loop
        PUSH 0
        YIELD
        PUSH 0
        RET

.func child 0
        PUSH 1
        YIELD
        PUSH 0
        RET
`;

let gcFn: (() => void) | null | undefined;
/** A full GC if the host lets us have one (flag set at run time, so `node main.js` needs no option). */
function collect(): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    } catch {
      gcFn = null;
    }
  }
  if (gcFn) {
    gcFn();
    gcFn();
  }
}

/** JS heap plus ArrayBuffer bytes (`external` lags behind collections; `arrayBuffers` does not). */
function hostBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Host-byte growth while one session that ran `source` is alive, and its charged footprint. */
function oneGrowth(module: Module, name: string): { bytes: number; memUsed: number } {
  collect();
  const before = hostBytes();
  const s = Session.start(module, { gas: BENCH_GAS, mem: 1 << 24, stdout: () => {} });
  const res = s.run();
  if (res.status !== "yielded") throw new Error(`bench ${name}: ended ${res.status}${res.fault ? `: ${res.fault}` : ""}`);
  collect();
  const bytes = hostBytes() - before;
  // Keep the session reachable until after the measurement.
  if (s.root.status !== StatusCode.YIELDED) throw new Error("unreachable");
  return { bytes, memUsed: res.memUsed };
}

/** Median growth over `reps` sessions, each dropped (and collected) before the next is measured. */
function growth(source: string, name: string, reps: number): { bytes: number; memUsed: number } {
  const module = compile(source, name);
  const runs: { bytes: number; memUsed: number }[] = [];
  for (let r = 0; r < reps; r++) runs.push(oneGrowth(module, name));
  return { bytes: median(runs.map((x) => x.bytes)), memUsed: runs[0].memUsed };
}

export function runHostMemory(ctx: BenchContext): GroupResult {
  const reps = Math.max(3, Math.min(ctx.reps, 5));
  ctx.progress("host memory: one process with 1M words");
  const big = growth(BIG_RASM, "bigmem", reps);
  const perWord = big.bytes / WORDS;
  ctx.progress(`host memory: ${CHILDREN} suspended children`);
  const many = growth(MANY_RASM, "manyproc", reps);
  const perProcess = many.bytes / CHILDREN;
  const perCharged = many.bytes / many.memUsed;
  const gcNote = gcFn ? "" : " (no forced GC available: figures are noisy)";
  return {
    metrics: { host_bytes_per_guest_word: perWord, host_bytes_per_process: perProcess, host_bytes_per_charged_word: perCharged },
    rows: [
      {
        label: "host_bytes_per_guest_word",
        value: fmt(perWord),
        note: `one process with ${fmt(WORDS)} words: ${fmt(big.bytes / 1048576)} MiB host growth (4 = one Int32 per word)${gcNote}`,
      },
      {
        label: "host_bytes_per_process",
        value: fmt(perProcess),
        note: `${fmt(CHILDREN)} suspended children of ${CHILD_WORDS} words each`,
      },
      {
        label: "host_bytes_per_charged_word",
        value: fmt(perCharged),
        note: `same tree: host bytes / charged footprint (${fmt(many.memUsed)} words)`,
      },
    ],
  };
}

export const hostMemoryGroup: BenchGroup = { name: "hostmem", title: "Host memory per guest word", run: runHostMemory };
