// The process tree: the same loop at depth 1 and depth 100 (must be flat),
// and tiny children spawned, run, read and killed from a guest loop.

import { type BenchContext, type BenchGroup, type GroupResult, compare, compile, fmt, median, pairedRatio, rounds, runGuest } from "./harness.js";
import { DEPTH_RASM, SPAWN_RASM, loopInstructions } from "./workloads.js";

const DEEP = 100;

export function runDepth(ctx: BenchContext): GroupResult {
  ctx.progress(`tree: loop at depth 1 vs ${DEEP}`);
  const module = compile(DEPTH_RASM, "depth");
  // Long enough (~50 ms compiled) that building and unwinding the chain (~0.3 ms) is not what is measured.
  const n = Math.max(1000, Math.round(60_000_000 * ctx.scale));
  for (const d of [1, DEEP]) {
    const v = runGuest(module, [d, n]).value;
    if (v !== n) throw new Error(`bench depth ${d}: returned ${v}, expected ${n}`);
  }
  const r = rounds({ shallow: () => runGuest(module, [1, n]), deep: () => runGuest(module, [DEEP, n]) }, { reps: ctx.reps });
  const t = { shallow: median(r.shallow), deep: median(r.deep) };
  // Throughput ratio = inverse time ratio (same work; the deep run also spawns 99 more processes).
  const ratio = pairedRatio(r.shallow, r.deep);
  const mips = (ms: number): number => loopInstructions(n) / (ms * 1e3);
  return {
    metrics: { depth100_vs_depth1: ratio },
    rows: [
      {
        label: "depth100_vs_depth1",
        value: fmt(ratio),
        note: `${fmt(mips(t.deep))} vs ${fmt(mips(t.shallow))} M instr/s (chain built with SPAWN/RESUME)`,
      },
    ],
  };
}

export function runSpawn(ctx: BenchContext): GroupResult {
  ctx.progress("tree: spawn + resume + result + kill");
  const module = compile(SPAWN_RASM, "spawn");
  const n = Math.max(100, Math.round(200_000 * ctx.scale));
  const expected = (n * (n + 1)) / 2;
  const v = runGuest(module, [n]).value;
  if (v !== (expected | 0)) throw new Error(`bench spawn: returned ${v}, expected ${expected | 0}`);
  const t = compare({ spawn: () => runGuest(module, [n]) }, { reps: ctx.reps });
  const rate = n / (t.spawn / 1e3);
  return {
    metrics: { spawn_run_per_s: rate },
    rows: [
      {
        label: "spawn_run_per_s",
        value: fmt(rate),
        note: `${fmt(n)} tiny children in ${fmt(t.spawn)} ms (${fmt(t.spawn * 1e3 / n)} µs each)`,
      },
    ],
  };
}

export const depthGroup: BenchGroup = { name: "depth", title: "Tree depth (throughput must be flat)", run: runDepth };
export const spawnGroup: BenchGroup = { name: "spawn", title: "Tiny children (spawn + resume + result + kill)", run: runSpawn };
