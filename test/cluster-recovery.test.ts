// What survives on a cluster (spec/distributed.md "Failure cases tested"):
// workers killed in the middle of a quantum, a Redis restart, and host
// effects that a recovery may make again (announced before they happen,
// reported when the run that announced them was never stored).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { announceEffect, startLeg } from "../src/cluster/jobs.js";
import { ROOT, ensureBuilt } from "./helpers/cli.js";
import { startRedis, type RedisServer } from "./helpers/redis.js";
import { rarAsync, startWorkerProcess, type WorkerProcess } from "./helpers/workers.js";

const LONG = join(ROOT, "examples", "long.ent");
/** Short BullMQ locks, so a dead worker's leg is taken back within seconds. */
const QUICK = ["--lock-duration", "1000", "--stalled-interval", "500"];

let dir: string;
const servers: RedisServer[] = [];
const workers: WorkerProcess[] = [];

interface Inspect {
  digest: string;
  root: { status: string; result: number | null; gasUsed: number };
}
const inspect = async (image: string): Promise<Inspect> => JSON.parse((await rarAsync(dir, "inspect", image, "--json")).stdout) as Inspect;

async function submit(url: string, ...args: string[]): Promise<string> {
  const r = await rarAsync(dir, "submit", ...args, "--redis", url);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout.trim().split("\n").pop() as string;
}

interface Status {
  state: string;
  legs: { leg: number; worker: string; stopped: string; effects: number }[];
  doubts: { leg: number; worker: string; cap: string; path: string }[];
}
const status = async (url: string, id: string): Promise<Status> => JSON.parse((await rarAsync(dir, "status", id, "--redis", url, "--json")).stdout) as Status;

/** Fetches the job once it ends and checks it against the local run's image and stdout. */
async function expectLikeLocal(url: string, id: string, localImage: string, localStdout: string): Promise<void> {
  const fetched = await rarAsync(dir, "fetch", id, "--redis", url, "--out", `${id}.rimg`, "--wait");
  expect(fetched.code).toBe(0);
  expect(fetched.stdout).toBe(localStdout);
  const mine = await inspect(`${id}.rimg`);
  const theirs = await inspect(localImage);
  expect(mine.digest).toBe(theirs.digest);
  expect(mine.root).toEqual({ ...mine.root, status: "done", result: theirs.root.result, gasUsed: theirs.root.gasUsed });
  expect((await rarAsync(dir, "audit", `${id}.rimg`)).stdout).toMatch(/^audit: valid/);
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-cluster-recovery-"));
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a worker killed in the middle of a quantum", () => {
  it("ten times in a row loses nothing: another worker resumes from the last stored image, and the job ends as one local run", async () => {
    const redis = await startRedis();
    servers.push(redis);
    const local = await rarAsync(dir, "run", LONG, "30000", "--gas", "100000000", "--out", "long-local.rimg");
    expect(local.code).toBe(0);
    const id = await submit(redis.url, LONG, "30000", "--gas", "100000000", "--quantum", "15000000");
    for (let i = 0; i < 10; i++) {
      const victim = startWorkerProcess(redis.url, `victim${i}`, QUICK);
      workers.push(victim);
      // The leg is running (loaded, refueled, its first slice under way): kill -9.
      await victim.waitFor((e) => e.event === "leg_running" && e.job === id, "leg running", 90_000);
      await victim.kill();
    }
    workers.push(startWorkerProcess(redis.url, "survivor", QUICK));
    await expectLikeLocal(redis.url, id, "long-local.rimg", local.stdout);
    const s = await status(redis.url, id);
    expect(s.state).toBe("done");
    expect(s.legs.at(-1)?.worker).toBe("survivor");
  }, 180_000);
});

describe("a worker shut down with SIGTERM in the middle of a quantum", () => {
  it("stores its leg where it stopped, and another worker finishes the job as one local run", async () => {
    const redis = await startRedis();
    servers.push(redis);
    // A leg of this job takes seconds: the signal lands in the middle of it.
    const local = await rarAsync(dir, "run", LONG, "60000", "--gas", "1000000000", "--out", "term-local.rimg");
    const id = await submit(redis.url, LONG, "60000", "--gas", "1000000000", "--quantum", "500000000");
    const first = startWorkerProcess(redis.url, "leaving");
    workers.push(first);
    await first.waitFor((e) => e.event === "leg_running" && e.job === id, "leg running");
    await first.stop();
    expect(first.events.some((e) => e.event === "leg_stored" && e.job === id && e.leg === 1)).toBe(true);
    const s1 = await status(redis.url, id);
    expect(s1.state).toBe("queued");
    expect(s1.legs[0]).toMatchObject({ leg: 1, worker: "leaving", stopped: "shutdown" });
    workers.push(startWorkerProcess(redis.url, "staying"));
    await expectLikeLocal(redis.url, id, "term-local.rimg", local.stdout);
  }, 120_000);
});

describe("a Redis restart in the middle of a run", () => {
  it("is ridden out: workers reconnect and continue, and the job ends as one local run", async () => {
    const aof = mkdtempSync(join(dir, "aof-"));
    const redis = await startRedis(aof);
    servers.push(redis);
    const local = await rarAsync(dir, "run", LONG, "5000", "--out", "restart-local.rimg");
    for (const n of ["r1", "r2"]) workers.push(startWorkerProcess(redis.url, n, ["--lock-duration", "2000", "--stalled-interval", "1000"]));
    const id = await submit(redis.url, LONG, "5000", "--quantum", "100000");
    await Promise.race(workers.map((w) => w.waitFor((e) => e.event === "leg_stored" && e.job === id && (e.leg as number) >= 5, "leg 5 stored")));
    await redis.stop(true);
    await redis.start();
    await expectLikeLocal(redis.url, id, "restart-local.rimg", local.stdout);
  }, 120_000);
});

describe("host effects", () => {
  const PROGRAM = `cap kv.put;
cap kv.get;
fn burn(n) { let s = 0; for i in 0..n { s = s + i % 7; } return s; }
fn main() {
  let total = 0;
  for round in 0..5 {
    kv.put("count", [round]);
    total = total + burn(150000);
    print("round", round, kv.get("count"));
  }
  return total;
}
`;

  it("are announced before they happen; the leg is stored right after, and the job ends as a local run and leaves the worker's kv file as the program wrote it", async () => {
    const redis = await startRedis();
    servers.push(redis);
    writeFileSync(join(dir, "effects.ent"), PROGRAM);
    writeFileSync(join(dir, "worker-policy.json"), JSON.stringify({ allow: ["kv.put", "kv.get"], kv: "./worker-kv.json" }));
    // The same grants as the job's (the start event records them), with the kv store in memory.
    const local = await rarAsync(dir, "run", "effects.ent", "--allow", "kv.put", "--allow", "kv.get", "--gas", "100000000", "--out", "effects-local.rimg");
    expect(local.code).toBe(0);
    workers.push(startWorkerProcess(redis.url, "e1", ["--policy", join(dir, "worker-policy.json")]));
    const id = await submit(redis.url, "effects.ent", "--allow", "kv.put", "--allow", "kv.get", "--gas", "100000000");
    await expectLikeLocal(redis.url, id, "effects-local.rimg", local.stdout);
    expect(JSON.parse(readFileSync(join(dir, "worker-kv.json"), "utf8"))).toEqual({ count: [4] });
    const s = await status(redis.url, id);
    // Each burn outlasts a slice (2^20 gas): every kv.put ends its leg at the next slice boundary.
    expect(s.legs.reduce((n, l) => n + l.effects, 0)).toBe(5);
    expect(s.legs.filter((l) => l.stopped === "effect").length).toBe(5);
    expect(s.doubts).toEqual([]);
  }, 120_000);

  it("announced by a run that died before it was stored are reported as ones that may have been made twice", async () => {
    const redis = await startRedis();
    servers.push(redis);
    writeFileSync(join(dir, "effects.ent"), PROGRAM);
    writeFileSync(join(dir, "worker-policy.json"), JSON.stringify({ allow: ["kv.put", "kv.get"], kv: "./worker-kv.json" }));
    const id = await submit(redis.url, "effects.ent", "--allow", "kv.put", "--allow", "kv.get");
    // A worker claims leg 1, announces its first kv.put and dies before storing anything.
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      expect(await startLeg(client, id, { leg: 1, worker: "ghost", attempt: "ghost#1" })).toBe("ok");
      await announceEffect(client, id, { leg: 1, worker: "ghost", attempt: "ghost#1", n: 0, cap: "kv.put", path: "0" });
    } finally {
      client.disconnect();
    }
    workers.push(startWorkerProcess(redis.url, "heir", ["--policy", join(dir, "worker-policy.json")]));
    const fetched = await rarAsync(dir, "fetch", id, "--redis", redis.url, "--out", "heir.rimg", "--wait");
    expect(fetched.code).toBe(0);
    const s = await status(redis.url, id);
    expect(s.state).toBe("done");
    expect(s.doubts).toEqual([expect.objectContaining({ leg: 1, worker: "ghost", cap: "kv.put", path: "0" })]);
    expect(s.legs[0].worker).toBe("heir");
    expect((await rarAsync(dir, "status", id, "--redis", redis.url)).stdout).toContain("may have been made twice");
  }, 120_000);
});
