// Start-up time (CLI.md): `rar run` of a hello-world program against a bare
// `node -e 0` on the same machine. Whole processes, run alternately (warm-up
// first, so both read from the file cache); the metric is the median of the
// back-to-back ratios. The contract is startup_vs_node <= 1.5.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type BenchContext, type BenchGroup, type GroupResult, fmt, median, pairedRatio, rounds } from "./harness.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function spawn(args: readonly string[]): () => void {
  return () => {
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`bench startup: node ${args.join(" ")} exited ${String(r.status)}: ${String(r.stderr)}`);
  };
}

export function runStartup(ctx: BenchContext): GroupResult {
  ctx.progress("startup: node -e 0 vs rar run examples/hello.ent");
  const t = rounds(
    {
      node: spawn(["-e", "0"]),
      ent: spawn([CLI, "run", "examples/hello.ent"]),
      rasm: spawn([CLI, "run", "examples/asm/hello.rasm"]),
    },
    { reps: Math.max(5, ctx.reps * 2), warmup: 1 },
  );
  const ratio = pairedRatio(t.ent, t.node);
  const rasm = pairedRatio(t.rasm, t.node);
  return {
    metrics: { startup_vs_node: ratio, startup_rasm_vs_node: rasm, startup_node_ms: median(t.node), startup_ms: median(t.ent) },
    rows: [
      { label: "startup_vs_node", value: fmt(ratio), note: `rar run examples/hello.ent ${fmt(median(t.ent))} ms vs node -e 0 ${fmt(median(t.node))} ms (target <= 1.5)` },
      { label: "startup_rasm_vs_node", value: fmt(rasm), note: `rar run examples/asm/hello.rasm ${fmt(median(t.rasm))} ms` },
    ],
  };
}

export const startupGroup: BenchGroup = { name: "startup", title: "Start-up", run: runStartup };
