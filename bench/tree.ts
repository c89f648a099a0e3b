// The process tree: the same loop at depth 1 and depth 100 (must be flat),
// and tiny children spawned, run and read from a guest loop, then killed or
// kept alive (the two side by side).

import { type BenchContext, type BenchGroup, type GroupResult, compare, compile, fmt, median, pairedRatio, rounds, runGuest } from "./harness.js";
import { DEPTH_RASM, LIVE_SPAWN_RASM, SPAWN_RASM, loopInstructions } from "./workloads.js";

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
  // Children that stay alive against children killed, the same number side by side.
  const live = compile(LIVE_SPAWN_RASM, "live_spawn");
  const m = Math.max(100, Math.round(20_000 * ctx.scale));
  const want = ((m * (m + 1)) / 2) | 0;
  if (runGuest(live, [m]).value !== want) throw new Error("bench spawn: the live children's results differ");
  const r = rounds({ live: () => runGuest(live, [m]), killed: () => runGuest(module, [m]) }, { reps: ctx.reps });
  const liveVsKilled = pairedRatio(r.live, r.killed);
  return {
    metrics: { spawn_run_per_s: rate, live_spawn_vs_killed: liveVsKilled },
    rows: [
      {
        label: "spawn_run_per_s",
        value: fmt(rate),
        note: `${fmt(n)} tiny children in ${fmt(t.spawn)} ms (${fmt(t.spawn * 1e3 / n)} µs each)`,
      },
      {
        label: "live_spawn_vs_killed",
        value: `${fmt(liveVsKilled)}x`,
        note: `${fmt(m)} children kept alive ${fmt((median(r.live) * 1e3) / m)} µs each, killed ${fmt((median(r.killed) * 1e3) / m)} µs each (target <= 2)`,
      },
    ],
  };
}

export const depthGroup: BenchGroup = { name: "depth", title: "Tree depth (throughput must be flat)", run: runDepth };
export const spawnGroup: BenchGroup = { name: "spawn", title: "Tiny children (spawn + resume + result, killed or kept alive)", run: runSpawn };
