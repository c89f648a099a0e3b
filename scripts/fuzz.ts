// `npm run fuzz [-- --kind images|modules|sources|policies[,...]] [--seed N]
//   [--count N] [--jobs N] [--timeout S] [--index I] [--stats]`
//
// Fuzzes the runtime's untrusted inputs — images, module bundles, Ent and
// assembly sources, policies — and reports per kind the inputs tried and the
// host exceptions found (anything thrown that is not a RarError), plus
// anomalies (a RarError where none may be: see scripts/fuzz/target.ts), hangs
// (an input running longer than --timeout seconds) and crashes (a worker
// dying, e.g. out of memory). Deterministic: input i of a kind depends only on
// the seed, so `--index I` re-runs one input in this process and prints what
// happened. Inputs are split over --jobs worker processes (default: one per
// core); each writes the index it is on to a file, so the parent can name the
// input a hang or crash happened on, and continue after it. Progress shows
// only on a terminal. Exit 1 when anything was found; the inputs are saved
// under a temporary directory with their errors.

import { fork, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { checkOne, fuzzRange, inputRng, makeTarget, type Finding, type RangeReport } from "./fuzz/run.js";
import { KINDS, type KindName } from "./fuzz/target.js";

interface Options {
  kinds: KindName[];
  seed: number;
  count: number;
  jobs: number;
  timeout: number;
  index: number | null;
  stats: boolean;
}

function usage(msg: string): never {
  process.stderr.write(`fuzz: ${msg}\nusage: npm run fuzz -- [--kind images|modules|sources|policies[,...]] [--seed N] [--count N] [--jobs N] [--timeout S] [--index I] [--stats]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { kinds: [...KINDS], seed: 1, count: 10_000, jobs: availableParallelism(), timeout: 60, index: null, stats: false };
  const num = (i: number, name: string): number => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isSafeInteger(v) || v < 0) usage(`--${name} takes a non-negative integer`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case "--kind": {
        const ks = (argv[++i] ?? "").split(",");
        for (const k of ks) if (!KINDS.includes(k as KindName)) usage(`unknown kind '${k}'`);
        o.kinds = ks as KindName[];
        break;
      }
      case "--seed":
        o.seed = num(++i, "seed");
        break;
      case "--count":
        o.count = num(++i, "count");
        break;
      case "--jobs":
        o.jobs = Math.max(1, num(++i, "jobs"));
        break;
      case "--timeout":
        o.timeout = Math.max(1, num(++i, "timeout"));
        break;
      case "--index":
        o.index = num(++i, "index");
        break;
      case "--stats":
        o.stats = true;
        break;
      default:
        usage(`unknown argument '${argv[i]}'`);
    }
  }
  return o;
}

// --- worker side -------------------------------------------------------------------

interface WorkOrder {
  kind: KindName;
  seed: number;
  lo: number;
  hi: number;
  /** File the worker writes the index it is on to (8 bytes, float64). */
  indexFile: string;
}

type WorkerMessage =
  | { type: "progress"; tried: number; next: number; outcomes: [string, number][]; findings: Finding[] }
  | { type: "done" };

function worker(order: WorkOrder): void {
  // Not truncated: it says -1 (starting) until the first input.
  const fd = openSync(order.indexFile, "r+");
  const cell = new Float64Array(1);
  const bytes = new Uint8Array(cell.buffer);
  let last = Date.now();
  let sentTried = 0;
  let sentFindings = 0;
  const sentOutcomes = new Map<string, number>();
  const flush = (r: RangeReport): void => {
    const outcomes: [string, number][] = [];
    for (const [k, v] of r.outcomes) {
      const d = v - (sentOutcomes.get(k) ?? 0);
      if (d > 0) outcomes.push([k, d]);
      sentOutcomes.set(k, v);
    }
    const msg: WorkerMessage = { type: "progress", tried: r.tried - sentTried, next: order.lo + r.tried, outcomes, findings: r.findings.slice(sentFindings) };
    sentTried = r.tried;
    sentFindings = r.findings.length;
    process.send?.(msg);
  };
  const report = fuzzRange(order.kind, order.seed, order.lo, order.hi, {
    before(i) {
      cell[0] = i;
      writeSync(fd, bytes, 0, 8, 0);
    },
    after(_i, r) {
      const now = Date.now();
      if (now - last >= 500) {
        last = now;
        flush(r);
      }
    },
  });
  flush(report);
  closeSync(fd);
  process.send?.({ type: "done" } satisfies WorkerMessage, undefined, {}, () => process.exit(0));
}

// --- parent side -------------------------------------------------------------------

interface KindTotals {
  tried: number;
  outcomes: Map<string, number>;
  findings: Finding[];
  seconds: number;
}

/** Seconds a worker may take to start (load, make the inputs mutations start from) before it counts as hung. */
const STARTUP_TIMEOUT = 600;

/**
 * Runs [lo, hi) in workers. After a hang or crash on input i, records it and
 * goes on with a new worker: first the inputs the dead one finished but had
 * not reported yet (so none is lost), then those after i.
 */
async function runShard(kind: KindName, o: Options, lo: number, hi: number, dir: string, shard: number, totals: KindTotals, tick: () => void): Promise<void> {
  const indexFile = join(dir, `${kind}-${shard}.index`);
  const ranges: [number, number][] = [[lo, hi]];
  while (ranges.length > 0) {
    const [from, to] = ranges.shift() as [number, number];
    if (from >= to) continue;
    const stop = await runWorker(kind, o, from, to, indexFile, totals, tick);
    if (stop === null) continue;
    if (stop.at < 0) {
      // Not an input's fault: the worker did not get as far as its first one. The range is not tried.
      totals.findings.push({ ...placeholder(kind, o.seed, from, stop.what, stop.why), regenerate: false, how: `starting a worker for inputs ${from}..${to - 1}` });
      continue;
    }
    totals.findings.push(placeholder(kind, o.seed, stop.at, stop.what, stop.why));
    totals.tried += 1;
    ranges.unshift([stop.reported, stop.at], [stop.at + 1, to]);
  }
}

interface Stop {
  what: "hang" | "crash";
  why: string;
  /** The input the worker was on (-1: still starting). */
  at: number;
  /** Inputs before this one were reported. */
  reported: number;
}

/** One worker on [from, to): null when it finished, else where and how it stopped. */
function runWorker(kind: KindName, o: Options, from: number, to: number, indexFile: string, totals: KindTotals, tick: () => void): Promise<Stop | null> {
  return new Promise((resolve) => {
    // -1 while the worker starts (loading, making its base inputs): a longer timeout applies.
    writeFileSync(indexFile, new Uint8Array(new Float64Array([-1]).buffer));
    const child: ChildProcess = fork(process.argv[1], ["--worker"], { execArgv: process.execArgv, stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let done = false;
    let reported = from;
    let lastIndex = -1;
    let lastChange = Date.now();
    let hung = false;
    const readIndex = (): number => {
      try {
        return new Float64Array(new Uint8Array(readFileSync(indexFile)).buffer)[0];
      } catch {
        return lastIndex;
      }
    };
    const watch = setInterval(() => {
      const i = readIndex();
      if (i !== lastIndex) {
        lastIndex = i;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > (i < 0 ? STARTUP_TIMEOUT : o.timeout) * 1000) {
        hung = true;
        child.kill("SIGKILL");
      }
    }, 250);
    child.on("message", (m: WorkerMessage) => {
      if (m.type === "done") {
        done = true;
        return;
      }
      totals.tried += m.tried;
      reported = m.next;
      for (const [k, v] of m.outcomes) totals.outcomes.set(k, (totals.outcomes.get(k) ?? 0) + v);
      totals.findings.push(...m.findings);
      tick();
    });
    child.on("exit", (code, signal) => {
      clearInterval(watch);
      if (done) return resolve(null);
      const at = readIndex();
      const why = hung
        ? at < 0
          ? `the worker did not start within ${STARTUP_TIMEOUT} s`
          : `no result after ${o.timeout} s`
        : `the worker died${at < 0 ? " starting" : ""} (exit code ${code}, signal ${signal})\n${stderr}`;
      resolve({ what: hung ? "hang" : "crash", why, at, reported });
    });
    child.send({ kind, seed: o.seed, lo: from, hi: to, indexFile } satisfies WorkOrder);
  });
}

/** A hang or crash: the input is made again here (cheap, deterministic) so it can be saved. */
function placeholder(kind: KindName, seed: number, index: number, what: string, why: string): Finding {
  return { kind, index, what, how: "(see the saved input)", error: why, data: "", binary: false, ext: "txt", regenerate: true };
}

function signature(f: Finding): string {
  const lines = f.error.split("\n");
  const frame = lines.find((l) => l.trim().startsWith("at ")) ?? "";
  return `${f.what}|${lines[0].replace(/\d+/g, "N")}|${frame.trim()}`;
}

/** Saves a finding's input (and imports) and error; returns the input's path. */
function save(dir: string, f: Finding, seed: number): string {
  const base = join(dir, `${f.kind}-${f.index}`);
  let path = `${base}.${f.ext}`;
  if (f.files && Object.keys(f.files).length > 0) {
    path = join(base, `main.${f.ext}`);
    for (const [p, text] of Object.entries(f.files)) {
      mkdirSync(dirname(join(base, p)), { recursive: true });
      writeFileSync(join(base, p), text);
    }
    mkdirSync(base, { recursive: true });
  }
  writeFileSync(path, f.binary ? Buffer.from(f.data, "base64") : f.data);
  writeFileSync(`${base}.txt`, `${f.what} on ${f.kind} input ${f.index} (${f.how})\nreproduce: npm run fuzz -- --kind ${f.kind} --seed ${seed} --index ${f.index}\n\n${f.error}\n`);
  return path;
}

const targets = new Map<KindName, ReturnType<typeof makeTarget>>();

/** Makes the input of a hang or crash again, in this process, without checking it. */
function regenerate(f: Finding, seed: number): void {
  try {
    let target = targets.get(f.kind);
    if (!target) targets.set(f.kind, (target = makeTarget(f.kind, seed)));
    // Generation alone: the check is what hung or crashed.
    const input = target.generate(inputRng(f.kind, seed, f.index));
    f.how = input.how;
    f.binary = typeof input.data !== "string";
    f.data = typeof input.data === "string" ? input.data : Buffer.from(input.data).toString("base64");
    f.ext = input.ext ?? target.ext;
    f.files = input.files;
  } catch (e) {
    f.error += `\n(the input could not be made again: ${(e as Error).message})`;
  }
}

async function main(o: Options): Promise<number> {
  if (o.index !== null) {
    // One input, here, with everything printed.
    let bad = false;
    for (const kind of o.kinds) {
      const target = makeTarget(kind, o.seed);
      const r = checkOne(target, kind, o.seed, o.index);
      target.close?.();
      process.stdout.write(`${kind} ${o.index}: ${r.outcome}\n`);
      if (r.finding) {
        bad = true;
        process.stdout.write(`${r.finding.what} (${r.finding.how}):\n${r.finding.error}\n`);
      }
    }
    return bad ? 1 : 0;
  }
  const work = mkdtempSync(join(tmpdir(), "rar-fuzz-"));
  const tty = process.stderr.isTTY === true;
  const lines: string[] = [];
  const found: Finding[] = [];
  for (const kind of o.kinds) {
    const totals: KindTotals = { tried: 0, outcomes: new Map(), findings: [], seconds: 0 };
    const t0 = Date.now();
    const tick = (): void => {
      if (!tty) return;
      const s = (Date.now() - t0) / 1000;
      process.stderr.write(`\r\x1b[K${kind}: ${totals.tried}/${o.count} (${Math.round(totals.tried / Math.max(s, 0.001))}/s), ${totals.findings.length} found`);
    };
    const jobs = Math.min(o.jobs, Math.max(1, o.count));
    const shards: Promise<void>[] = [];
    for (let j = 0; j < jobs; j++) {
      const lo = Math.floor((o.count * j) / jobs);
      const hi = Math.floor((o.count * (j + 1)) / jobs);
      shards.push(runShard(kind, o, lo, hi, work, j, totals, tick));
    }
    await Promise.all(shards);
    if (tty) process.stderr.write("\r\x1b[K");
    totals.seconds = (Date.now() - t0) / 1000;
    const count = (w: string): number => totals.findings.filter((f) => f.what === w).length;
    const accepted = [...totals.outcomes].filter(([k]) => !k.startsWith("rejected") && k !== "failed").reduce((a, [, v]) => a + v, 0);
    const extra = ["anomaly", "hang", "crash"].map((w) => [w, count(w)] as const).filter(([, n]) => n > 0).map(([w, n]) => `, ${n} ${w === "anomaly" ? "anomalies" : w === "crash" ? "crashes" : "hangs"}`);
    lines.push(
      `${kind}: ${totals.tried} tried, ${count("host exception")} host exceptions${extra.join("")} (${accepted} accepted; ${Math.round(totals.tried / Math.max(totals.seconds, 0.001))}/s over ${totals.seconds.toFixed(0)} s)`,
    );
    if (o.stats) {
      const top = [...totals.outcomes].sort((a, b) => b[1] - a[1]);
      process.stderr.write(`${kind} outcomes:\n${top.map(([k, v]) => `  ${String(v).padStart(9)}  ${k}`).join("\n")}\n`);
    }
    found.push(...totals.findings.sort((a, b) => a.index - b.index));
  }
  rmSync(work, { recursive: true, force: true });
  if (found.length > 0) {
    const dir = mkdtempSync(join(tmpdir(), "rar-fuzz-found-"));
    const seen = new Map<string, number>();
    let shown = 0;
    let saved = 0;
    for (const f of found) {
      if (f.dropped || saved >= 1000) continue;
      if (f.regenerate) regenerate(f, o.seed);
      const path = save(dir, f, o.seed);
      saved++;
      const sig = signature(f);
      seen.set(sig, (seen.get(sig) ?? 0) + 1);
      if (seen.get(sig) === 1 && shown < 5) {
        shown++;
        process.stderr.write(`\n${f.what} on ${f.kind} input ${f.index} (${f.how}), saved as ${path}:\n${f.error.split("\n").slice(0, 12).join("\n")}\n`);
      }
    }
    for (const t of targets.values()) t.close?.();
    process.stderr.write(`\n${found.length} finding(s), ${seen.size} distinct among the ${saved} saved under ${dir}\n`);
  }
  process.stdout.write(lines.join("\n") + "\n");
  return found.length > 0 ? 1 : 0;
}

if (process.argv.includes("--worker")) {
  process.once("message", (order: WorkOrder) => worker(order));
} else {
  main(parseArgs(process.argv.slice(2))).then((code) => process.exit(code));
}
