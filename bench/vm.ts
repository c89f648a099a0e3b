// Interpreter throughput: metered instructions per second on loops, calls and
// memory work, each against the same algorithm in plain JS, measured side by
// side in the same run.

import { type BenchContext, type BenchGroup, type GroupResult, compile, fmt, median, pairedRatio, rounds, runGuest } from "./harness.js";
import {
  FIB_RASM,
  LOOP_RASM,
  MEMORY_RASM,
  fibInstructions,
  loopInstructions,
  memoryInstructions,
  nativeCount,
  nativeFib,
  nativeMemory,
} from "./workloads.js";

interface Workload {
  key: string;
  label: string;
  source: string;
  arg: number;
  instructions: number;
  native: (n: number) => number;
  /** Key of the VM / native time ratio. */
  ratioKey: string;
}

function measure(ctx: BenchContext, w: Workload): { mips: number; ratio: number; vmMs: number; nativeMs: number } {
  const module = compile(w.source, w.key);
  const expected = w.native(w.arg);
  const got = runGuest(module, [w.arg]).value;
  if (got !== expected) throw new Error(`bench ${w.key}: VM returned ${got}, plain JS ${expected}`);
  const r = rounds(
    {
      vm: () => runGuest(module, [w.arg]).value,
      native: () => w.native(w.arg),
    },
    { reps: ctx.reps },
  );
  const vmMs = median(r.vm);
  return { mips: w.instructions / (vmMs * 1e3), ratio: pairedRatio(r.vm, r.native), vmMs, nativeMs: median(r.native) };
}

export function runVm(ctx: BenchContext): GroupResult {
  const loopN = Math.max(1000, Math.round(5_000_000 * ctx.scale));
  const fibN = ctx.scale >= 1 ? 27 : 22;
  const passes = Math.max(1, Math.round(500 * ctx.scale));
  const workloads: Workload[] = [
    {
      key: "loop",
      label: `counting loop (${fmt(loopN)} iterations)`,
      source: LOOP_RASM,
      arg: loopN,
      instructions: loopInstructions(loopN),
      native: nativeCount,
      ratioKey: "loop_vs_native",
    },
    {
      key: "calls",
      label: `recursive fib(${fibN})`,
      source: FIB_RASM,
      arg: fibN,
      instructions: fibInstructions(fibN),
      native: nativeFib,
      ratioKey: "fib_vs_native",
    },
    {
      key: "memory",
      label: `load/store loop (${passes} x 4096 words)`,
      source: MEMORY_RASM,
      arg: passes,
      instructions: memoryInstructions(passes),
      native: nativeMemory,
      ratioKey: "memory_vs_native",
    },
  ];
  const result: GroupResult = { metrics: {}, rows: [] };
  for (const w of workloads) {
    ctx.progress(`vm: ${w.label}`);
    const m = measure(ctx, w);
    result.metrics[`${w.key}_minstr_per_s`] = m.mips;
    result.metrics[w.ratioKey] = m.ratio;
    result.rows.push(
      { label: `${w.key}_minstr_per_s`, value: fmt(m.mips), note: `${w.label}: ${fmt(w.instructions)} instructions in ${fmt(m.vmMs)} ms` },
      { label: w.ratioKey, value: `${fmt(m.ratio)}x`, note: `VM ${fmt(m.vmMs)} ms / plain JS ${fmt(m.nativeMs)} ms` },
    );
  }
  return result;
}

export const vmGroup: BenchGroup = { name: "vm", title: "VM throughput (vs plain JS, same run)", run: runVm };
