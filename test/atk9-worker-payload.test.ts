// Attacks on a worker through the queue itself (spec/distributed.md §1, §3):
// a BullMQ job on the legs' queue is untrusted input like an image. One whose
// data is not `{job: "jN", leg: K}` (K a whole number from 1), or that names
// a job submitted to another queue, runs nothing and changes no job: the
// worker says so in one event and goes on serving the queue.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, ensureBuilt } from "./helpers/cli.js";
import { startRedis, type RedisServer } from "./helpers/redis.js";
import { rarAsync, startWorkerProcess, type WorkerProcess } from "./helpers/workers.js";

const LONG = join(ROOT, "examples", "long.ent");

let redis: RedisServer;
let dir: string;
let worker: WorkerProcess;
let conn: Redis;
let queue: Queue;

interface Status {
  state: string;
  legs: { leg: unknown; worker: string }[];
}
const status = async (id: string): Promise<Status> => JSON.parse((await rarAsync(dir, "status", id, "--redis", redis.url, "--json")).stdout) as Status;

async function submit(...args: string[]): Promise<string> {
  const r = await rarAsync(dir, "submit", ...args, "--redis", redis.url);
  expect(r.code).toBe(0);
  return r.stdout.trim().split("\n").pop() as string;
}

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "rar-atk9-payload-"));
  redis = await startRedis();
  conn = new Redis(redis.url, { maxRetriesPerRequest: null });
  queue = new Queue("rar", { connection: conn });
  worker = startWorkerProcess(redis.url, "wp", ["--quantum", "200000"]);
  await worker.waitFor((e) => e.event === "worker_ready", "start");
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await queue?.close();
  conn?.disconnect();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a leg whose BullMQ data is not {job, leg}", () => {
  it("is dropped with one leg_malformed event naming the BullMQ job; the worker is not taken for a Redis error and serves the next job (was: redis_error 'Cannot read properties of null', legs '1.0' and '0x1' claimed as leg 1)", async () => {
    const bad: [string, unknown][] = [
      ["m-null", null],
      ["m-str", "j1-1"],
      ["m-empty", {}],
      ["m-obj-job", { job: { a: 1 }, leg: 1 }],
      ["m-arr-leg", { job: "j1", leg: [1] }],
      ["m-zero", { job: "j1", leg: 0 }],
      ["m-frac", { job: "j1", leg: 1.5 }],
      ["m-hex", { job: "j1", leg: "0x1" }],
      ["m-text", { job: "j1", leg: "1.0" }],
      ["m-path", { job: "../j1", leg: 1 }],
      ["m-huge", { job: "j" + "1".repeat(100_000), leg: 1 }],
    ];
    // A job that has not run yet: none of the bad legs may claim it.
    const stopped = await submit(LONG, "300", "--queue", "parked");
    expect(stopped).toBe("j1");
    for (const [id, data] of bad) await queue.add("leg", data as never, { jobId: id, attempts: 1 });
    for (const [id] of bad) await worker.waitFor((e) => e.event === "leg_malformed" && e.id === id, `leg_malformed for ${id}`, 20_000);
    expect(worker.events.filter((e) => e.event === "redis_error" || e.event === "leg_error")).toEqual([]);
    const s = await status("j1");
    expect(s.state).toBe("queued");
    expect(s.legs).toEqual([]);
    // The worker still serves the queue.
    const id = await submit(LONG, "300");
    const fetched = await rarAsync(dir, "fetch", id, "--redis", redis.url, "--out", "ok.rimg", "--wait");
    expect(fetched.code).toBe(0);
    expect(worker.child.exitCode).toBeNull();
  }, 90_000);

  it("a job whose memory limit is more than the worker runs (--max-mem, default 2^26 words) is refused before it runs (was: run, with whatever memory the submitter asked for)", async () => {
    const id = await submit(LONG, "300", "--mem", String(100_000_000));
    let s = await status(id);
    for (let i = 0; i < 400 && s.state !== "refused" && s.state !== "done"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      s = await status(id);
    }
    expect(s.state).toBe("refused");
    expect(s.legs).toEqual([]);
    const full = JSON.parse((await rarAsync(dir, "status", id, "--redis", redis.url, "--json")).stdout) as { reason: string };
    expect(full.reason).toMatch(/memory limit is 100000000 words, more than this worker runs \(--max-mem 67108864\)/);
  }, 60_000);

  it("a leg on this queue of a job submitted to another queue runs nothing there: skipped with why 'queue' (was: run, and its next leg moved to this queue)", async () => {
    const id = await submit(LONG, "300", "--queue", "elsewhere");
    await queue.add("leg", { job: id, leg: 1 }, { jobId: `${id}-1`, attempts: 1 });
    const e = await worker.waitFor((x) => x.event === "leg_skipped" && x.job === id, "leg_skipped", 20_000);
    expect(e.why).toBe("queue");
    const s = await status(id);
    expect(s.state).toBe("queued");
    expect(s.legs).toEqual([]);
    expect(worker.events.some((x) => x.event === "leg_started" && x.job === id)).toBe(false);
  }, 60_000);
});
