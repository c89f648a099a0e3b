// Jobs across machines, against a real redis-server (spec/distributed.md):
// a job jumps between workers leg by leg and ends exactly as one local run;
// authority comes from each worker's own policy; a job can be cancelled.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ensureBuilt } from "./helpers/cli.js";
import { startRedis, type RedisServer } from "./helpers/redis.js";
import { rarAsync, startWorkerProcess, type WorkerProcess } from "./helpers/workers.js";

const LONG = join(ROOT, "examples", "long.ent");

let redis: RedisServer;
let dir: string;
const workers: WorkerProcess[] = [];

interface Inspect {
  digest: string;
  root: { status: string; result: number | null; gasUsed: number };
}

const inspect = async (image: string): Promise<Inspect> => JSON.parse((await rarAsync(dir, "inspect", image, "--json")).stdout) as Inspect;

async function submit(...args: string[]): Promise<string> {
  const r = await rarAsync(dir, "submit", ...args, "--redis", redis.url);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const id = r.stdout.trim().split("\n").pop() as string;
  expect(id).toMatch(/^j[0-9]+$/);
  return id;
}

interface Status {
  state: string;
  reason: string;
  status: string;
  gasUsed: number;
  legs: { leg: number; worker: string }[];
}

const status = async (id: string): Promise<Status> => JSON.parse((await rarAsync(dir, "status", id, "--redis", redis.url, "--json")).stdout) as Status;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-cluster-"));
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a job on three workers", () => {
  it("runs over 20 legs and ends with the stdout, result, gasUsed and digest of one local run; its audit names the worker of each leg", async () => {
    const local = await rarAsync(dir, "run", LONG, "5000", "--out", "local.rimg");
    expect(local.code).toBe(0);
    const names = ["w1", "w2", "w3"];
    for (const n of names) workers.push(startWorkerProcess(redis.url, n, ["--quantum", "200000"]));
    await Promise.all(workers.map((w) => w.waitFor((e) => e.event === "worker_ready", "start")));

    const id = await submit(LONG, "5000");
    const fetched = await rarAsync(dir, "fetch", id, "--redis", redis.url, "--out", "job.rimg", "--wait");
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toBe(local.stdout);

    const mine = await inspect("job.rimg");
    const theirs = await inspect("local.rimg");
    expect(mine.digest).toBe(theirs.digest);
    expect(mine.root).toMatchObject({ status: "done", result: theirs.root.result, gasUsed: theirs.root.gasUsed });

    const s = await status(id);
    expect(s.state).toBe("done");
    expect(s.legs.length).toBeGreaterThanOrEqual(20);
    for (const l of s.legs) expect(names).toContain(l.worker);

    const audit = await rarAsync(dir, "audit", "job.rimg", "--json");
    expect(audit.code).toBe(0);
    const report = JSON.parse(audit.stdout) as { valid: boolean; trace: { legs: { by?: string }[] } };
    expect(report.valid).toBe(true);
    expect(report.trace.legs.map((l) => l.by)).toEqual(s.legs.map((l) => l.worker));
    expect((await rarAsync(dir, "audit", "job.rimg")).stdout).toContain(`leg 1 from event`);
  });
});

describe("authority stays with each worker", () => {
  it("refuses, before anything runs, a job that asks for a capability its worker does not grant, and says why in its status", async () => {
    writeFileSync(join(dir, "clock.ent"), "cap clock.now;\nfn main() { print(\"now\", clock.now()); return 7; }\n");
    const id = await submit("clock.ent", "--allow", "clock.now");
    // The three workers of this file hold io.print only (their default policy).
    let s = await status(id);
    for (let i = 0; i < 600 && s.state !== "refused"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await status(id);
    }
    expect(s.state).toBe("refused");
    expect(s.reason).toContain("clock.now");
    expect(s.legs).toEqual([]);
    expect(s.gasUsed).toBe(0);
    const fetched = await rarAsync(dir, "fetch", id, "--redis", redis.url, "--out", "refused.rimg");
    expect(fetched.code).toBe(2);
    expect(fetched.stdout).toBe("");
    expect((await inspect("refused.rimg")).root).toMatchObject({ status: "ready", gasUsed: 0 });
  });

  it("does not submit a program that needs a capability the submitter's own policy does not grant", async () => {
    const r = await rarAsync(dir, "submit", "clock.ent", "--redis", redis.url);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("clock.now");
    expect(r.stdout).toBe("");
  });

  it("names a job that does not exist, and a malformed id, in one line (exit 2)", async () => {
    const missing = await rarAsync(dir, "status", "j999999", "--redis", redis.url);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^rar: error: no job j999999/);
    const bad = await rarAsync(dir, "status", "../x", "--redis", redis.url);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("not a job id");
  });

  it("says in one line when Redis cannot be reached (exit 2)", async () => {
    const r = await rarAsync(dir, "status", "j1", "--redis", "redis://127.0.0.1:1");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^rar: error: .*cannot reach Redis/);
  });
});

describe("cancel", () => {
  it("stops a job before its next leg; fetch then gives its newest image (exit 3)", async () => {
    const id = await submit(LONG, "--queue", "idle");
    const c = await rarAsync(dir, "cancel", id, "--redis", redis.url);
    expect(c.code).toBe(0);
    expect(c.stdout).toContain("cancelled");
    expect((await status(id)).state).toBe("cancelled");
    const f = await rarAsync(dir, "fetch", id, "--redis", redis.url, "--out", "cancelled.rimg");
    expect(f.code).toBe(3);
    expect(readFileSync(join(dir, "cancelled.rimg")).length).toBeGreaterThan(0);
    expect((await rarAsync(dir, "cancel", id, "--redis", redis.url)).stdout).toContain("already cancelled");
  });
});
