// The time-travel debugger (issue 12): what recording checkpoints costs a run
// (`rar trace` against `rar run`, same program, interleaved rounds, median of
// paired ratios), how long the debugger takes to reach a random step of a
// run of about 10 M instructions once its step index is built (and how long
// building it takes, the first time a far step is visited), and how large the
// viewer's page of that run is.

import { compileSource, verify, type Module } from "../src/index.js";
import { Session } from "../src/session.js";
import { checkpointing, newDebugPart } from "../src/debug/record.js";
import { Timeline } from "../src/debug/timeline.js";
import { viewData, viewHtml } from "../src/debug/view.js";
import { decodeImage } from "../src/image/decode.js";
import { BENCH_GAS, BENCH_MEM, type BenchContext, type BenchGroup, type GroupResult, fmt, median, pairedRatio, rounds } from "./harness.js";

/** Collatz chains with a call per step: about 10 M instructions for 7,000 chains. */
const SOURCE = `
fn next(x) {
  if x % 2 == 0 { return x / 2; }
  return 3 * x + 1;
}
fn chain(n) {
  let steps = 0;
  let x = n;
  while x != 1 { x = next(x); steps = steps + 1; }
  return steps;
}
fn main(args) {
  let total = 0;
  for n in 1..args[0] {
    total = total + chain(n);
    if n % 1000 == 0 { print("at", n, total); }
  }
  return total;
}
`;

const quiet = { stdout: (): void => undefined };

function plain(m: Module, n: number): number {
  const s = Session.start(m, { gas: BENCH_GAS, mem: BENCH_MEM, args: [n], ...quiet });
  return s.run().gasUsed;
}

function traced(m: Module, n: number): Session {
  const s = Session.start(m, { gas: BENCH_GAS, mem: BENCH_MEM, args: [n], ...quiet });
  s.history.debug = newDebugPart(new Map([["collatz.ent", SOURCE]]));
  s.run({ checkpoints: checkpointing(s) });
  return s;
}

/** A small deterministic generator for the steps visited. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

function run(ctx: BenchContext): GroupResult {
  const m = verify(compileSource(SOURCE, "collatz.ent").modules[0]);
  const n = Math.max(50, Math.round(7000 * ctx.scale));
  ctx.progress("debug: recording overhead");
  const times = rounds({ run: () => plain(m, n), trace: () => traced(m, n).root.gasUsed }, { reps: ctx.reps });
  const overhead = pairedRatio(times.trace, times.run);
  const bytes = traced(m, n).snapshot();
  const img = decodeImage(bytes);
  ctx.progress("debug: step index");
  const t0 = performance.now();
  const tl = new Timeline(img);
  const steps = tl.end();
  const indexMs = performance.now() - t0;
  ctx.progress("debug: random jumps");
  const rnd = lcg(12);
  const jumps: number[] = [];
  for (let i = 0; i < Math.max(5, ctx.reps * 3); i++) {
    const k = Math.floor(rnd() * steps);
    const t1 = performance.now();
    tl.at(k);
    jumps.push(performance.now() - t1);
  }
  ctx.progress("debug: view");
  const html = viewHtml(viewData(img, "collatz.rimg"));
  const cps = img.meta.debug?.checkpoints.length ?? 0;
  return {
    metrics: {
      trace_record_overhead: overhead,
      debug_jump_ms: median(jumps),
      debug_index_ms: indexMs,
      debug_run_steps: steps,
      view_html_bytes: html.length,
    },
    rows: [
      { label: "trace_record_overhead", value: fmt(overhead), note: `traced / plain run, ${fmt(median(times.run))} ms plain, ${cps} checkpoints (target <= 1.25)` },
      { label: "debug_jump_ms", value: fmt(median(jumps)), note: `median jump to a random step of ${fmt(steps)} (target <= 100)` },
      { label: "debug_index_ms", value: fmt(indexMs), note: "counting every step once, the first time far steps are visited" },
      { label: "view_html_bytes", value: fmt(html.length), note: "rar view of that run (the last 2000 steps one by one)" },
    ],
  };
}

export const debugGroup: BenchGroup = { name: "debug", title: "Time-travel debugger (issue 12)", run };
