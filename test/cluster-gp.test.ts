// Genetic programming across machines (`rar gp --redis`): populations are
// evaluated in batches on the workers, and the report is the local run's for
// the same seed whatever the number of workers and the order batches end in.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "./helpers/cli.js";
import { startRedis, type RedisServer } from "./helpers/redis.js";
import { rarAsync, startWorkerProcess, type WorkerProcess } from "./helpers/workers.js";

let redis: RedisServer;
let dir: string;
const workers: WorkerProcess[] = [];

const GP = ["gp", "--problem", "smallest", "--seed", "5", "--pop", "120", "--gens", "4", "--json", "--out", "best.rmod"];

/** The report without its wall-clock figures. */
function report(stdout: string): Record<string, unknown> {
  const r = JSON.parse(stdout) as Record<string, unknown>;
  delete r.evals_per_s;
  delete r.seconds;
  return r;
}

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-cluster-gp-"));
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("rar gp --redis", () => {
  it("gives the local run's report for the same seed, with one worker and with three", async () => {
    const local = await rarAsync(dir, ...GP);
    expect(local.code).toBe(0);
    const expected = report(local.stdout);
    expect(expected.evaluations).toBeGreaterThan(0);

    workers.push(startWorkerProcess(redis.url, "g1"));
    await workers[0].waitFor((e) => e.event === "worker_ready", "start");
    const one = await rarAsync(dir, ...GP, "--redis", redis.url);
    expect(one.stderr).toBe("");
    expect(report(one.stdout)).toEqual(expected);

    for (const n of ["g2", "g3"]) workers.push(startWorkerProcess(redis.url, n));
    await Promise.all(workers.map((w) => w.waitFor((e) => e.event === "worker_ready", "start")));
    const three = await rarAsync(dir, ...GP, "--redis", redis.url);
    expect(three.code).toBe(0);
    expect(report(three.stdout)).toEqual(expected);
  }, 120_000);

  it("a worker runs no GP batch whose memory limit is over its --max-mem: the run fails in one line naming it (exit 2)", async () => {
    const capped = startWorkerProcess(redis.url, "small", ["--queue", "capped", "--max-mem", "1000"]);
    workers.push(capped);
    await capped.waitFor((e) => e.event === "worker_ready", "start");
    const r = await rarAsync(dir, ...GP, "--mem", "5000", "--redis", redis.url, "--queue", "capped");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rar: error: .*a worker failed a batch: gp batch: a memory limit of 5000 words per evaluation, more than this worker runs \(--max-mem 1000\)/);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  }, 120_000);

  it("says in one line when Redis cannot be reached (exit 2)", async () => {
    const r = await rarAsync(dir, ...GP, "--redis", "redis://127.0.0.1:1");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rar: error: .*cannot reach Redis/);
  });
});
