// Start-up time (CLI.md): `rar run` of a hello-world program against a bare
// `node -e 0` on the same machine. Whole processes, run alternately (warm-up
// first, so both read from the file cache); the metric is the median of the
// back-to-back ratios. The contract is startup_vs_node <= 1.5. `rar` is the
// command users get, package.json's `bin` (the bundled CLI and its code
// cache, scripts/build-cli.ts); startup_unbundled_vs_node is the same run
// through the tsc output, dist/src/cli/main.js, for comparison.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchContext, type BenchGroup, type GroupResult, fmt, median, pairedRatio, rounds } from "./harness.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(ROOT, (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: { rar: string } }).bin.rar);
const UNBUNDLED = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function spawn(args: readonly string[]): () => void {
  return () => {
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`bench startup: node ${args.join(" ")} exited ${String(r.status)}: ${String(r.stderr)}`);
  };
}

export function runStartup(ctx: BenchContext): GroupResult {
  ctx.progress("startup: node -e 0 vs rar run examples/hello.ent (bundled, and unbundled)");
  const t = rounds(
    {
      node: spawn(["-e", "0"]),
      ent: spawn([BIN, "run", "examples/hello.ent"]),
      rasm: spawn([BIN, "run", "examples/asm/hello.rasm"]),
      unbundled: spawn([UNBUNDLED, "run", "examples/hello.ent"]),
    },
    { reps: Math.max(5, ctx.reps * 2), warmup: 1 },
  );
  const ratio = pairedRatio(t.ent, t.node);
  const rasm = pairedRatio(t.rasm, t.node);
  const unbundled = pairedRatio(t.unbundled, t.node);
  return {
    metrics: {
      startup_vs_node: ratio,
      startup_rasm_vs_node: rasm,
      startup_unbundled_vs_node: unbundled,
      startup_node_ms: median(t.node),
      startup_ms: median(t.ent),
    },
    rows: [
      { label: "startup_vs_node", value: fmt(ratio), note: `rar run examples/hello.ent ${fmt(median(t.ent))} ms vs node -e 0 ${fmt(median(t.node))} ms (target <= 1.5)` },
      { label: "startup_rasm_vs_node", value: fmt(rasm), note: `rar run examples/asm/hello.rasm ${fmt(median(t.rasm))} ms` },
      { label: "startup_unbundled_vs_node", value: fmt(unbundled), note: `node dist/src/cli/main.js run examples/hello.ent ${fmt(median(t.unbundled))} ms` },
    ],
  };
}

export const startupGroup: BenchGroup = { name: "startup", title: "Start-up", run: runStartup };
