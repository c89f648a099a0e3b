// Host memory per guest word (bounded amplification): the heap and buffer
// growth of the host while a suspended tree holds its memory.
//
// Amplification (spec/semantics.md, "What the host holds"): the host bytes a
// run holds, measured as the growth of the JS heap plus ArrayBuffers after a
// full GC from the session started to the guest holding the most it can,
// divided by its memory limit in bytes (4 per word):
//
//   amplification = host bytes / (4 * memLimit words)
//
// Each worst case below fills a guest limit one way (a spawn bomb of fresh,
// argument-laden or entered children; deep recursion; an fs.read or io.read
// result as large as the limit allows) and stops holding it;
// host_amplification_max is the largest of them. The target is <= 4.
//
// Each measurement runs in a fresh node of its own, started with
// --single-threaded: with V8's background threads, pages swept and optimized
// code installed at any moment between two readings moved
// host_bytes_per_process by up to a quarter from one repetition to the next,
// and what ran before in the same node moved it by 4% (the same objects,
// measured after a 1M-word session, read 24 bytes more each). Without them
// the same session reads the same to a few bytes.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Session, type Module, type SessionOptions } from "../src/index.js";
import { StatusCode } from "../src/internals.js";
import { type BenchContext, type BenchGroup, type GroupResult, type Row, BENCH_GAS, collect, compile, fmt, median } from "./harness.js";

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

/** `n` suspended children, each holding CHILD_WORDS words copied from the parent. */
const manyChildren = (n: number): string => `
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
        PUSH ${n}
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

/** JS heap plus ArrayBuffer bytes (`external` lags behind collections; `arrayBuffers` does not). */
function hostBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Starts a session of `module`, runs it to its yield, and leaves it in `holder`; returns its charged footprint. */
function runHeld(holder: { s: Session | null }, module: Module, name: string): number {
  const s = (holder.s = Session.start(module, { gas: BENCH_GAS, mem: 1 << 24, stdout: () => {} }));
  const res = s.run();
  if (res.status !== "yielded") throw new Error(`bench ${name}: ended ${res.status}${res.fault ? `: ${res.fault}` : ""}`);
  return res.memUsed;
}

/**
 * Host bytes one session that ran `module` holds (what dropping it frees,
 * after a full GC on each side: code V8 compiled meanwhile is the host's,
 * not the session's), and its charged footprint.
 */
function oneGrowth(module: Module, name: string): { bytes: number; memUsed: number } {
  const holder: { s: Session | null } = { s: null };
  const memUsed = runHeld(holder, module, name);
  collect();
  const alive = hostBytes();
  holder.s = null;
  collect();
  return { bytes: alive - hostBytes(), memUsed };
}

/** Median over `reps` sessions, one at a time. */
function growth(source: string, name: string, reps: number): { bytes: number; memUsed: number } {
  const module = compile(source, name);
  const runs: { bytes: number; memUsed: number }[] = [];
  for (let r = 0; r < reps; r++) runs.push(oneGrowth(module, name));
  return { bytes: median(runs.map((x) => x.bytes)), memUsed: runs[0].memUsed };
}

// --- amplification against the guest's limit ------------------------------

/** Root spawns children with `nargs` arguments and no memory until it runs out of memory; `enter` resumes each to a yield first. */
function spawnBomb(nargs: number, enter: boolean): string {
  const push = Array.from({ length: nargs }, () => "        PUSH 0").join("\n");
  return `
.module bench_spawnbomb
.func main 0 0
loop:
${push}
        PUSH 0
        PUSH 0
        PUSH 1000000
        PUSH 1000000
        PUSH 0
        PUSH 0
        SPAWN child
${enter ? "        RESUME" : ""}
        POP
        JMP loop

.func child ${nargs} ${nargs}
        PUSH 1
        YIELD
        PUSH 0
        RET
`;
}

/**
 * The heaviest ordinary child: memory spawned with one word and grown by one,
 * a call deep (its stack and frames grown), a one-word inbox (kv.get of the
 * key the root put), stopped in a yield.
 */
const HEAVY_RASM = `
.module bench_heavy
.cap kv.get
.cap kv.put
.func main 0 0
        PUSH 0
        PUSH 0
        PUSH 0
        PUSH 1
        CAP kv.put 4
        POP
loop:   PUSH 0
        PUSH 1
        PUSH 1000000
        PUSH 1000000
        PUSH 1
        PUSH 0
        SPAWN child
        RESUME
        POP
        JMP loop

.func child 0 0
        PUSH 1
        MGROW
        POP
        CALL f
        RET

.func f 0 0
        PUSH 0
        PUSH 0
        CAP kv.get 2
        YIELD
        PUSH 0
        RET
`;

/** Children stopped at a trapped call of 16 int arguments (the most a call has), never answered. */
const TRAPPED_RASM = `
.module bench_trapped
.cap t.trap
.func main 0 0
loop:   PUSH 0
        PUSH 0
        PUSH 1000000
        PUSH 1000000
        PUSH 0
        PUSH 1
        SPAWN child
        RESUME
        POP
        JMP loop

.func child 0 0
${Array.from({ length: 16 }, (_, i) => `        PUSH ${i}`).join("\n")}
        CAP t.trap 16
        RET
`;

/** Recursion until the memory runs out: the smallest frame there is. */
const RECURSE_RASM = `
.module bench_recurse
.func main 0 0
        CALL main
        RET
`;

/** Calls `cap` with the text `arg` (or no argument) and yields, holding the result in its inbox. */
function holdResult(cap: string, arg: string | null): string {
  const cps = arg === null ? [] : [...arg].map((c) => c.codePointAt(0) as number);
  const store = cps.map((c, i) => `        PUSH ${i + 1}\n        PUSH ${c}\n        STORE 0`).join("\n");
  return `
.module bench_hold
.cap ${cap}
.func main 0 0
        PUSH ${cps.length}
        MGROW
        POP
${store}
${arg === null ? `        CAP ${cap} 0` : `        PUSH 1\n        PUSH ${cps.length}\n        CAP ${cap} 2`}
        YIELD
        PUSH 0
        RET
`;
}

interface Held {
  bytes: number;
  memUsed: number;
  status: string;
}

/**
 * Host-byte growth while a session limited to `mem` words holds what `module`
 * took before it stopped: from the session started (its own constant cost
 * left out) to the guest stopped.
 */
function held(module: Module, mem: number, opts: SessionOptions, expect: string): Held {
  const s = Session.start(module, { gas: BENCH_GAS, mem, stdout: () => {}, ...opts });
  collect();
  const before = hostBytes();
  const res = s.run();
  if (res.status !== expect) throw new Error(`bench ${module.name}: ended ${res.status}${res.fault ? `: ${res.fault}` : ""}, expected ${expect}`);
  collect();
  const bytes = hostBytes() - before;
  if (s.root.status === StatusCode.READY) throw new Error("unreachable");
  return { bytes, memUsed: res.memUsed, status: res.status };
}

interface Case {
  metric: string;
  what: string;
  run(limit: number): Held;
}

function amplificationCases(dir: string): Case[] {
  const bomb = (nargs: number, enter: boolean) => {
    const m = compile(spawnBomb(nargs, enter), "spawnbomb");
    return (limit: number) => held(m, limit, {}, "out_of_mem");
  };
  const recurse = compile(RECURSE_RASM, "recurse");
  const heavy = compile(HEAVY_RASM, "heavy");
  const trapped = compile(TRAPPED_RASM, "trapped");
  const never = { sig: { args: new Array<"int">(16).fill("int"), result: "int" as const }, call: () => 0 };
  return [
    { metric: "spawn_fresh", what: "spawn bomb: fresh children, no arguments", run: bomb(0, false) },
    { metric: "spawn_args", what: "spawn bomb: fresh children of 255 arguments", run: bomb(255, false) },
    { metric: "spawn_entered", what: "spawn bomb: children entered, holding a frame", run: bomb(0, true) },
    { metric: "spawn_heavy", what: "spawn bomb: children with grown memory, a call deep, an inbox", run: (limit) => held(heavy, limit, { caps: ["kv.get", "kv.put"], record: false }, "out_of_mem") },
    {
      metric: "spawn_trapped",
      what: "spawn bomb: children stopped at a trapped call of 16 arguments",
      run: (limit) => held(trapped, limit, { caps: ["t.trap"], handlers: { "t.trap": never } }, "out_of_mem"),
    },
    { metric: "recursion", what: "recursion to the limit (smallest frames)", run: (limit) => held(recurse, limit, {}, "out_of_mem") },
    {
      metric: "fs_read",
      what: "fs.read of a file as large as the limit allows (traced)",
      run: (limit) => {
        const size = limit - 256;
        writeFileSync(join(dir, "big.bin"), Buffer.alloc(size, 0x41));
        const m = compile(holdResult("fs.read", "big.bin"), "fsread");
        return held(m, limit, { caps: [`fs.read:${dir}`] }, "yielded");
      },
    },
    {
      metric: "io_read",
      what: "io.read of a line as long as the limit allows (traced)",
      run: (limit) => {
        const line = "a".repeat(limit - 257) + "\n";
        const m = compile(holdResult("io.read", null), "ioread");
        return held(m, limit, { caps: ["io.read"], stdin: () => line }, "yielded");
      },
    },
  ];
}

/** What one fresh node measures: a part of the group, `reps` times, median bytes. */
function measurePart(part: string, reps: number): { bytes: number; memUsed: number } {
  if (part === "big") return growth(BIG_RASM, "bigmem", reps);
  if (part === "many") return growth(manyChildren(CHILDREN), "manyproc", reps);
  if (part === "more") return growth(manyChildren(3 * CHILDREN), "manyproc3", reps);
  const dir = mkdtempSync(join(tmpdir(), "rar-bench-hostmem-"));
  try {
    const c = amplificationCases(dir).find((x) => `amp:${x.metric}` === part);
    if (c === undefined) throw new Error(`bench hostmem: no part '${part}'`);
    const runs: Held[] = [];
    for (let r = 0; r < reps; r++) runs.push(c.run(AMPLIFICATION_LIMIT));
    return { bytes: median(runs.map((x) => x.bytes)), memUsed: runs[0].memUsed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The guest limit of the worst cases: the CLI's default --mem, also for --quick (a smaller one
// would mostly measure what a run holds whatever its size: compiled code, caches).
const AMPLIFICATION_LIMIT = 1 << 20;

const SELF = fileURLToPath(import.meta.url);

/** measurePart in a fresh node started with --single-threaded (see the top of this file). */
function fresh(part: string, reps: number): { bytes: number; memUsed: number } {
  const r = spawnSync(process.execPath, ["--single-threaded", "--expose-gc", SELF, part, String(reps)], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status !== 0) throw new Error(`bench hostmem: measuring ${part} exited ${String(r.status ?? r.signal)}`);
  const m = /^\{"bytes":[-0-9.e+]+,"memUsed":\d+\}$/.exec(r.stdout.trim());
  if (m === null) throw new Error(`bench hostmem: measuring ${part} printed no figures`);
  return JSON.parse(m[0]) as { bytes: number; memUsed: number };
}

export function runHostMemory(ctx: BenchContext): GroupResult {
  const reps = Math.max(3, Math.min(ctx.reps, 5));
  ctx.progress("host memory: one process with 1M words");
  const big = fresh("big", reps);
  const perWord = big.bytes / WORDS;
  ctx.progress(`host memory: ${CHILDREN} suspended children`);
  const many = fresh("many", reps);
  const perProcess = many.bytes / CHILDREN;
  const perCharged = many.bytes / many.memUsed;
  // What each child is charged, in bytes: the tree's footprint over its children (the root's own part is 0.1% of it).
  const chargedBytes = (4 * many.memUsed) / CHILDREN;
  // Per child added: the bytes of a tree three times larger, less this one's, over the children
  // added (the session's own constant cancels out).
  ctx.progress(`host memory: ${3 * CHILDREN} suspended children`);
  const more = fresh("more", reps);
  const perAdded = (more.bytes - many.bytes) / (2 * CHILDREN);
  const metrics: Record<string, number> = {
    host_bytes_per_guest_word: perWord,
    host_bytes_per_process: perProcess,
    host_bytes_per_charged_word: perCharged,
    host_bytes_per_process_vs_charged: perProcess / chargedBytes,
    host_bytes_per_added_process: perAdded,
  };
  const rows: Row[] = [
    {
      label: "host_bytes_per_guest_word",
      value: fmt(perWord),
      note: `one process with ${fmt(WORDS)} words: ${fmt(big.bytes / 1048576)} MiB host growth (4 = one Int32 per word)`,
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
    {
      label: "host_bytes_per_process_vs_charged",
      value: fmt(perProcess / chargedBytes),
      note: `same tree: ${fmt(perProcess)} host bytes per child / ${fmt(chargedBytes)} bytes charged per child; target <= 1`,
    },
    {
      label: "host_bytes_per_added_process",
      value: fmt(perAdded),
      note: `(bytes for ${fmt(3 * CHILDREN)} children - for ${fmt(CHILDREN)}) / ${fmt(2 * CHILDREN)}: the session's constant left out; ${fmt(perAdded / chargedBytes)} x the ${fmt(chargedBytes)} bytes charged`,
    },
  ];
  let max = 0;
  // The cases' names and descriptions (their modules are compiled again where each is measured).
  for (const c of amplificationCases(tmpdir())) {
    ctx.progress(`host memory: ${c.what}`);
    const { bytes, memUsed } = fresh(`amp:${c.metric}`, reps);
    const amp = bytes / (4 * AMPLIFICATION_LIMIT);
    max = Math.max(max, amp);
    metrics[`host_amplification_${c.metric}`] = amp;
    rows.push({
      label: `host_amplification_${c.metric}`,
      value: fmt(amp),
      note: `${c.what}: ${fmt(bytes / 1048576)} MiB for a limit of ${fmt(AMPLIFICATION_LIMIT)} words (${fmt(memUsed)} used)`,
    });
  }
  metrics.host_amplification_max = max;
  rows.push({ label: "host_amplification_max", value: fmt(max), note: "host bytes / (4 * guest memory limit in words), worst case above; target <= 4" });
  return { metrics, rows };
}

export const hostMemoryGroup: BenchGroup = { name: "hostmem", title: "Host memory per guest word", run: runHostMemory };

// Started by fresh(): one part, its figures as JSON on stdout.
if (process.argv[1] === SELF) process.stdout.write(JSON.stringify(measurePart(process.argv[2], Number(process.argv[3]))));
