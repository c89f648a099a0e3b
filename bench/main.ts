// `npm run bench`: runs every metric group of bench/groups.ts and prints a
// human table, or with `--json` exactly one JSON object of all metrics on
// stdout. Progress goes to stderr, and only when stderr is a terminal.
//
//   npm run bench                       the table
//   npm run bench -- --json             {"loop_minstr_per_s": ..., ...}
//   npm run bench -- --only vm,depth    some groups only (names in bench/groups.ts)
//   npm run bench -- --quick            small sizes, few repetitions (a smoke run)
//   npm run bench -- --reps 9           more repetitions per measurement

import { GROUPS } from "./groups.js";
import { type BenchContext, type Metrics, type Row, blackholeValue, round } from "./harness.js";

interface Options {
  json: boolean;
  only: Set<string> | null;
  reps: number;
  scale: number;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: node dist/bench/main.js [--json] [--quick] [--reps N] [--only ${GROUPS.map((g) => g.name).join(",")}]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { json: false, only: null, reps: 9, scale: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if (a === "--quick") {
      o.scale = 0.05;
      o.reps = 3;
    } else if (a === "--reps") {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) usage("--reps takes a positive integer");
      o.reps = n;
    } else if (a === "--only") {
      const names = (argv[++i] ?? "").split(",").filter(Boolean);
      for (const n of names) if (!GROUPS.some((g) => g.name === n)) usage(`unknown group '${n}'`);
      o.only = new Set(names);
    } else usage(`unknown option '${a}'`);
  }
  return o;
}

function table(sections: { title: string; rows: Row[] }[]): string {
  const w1 = Math.max(...sections.flatMap((s) => s.rows.map((r) => r.label.length)), 10);
  const w2 = Math.max(...sections.flatMap((s) => s.rows.map((r) => r.value.length)), 8);
  const lines: string[] = [];
  for (const s of sections) {
    lines.push("", s.title, "-".repeat(s.title.length));
    for (const r of s.rows) lines.push(`  ${r.label.padEnd(w1)}  ${r.value.padStart(w2)}  ${r.note ?? ""}`.trimEnd());
  }
  return lines.join("\n").slice(1) + "\n";
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const tty = process.stderr.isTTY === true;
  const ctx: BenchContext = {
    reps: opts.reps,
    scale: opts.scale,
    progress: (m) => {
      if (tty) process.stderr.write(`\r\x1b[K${m}`);
    },
  };
  const metrics: Metrics = {};
  const sections: { title: string; rows: Row[] }[] = [];
  const t0 = performance.now();
  for (const g of GROUPS) {
    if (opts.only && !opts.only.has(g.name)) continue;
    const r = await g.run(ctx);
    for (const [k, v] of Object.entries(r.metrics)) {
      if (k in metrics) throw new Error(`bench: metric '${k}' reported twice`);
      metrics[k] = round(v);
    }
    sections.push({ title: g.title, rows: r.rows });
  }
  if (tty) process.stderr.write("\r\x1b[K");
  if (opts.json) {
    process.stdout.write(JSON.stringify(metrics) + "\n");
    return;
  }
  const secs = (performance.now() - t0) / 1e3;
  process.stdout.write(table(sections));
  process.stdout.write(
    `\nnode ${process.version}, ${opts.reps} repetitions per figure (medians, side by side), ${secs.toFixed(1)} s` +
      ` [${blackholeValue() & 1}]\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
