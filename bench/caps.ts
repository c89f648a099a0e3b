// Capabilities and traces (issue 4): the cost of one host capability call
// from the guest (a custom sync capability registered through Session
// handlers), and what recording the trace costs on a loop that makes a
// capability call every 100 instructions. Tracing is the Session's `record`
// option (on by default): the Recorder wraps every host handler and appends
// each call to the hash-chained trace.

import { Session, type CapHandler, type Module } from "../src/index.js";
import { BENCH_GAS, BENCH_MEM, type BenchContext, type BenchGroup, type GroupResult, compile, fmt, median, pairedRatio, rounds } from "./harness.js";

const CAP = "bench.echo";

/** The custom capability: returns its int argument plus one. */
const ECHO: CapHandler = { sig: { args: ["int"], result: "int" }, call: ([x]) => ((x as number) + 1) | 0 };

/** Calls per loop iteration in the cap_call_ns loops (amortizes the loop's own instructions). */
const UNROLL = 4;

/**
 * A loop of args[0] iterations, each running `body` UNROLL times. The CAP
 * body calls the capability; the bare one has the same instructions with
 * the call replaced by ADDI 1, so the difference is the call alone.
 */
function callLoop(withCap: boolean): string {
  const one = withCap ? `LGET 2\nCAP ${CAP} 1\nLSET 2` : "LGET 2\nADDI 1\nLSET 2";
  return `
.module bench_cap_${withCap ? "call" : "bare"}
.cap ${CAP}
.func main 0 3
        PUSH 0
        LOAD 1
        LSET 1
top:
${Array.from({ length: UNROLL }, () => one).join("\n")}
        LINC 0 1
        LGET 0
        LGET 1
        LT
        JNZ top
        LGET 2
        RET
`;
}

/**
 * args[0] iterations of exactly 100 instructions: 90 of arithmetic on
 * locals, one capability call (3 instructions), 2 more, the loop's 5.
 */
const EVERY_100 = `
.module bench_cap_every_100
.cap ${CAP}
.func main 0 4
        PUSH 0
        LOAD 1
        LSET 1
top:
${Array.from({ length: 30 }, (_, k) => `LGET 3\nADDI ${k + 1}\nLSET 3`).join("\n")}
        LGET 3
        CAP ${CAP} 1
        LSET 2
        LGET 2
        LSET 3
        LINC 0 1
        LGET 0
        LGET 1
        LT
        JNZ top
        LGET 3
        RET
`;
const EVERY_100_INSTRUCTIONS = 100;

function runCaps(module: Module, n: number, record: boolean): number {
  const s = Session.start(module, { gas: BENCH_GAS, mem: BENCH_MEM, args: [n], caps: [CAP], handlers: { [CAP]: ECHO }, record });
  const r = s.run();
  if (r.status !== "done") throw new Error(`bench caps ${module.name} ended ${r.status}${r.fault ? `: ${r.fault}` : ""}`);
  if (record && (s.trace?.length ?? 0) < 1) throw new Error(`bench caps ${module.name}: no trace recorded`);
  return r.value as number;
}

export function runCapsGroup(ctx: BenchContext): GroupResult {
  ctx.progress("caps: host capability call");
  const bare = compile(callLoop(false), "cap_bare");
  const call = compile(callLoop(true), "cap_call");
  const n = Math.max(1000, Math.round(25_000 * ctx.scale));
  const calls = n * UNROLL;
  if (runCaps(call, n, true) !== runCaps(bare, n, false)) throw new Error("bench caps: the capability loop and the bare loop disagree");
  const c = rounds(
    {
      bare: () => runCaps(bare, n, false),
      traced: () => runCaps(call, n, true),
      untraced: () => runCaps(call, n, false),
    },
    { reps: ctx.reps * 3 },
  );
  // Median over rounds of the difference of runs made back to back.
  const nsTraced = (median(c.traced.map((t, i) => t - c.bare[i])) * 1e6) / calls;
  const nsUntraced = (median(c.untraced.map((t, i) => t - c.bare[i])) * 1e6) / calls;

  ctx.progress("caps: tracing on vs off");
  const every = compile(EVERY_100, "cap_every_100");
  // Long enough (~40 ms a run) that one GC pause or scheduler hiccup does not decide the ratio.
  const m = Math.max(1000, Math.round(100_000 * ctx.scale));
  if (runCaps(every, m, true) !== runCaps(every, m, false)) throw new Error("bench caps: tracing changed the result");
  const t = rounds({ on: () => runCaps(every, m, true), off: () => runCaps(every, m, false) }, { reps: ctx.reps * 3 });
  const ratio = pairedRatio(t.on, t.off);
  const mips = (ms: number): number => (m * EVERY_100_INSTRUCTIONS) / (ms * 1e3);

  return {
    metrics: { cap_call_ns: nsTraced, trace_overhead_ratio: ratio },
    rows: [
      {
        label: "cap_call_ns",
        value: fmt(nsTraced),
        note: `${CAP} (int -> int, sync host handler), trace recorded; ${fmt(nsUntraced)} ns untraced; loop subtracted (${fmt(calls)} calls)`,
      },
      {
        label: "trace_overhead_ratio",
        value: fmt(ratio, 4),
        note: `a call every ${EVERY_100_INSTRUCTIONS} instructions, ${fmt(m)} calls: ${fmt(mips(median(t.on)))} vs ${fmt(mips(median(t.off)))} M instr/s (target <= 1.1)`,
      },
    ],
  };
}

export const capsGroup: BenchGroup = { name: "caps", title: "Capability calls and traces", run: runCapsGroup };
