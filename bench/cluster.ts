// Jobs across machines on this machine (spec/distributed.md): a private
// redis-server on a free loopback port and `rar worker` processes. Not part
// of `npm run bench` (it needs Debian's redis-server):
//
//   npm run build && node dist/bench/cluster.js [--json] [--legs N] [--jobs N]
//
// hop_ms       median time from one stored leg to the next of a job whose
//              root holds 1 M words of memory and runs 10,000 gas per leg:
//              suspend, snapshot, store (Lua script), enqueue, dequeue,
//              join, load (verify), refuel, resume; one worker
// jobs_per_s   tiny jobs (one leg each) submitted in a burst, with 1, 2 and
//              4 workers, from the first submit to the last job done
// gp_evals_per_s  `rar gp` evaluations per second (its report's evals_per_s)
//              locally and with --redis on 1 and 2 workers

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { compileSource } from "../lang/ent/compile.js";
import { loadPolicy } from "../src/caps/policy.js";
import { FINAL_STATES, jobKey } from "../src/cluster/jobs.js";
import { submitJob, type Submission } from "../src/cluster/submit.js";
import { verify } from "../src/vm/verify.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

interface Options {
  json: boolean;
  legs: number;
  jobs: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { json: false, legs: 30, jobs: 200 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") o.json = true;
    else if (a === "--legs" || a === "--jobs") {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 3) throw new Error(`${a} takes an integer of at least 3`);
      o[a === "--legs" ? "legs" : "jobs"] = n;
    } else throw new Error(`unknown argument '${a}' (usage: node dist/bench/cluster.js [--json] [--legs N] [--jobs N])`);
  }
  return o;
}

const progress = (s: string): void => {
  if (process.stderr.isTTY) process.stderr.write(`${s}\n`);
};

async function freePort(): Promise<number> {
  return await new Promise((found) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => found(port));
    });
  });
}

async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  if (spawnSync("redis-server", ["--version"]).status !== 0) throw new Error("redis-server is not installed (apt-get install redis-server)");
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
  probe.on("error", () => {});
  await probe.ping();
  probe.disconnect();
  return { url, child };
}

interface Worker {
  child: ChildProcess;
  /** Every JSON event line of its stderr. */
  events: Record<string, unknown>[];
  ready: Promise<void>;
}

function startWorker(url: string, name: string, extra: readonly string[]): Worker {
  const child = spawn(process.execPath, [CLI, "worker", "--redis", url, "--name", name, ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  const events: Record<string, unknown>[] = [];
  let buffered = "";
  let markReady = (): void => {};
  const ready = new Promise<void>((r) => (markReady = r));
  child.stderr?.on("data", (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        events.push(e);
        if (e.event === "worker_ready") markReady();
      } catch {
        // not an event line
      }
    }
  });
  return { child, events, ready };
}

async function stop(workers: readonly Worker[]): Promise<void> {
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((done) => {
          if (w.child.exitCode !== null) return done();
          w.child.once("exit", () => done());
          w.child.kill("SIGKILL");
        }),
    ),
  );
}

function program(source: string, gas: number, mem: number): Submission {
  const module = verify(compileSource(source).modules[0]);
  return { kind: "program", module, linked: [], args: [], gas, mem };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A root holding 1 M words that loops for ever: each leg runs 10,000 gas of it. */
const BIG = `fn main() {
  let a = array(1000000);
  let s = 0;
  let i = 0;
  while 1 { s = s + a[i % 1000000]; i = i + 1; }
  return s;
}
`;

async function hop(url: string, redis: Redis, legs: number): Promise<number> {
  const w = startWorker(url, "hop", ["--queue", "hop", "--quantum", "10000"]);
  await w.ready;
  const policy = loadPolicy({ defaults: ["io.print"] });
  const id = await submitJob(redis, program(BIG, 1_000_000_000, 2_000_000), { queue: "hop", policy, quantum: 0, name: "big.ent" });
  const stored = (): Record<string, unknown>[] => w.events.filter((e) => e.event === "leg_stored" && e.job === id);
  while (stored().length < legs) await sleep(50);
  await stop([w]);
  const times = stored().map((e) => e.t as number);
  // The first legs include the worker's own warm-up (and the allocation): leave two out.
  const gaps = times.slice(3).map((t, i) => t - times[i + 2]);
  return median(gaps);
}

const TINY = `fn main() { return 1; }\n`;

async function throughput(url: string, redis: Redis, workers: number, jobs: number): Promise<number> {
  const queue = `tiny${workers}`;
  const ws = Array.from({ length: workers }, (_, i) => startWorker(url, `t${workers}.${i}`, ["--queue", queue]));
  await Promise.all(ws.map((w) => w.ready));
  const policy = loadPolicy({ defaults: ["io.print"] });
  const tiny = program(TINY, 1_000_000, 1024);
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < jobs; i++) ids.push(await submitJob(redis, tiny, { queue, policy, quantum: 0, name: "tiny.ent" }));
  for (;;) {
    const batch = redis.pipeline();
    for (const id of ids) batch.hget(jobKey(id), "state");
    const states = ((await batch.exec()) ?? []).map(([, s]) => String(s));
    if (states.every((s) => FINAL_STATES.has(s))) break;
    await sleep(20);
  }
  const seconds = (performance.now() - t0) / 1000;
  await stop(ws);
  return jobs / seconds;
}

// The best program goes to a scratch file: rar replaces what it writes, so --out /dev/null would replace the device (refused now).
const GP_OUT = join(mkdtempSync(join(tmpdir(), "rar-bench-gp-")), "best.rmod");
const GP = ["gp", "--problem", "smallest", "--seed", "1", "--pop", "400", "--gens", "6", "--json", "--out", GP_OUT];

function gpRate(extra: readonly string[]): number {
  const r = spawnSync(process.execPath, [CLI, ...GP, ...extra], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`rar gp exited ${String(r.status)}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { evals_per_s: number }).evals_per_s;
}

async function gpThroughput(url: string, workers: number): Promise<number> {
  const queue = `gp${workers}`;
  const ws = Array.from({ length: workers }, (_, i) => startWorker(url, `g${workers}.${i}`, ["--queue", queue]));
  await Promise.all(ws.map((w) => w.ready));
  try {
    return gpRate(["--redis", url, "--queue", queue]);
  } finally {
    await stop(ws);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const server = await startRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  try {
    progress(`hop: ${o.legs} legs of a 1 M-word process`);
    const hopMs = await hop(server.url, redis, o.legs);
    const rates: Record<string, number> = {};
    for (const n of [1, 2, 4]) {
      progress(`jobs_per_s: ${o.jobs} tiny jobs, ${n} worker(s)`);
      rates[`jobs_per_s_${n}w`] = await throughput(server.url, redis, n, o.jobs);
    }
    progress("gp_evals_per_s: local, then 1 and 2 workers");
    rates.gp_evals_per_s_local = gpRate([]);
    for (const n of [1, 2]) rates[`gp_evals_per_s_${n}w`] = await gpThroughput(server.url, n);
    const metrics = { hop_ms: Math.round(hopMs * 10) / 10, ...Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v * 10) / 10])) };
    if (o.json) process.stdout.write(`${JSON.stringify(metrics)}\n`);
    else for (const [k, v] of Object.entries(metrics)) process.stdout.write(`${k.padEnd(16)} ${v}\n`);
  } finally {
    redis.disconnect();
    server.child.kill("SIGTERM");
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench cluster: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
