// A worker (`rar worker`): takes legs from the BullMQ queue and runs each
// under its own policy (leg.ts), then stores the leg: modules first (content-
// addressed, idempotent), then image, stdout and leg record in one Lua
// script (jobs.ts), and only then enqueues the next leg and lets BullMQ
// complete this one. A worker that dies anywhere in between loses only the
// leg in flight: its BullMQ lock expires, BullMQ's stalled-job check puts
// the leg back, and another worker runs it again from the last stored image.

import { hostname } from "node:os";
import { Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Policy } from "../caps/policy.js";
import { RarError } from "../vm/errors.js";
import { workerConnection } from "./connection.js";
import { JOB_ID, announceEffect, jobKey, commitLeg, endJob, readJob, rootFields, startLeg, type Running } from "./jobs.js";
import { startGpService } from "./gp.js";
import { runLeg } from "./leg.js";
import { checkQueueName, enqueueLeg, legQueue, type LegData } from "./queue.js";
import { joinImage, splitImage, storeModules } from "./store.js";

/** Default gas per leg. */
export const DEFAULT_QUANTUM = 10_000_000;
/** Default largest root memory limit a worker runs, in words (64 times rar run's default). */
export const DEFAULT_MAX_MEM = 1 << 26;

export interface WorkerOptions {
  readonly redis: string;
  readonly queue: string;
  readonly policy: Policy;
  /** Most gas per leg (a job may ask for less). */
  readonly quantum: number;
  /** Recorded in the trace and the job's legs. Default host:pid. */
  readonly name?: string;
  /** BullMQ's lock on a leg (ms): a worker silent that long is taken for dead. */
  readonly lockDuration?: number;
  /** How often this worker looks for legs whose lock expired (ms). */
  readonly stalledInterval?: number;
  /** How many times one leg may be taken back from a dead worker before the job fails. */
  readonly maxStalled?: number;
  /** One line per event (leg started, stored, refused...), for logs and tests. */
  readonly log?: (event: Record<string, unknown>) => void;
  /** Aborted to shut down: the leg in flight stops at an instruction boundary and is stored (then call close()). */
  readonly signal?: AbortSignal;
  /** Largest root memory limit (words) of a job this worker runs; default DEFAULT_MAX_MEM. */
  readonly maxMem?: number;
}

export interface RunningWorker {
  readonly name: string;
  /** Stops taking legs, stores the one in flight (stopped at an instruction boundary) and closes. */
  close(): Promise<void>;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A BullMQ job's data as a leg, or null: the queue is untrusted input like an
 * image, and only `{job: "jN", leg: K}` (K a whole number from 1) names a leg.
 * (Lua's tonumber reads "0x1", " 1" or String([1]) as 1: a leg given so would
 * claim leg 1, and `K + 1` would name no leg.)
 */
export function legOf(data: unknown): LegData | null {
  if (typeof data !== "object" || data === null) return null;
  const { job, leg } = data as Record<string, unknown>;
  if (typeof job !== "string" || !JOB_ID.test(job)) return null;
  if (typeof leg !== "number" || !Number.isSafeInteger(leg) || leg < 1) return null;
  return { job, leg };
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const name = opts.name ?? `${hostname()}:${process.pid}`;
  const log = opts.log ?? (() => {});
  let lastError = "";
  const onError = (e: Error): void => {
    // ioredis reports each failed reconnection: say it once per cause.
    if (e.message !== lastError) log({ event: "redis_error", message: e.message });
    lastError = e.message;
  };
  const redis: Redis = workerConnection(opts.redis, onError);
  const queue = legQueue(checkQueueName(opts.queue), redis);
  queue.on("error", onError);
  const shutdown = new AbortController();
  if (opts.signal?.aborted) shutdown.abort();
  opts.signal?.addEventListener("abort", () => shutdown.abort(), { once: true });
  let runs = 0;

  async function leg(job: string, k: number): Promise<void> {
    // A leg of a job submitted to another queue is not this worker's to run (queues separate authority: §3).
    const queued = await redis.hget(jobKey(job), "queue");
    if (queued !== null && queued !== opts.queue) {
      log({ event: "leg_skipped", job, leg: k, why: "queue" });
      return;
    }
    const attempt = `${name}#${++runs}`;
    const run: Running = { leg: k, worker: name, attempt };
    const claimed = await startLeg(redis, job, run);
    if (claimed !== "ok") {
      // A leg stored before (its worker died before enqueueing the next): enqueue the next again (idempotent).
      if (claimed === `at:${k}`) await enqueueLeg(queue, job, k + 1);
      log({ event: "leg_skipped", job, leg: k, why: claimed });
      return;
    }
    lastError = "";
    log({ event: "leg_started", job, leg: k, worker: name });
    const rec = await readJob(redis, job);
    if (rec === null) return;
    const where = `job ${job}`;
    let image: Uint8Array;
    try {
      image = await joinImage(redis, rec.image.head, rec.image.modules, rec.image.tail, where);
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
      await endJob(redis, job, k, "failed", e.message);
      log({ event: "leg_failed", job, leg: k, reason: e.message });
      return;
    }
    const quantum = rec.quantum > 0 ? Math.min(rec.quantum, opts.quantum) : opts.quantum;
    const markers: string[] = [];
    log({ event: "leg_running", job, leg: k, quantum });
    let outcome;
    try {
      outcome = await runLeg(image, {
        policy: opts.policy,
        quantum,
        gasCap: rec.gasCap,
        worker: name,
        where,
        signal: shutdown.signal,
        maxMem: opts.maxMem ?? DEFAULT_MAX_MEM,
        beforeEffect: async (cap, path) => {
          markers.push(await announceEffect(redis, job, { leg: k, worker: name, attempt, n: markers.length, cap, path }));
        },
      });
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
      await endJob(redis, job, k, "failed", e.message);
      log({ event: "leg_failed", job, leg: k, reason: e.message });
      return;
    }
    if (outcome.kind === "refused") {
      await endJob(redis, job, k, "refused", `refused by worker ${name}: ${outcome.reason}`);
      log({ event: "leg_refused", job, leg: k, reason: outcome.reason });
      return;
    }
    const split = splitImage(outcome.image);
    await storeModules(redis, split);
    const r = outcome.result;
    const stored = await commitLeg(
      redis,
      job,
      k,
      {
        state: outcome.state,
        reason: outcome.reason,
        ...rootFields(r),
        imageDigest: split.imageDigest,
        digest: outcome.digest,
        worker: name,
        image: split,
      },
      outcome.stdout,
      { leg: k, worker: name, status: r.status, gasUsed: r.gasUsed, stdout: Buffer.byteLength(outcome.stdout), stopped: outcome.stopped, effects: outcome.effects },
      markers,
    );
    log({ event: "leg_stored", job, leg: k, stored, state: outcome.state, gasUsed: r.gasUsed });
    if (stored === "ok" && outcome.state === "queued") await enqueueLeg(queue, job, k + 1);
  }

  let worker: Worker<LegData>;
  let gp: ReturnType<typeof startGpService> | null = null;
  try {
    worker = new Worker<LegData>(
      opts.queue,
      async (j: Job<LegData>) => {
        const data = legOf(j.data);
        if (data === null) {
          // Not a leg: nothing to run or store; the data itself is not echoed (it may be huge).
          log({ event: "leg_malformed", id: String(j.id).slice(0, 100) });
          return;
        }
        const { job, leg: k } = data;
        try {
          await leg(job, k);
        } catch (e) {
          // Not the guest's doing nor the image's: a bug or a lost server. Say so in the job and let BullMQ fail the leg.
          log({ event: "leg_error", job, leg: k, message: message(e) });
          throw e;
        }
      },
      {
        connection: redis,
        name,
        concurrency: 1,
        // BullMQ takes an undefined option for a given one: only what was set.
        ...(opts.lockDuration !== undefined ? { lockDuration: opts.lockDuration } : {}),
        ...(opts.stalledInterval !== undefined ? { stalledInterval: opts.stalledInterval } : {}),
        maxStalledCount: opts.maxStalled ?? 32,
        autorun: true,
      },
    );
    worker.on("error", onError);
    // A leg BullMQ gave up on (taken back from dead workers too often, or a processor error): the job fails with the reason.
    worker.on("failed", (j: Job<LegData> | undefined, e: Error) => {
      const data = legOf(j?.data);
      if (!j || !data) return;
      void endJob(redis, data.job, null, "failed", `leg ${data.leg}: ${e.message}`)
        .then((r) => log({ event: "job_failed", job: data.job, leg: data.leg, reason: e.message, was: r }))
        .catch(() => {});
    });
    worker.on("stalled", (id: string) => log({ event: "leg_stalled", id }));
    await worker.waitUntilReady();
    // GP batches (rar gp --redis) on the queue beside the legs'.
    gp = startGpService(redis, opts.queue, name, onError, opts.maxMem ?? DEFAULT_MAX_MEM);
    await gp.waitUntilReady();
    log({ event: "worker_ready", worker: name, queue: opts.queue, quantum: opts.quantum });
  } catch (e) {
    // Nothing may keep the process alive after a failed start.
    await gp?.close().catch(() => {});
    await queue.close().catch(() => {});
    redis.disconnect();
    throw e;
  }

  return {
    name,
    async close() {
      shutdown.abort();
      await Promise.all([worker.close(), gp?.close()]);
      await queue.close();
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
}
