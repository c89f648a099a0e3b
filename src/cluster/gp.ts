// Genetic programming across machines (`rar gp --redis URL`): each
// generation's population is evaluated on the workers, in batches of
// distinct candidates, one BullMQ job per batch on the queue QUEUE-gp. The
// driver puts the outcomes back in population order, so the run (selection,
// breeding, the report) is the local run's for the same seed whatever the
// number of workers and whatever order batches end in.
//
// The seam into the GP harness is narrow: DistributedGpRun is a GpRun whose
// evaluate() answers the population's training evaluation from outcomes
// fetched by prepare() before step(); every other evaluation (the few
// solvers tried on all training cases or the test cases, a down-sampled
// generation) runs locally as before. A worker rebuilds the problem from its
// name and seed (or the cases the driver sends), and each candidate from its
// module's bytes in Redis (content-addressed, verified again on the worker).

import { Queue, QueueEvents, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { problemFromCases } from "../../gp/cases.js";
import type { ProblemRef } from "../../gp/checkpoint.js";
import { MAX_EVAL_GAS, MAX_EVAL_MEM, encodeCases, evaluateAll, failedOutcome, type CaseBlock, type Outcome } from "../../gp/evaluate.js";
import type { Genome } from "../../gp/genome.js";
import { builtinProblem, type Problem } from "../../gp/problems.js";
import { GpRun, type GpConfig, type RunState } from "../../gp/run.js";
import { warmUp } from "../../gp/warmup.js";
import { RarError } from "../vm/errors.js";
import { decodeModule, type Module } from "../vm/module.js";
import { verify } from "../vm/verify.js";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex } from "@noble/hashes/utils";
import { closeConnection, commandConnection, workerConnection } from "./connection.js";
import { DEFAULT_QUEUE, checkQueueName } from "./queue.js";
import { moduleKey } from "./store.js";

/** Distinct candidates per batch job. */
export const GP_BATCH = 32;

/** The queue of GP batches beside a queue of legs. */
export const gpQueueName = (queue: string): string => `${queue}-gp`;

/** What a batch job carries: the problem (by name and seed, or its cases), the limits, and the candidates' module digests. */
interface BatchData {
  readonly problem: ProblemRef;
  readonly seed: number;
  readonly gas: number;
  readonly mem: number;
  readonly memWeight: number;
  readonly modules: readonly string[];
}

/** An Outcome as JSON (its Float64Arrays as arrays; every number finite, so JSON keeps it exactly). */
interface WireOutcome {
  errors: number[];
  total: number;
  gas: number;
  mem: number;
  cost: number[];
  stopped: Outcome["stopped"];
}

const toWire = (o: Outcome): WireOutcome => ({ ...o, errors: Array.from(o.errors), cost: Array.from(o.cost), stopped: { ...o.stopped } });
const fromWire = (o: WireOutcome): Outcome => ({ ...o, errors: Float64Array.from(o.errors), cost: Float64Array.from(o.cost) });

const hashOf = (bytes: Uint8Array): string => bytesToHex(sha256(bytes));

function problemOf(ref: ProblemRef, seed: number): Problem {
  return ref.cases !== undefined ? problemFromCases(ref.cases, "gp batch: cases", ref.name, seed, ref.preset) : builtinProblem(ref.name, seed, ref.preset);
}

/**
 * A batch job's data as the queue holds it (anything a client of that Redis
 * wrote): the limits within the harness's and this worker's (`--max-mem`:
 * every candidate may grow its memory to the batch's limit), else the job
 * fails naming why. The problem is checked where it is built.
 */
function checkedBatch(data: unknown, maxMem: number): BatchData {
  const d = data as Partial<BatchData> | null;
  const count = (x: unknown, max: number): boolean => Number.isSafeInteger(x) && (x as number) >= 1 && (x as number) <= max;
  if (d === null || typeof d !== "object" || !Array.isArray(d.modules) || !d.modules.every((m) => typeof m === "string") || typeof d.problem !== "object" || d.problem === null)
    throw new RarError("usage.gp_batch", "gp batch: not a batch of this rar's (problem, seed, gas, mem, memWeight, modules)");
  if (!Number.isSafeInteger(d.seed) || !count(d.gas, MAX_EVAL_GAS) || !Number.isFinite(d.memWeight) || d.modules.length > GP_BATCH)
    throw new RarError("usage.gp_batch", "gp batch: its seed, gas limit, memory weight or number of modules is out of range");
  if (!count(d.mem, Math.min(MAX_EVAL_MEM, maxMem)))
    throw new RarError("usage.gp_batch", `gp batch: a memory limit of ${String(d.mem)} words per evaluation, more than this worker runs (--max-mem ${maxMem})`);
  return d as BatchData;
}

/**
 * The worker side: evaluates batches from QUEUE-gp. Candidates run as the
 * harness runs them locally (sandboxed children with no capability), so
 * this serves no authority of the worker's.
 */
export function startGpService(redis: Redis, queue: string, name: string, onError: (e: Error) => void, maxMem: number): Worker<BatchData, WireOutcome[]> {
  const problems = new Map<string, { problem: Problem; train: CaseBlock }>();
  const modules = new Map<string, Module>();
  const worker = new Worker<BatchData, WireOutcome[]>(
    gpQueueName(queue),
    async (job: Job<BatchData>) => {
      const d = checkedBatch(job.data, maxMem);
      const key = JSON.stringify([d.problem, d.seed]);
      let p = problems.get(key);
      if (!p) {
        const problem = problemOf(d.problem, d.seed);
        p = { problem, train: encodeCases(problem.train, problem.layout.stride) };
        problems.clear();
        problems.set(key, p);
      }
      const missing = d.modules.filter((m) => !modules.has(m));
      const bytes = missing.length > 0 ? await redis.mgetBuffer(...missing.map(moduleKey)) : [];
      missing.forEach((digest, i) => {
        const b = bytes[i];
        if (b === null || hashOf(b) !== digest) throw new RarError("io.module_missing", `gp batch: module ${digest.slice(0, 16)}… is not in Redis`);
        modules.set(digest, verify(decodeModule(b, "gp batch")));
      });
      warmUp();
      const r = evaluateAll(d.modules.map((m) => modules.get(m) as Module), p.train, p.problem, { gas: d.gas, mem: d.mem }, d.memWeight);
      // Candidates change every generation: keep the cache to the last few batches.
      if (modules.size > 8 * GP_BATCH) modules.clear();
      return r.outcomes.map(toWire);
    },
    { connection: redis, name, concurrency: 1 },
  );
  worker.on("error", onError);
  return worker;
}

/** Why a worker failed a batch (its text as Redis holds it: any client may have written it, so cut short), as this run's error. */
function batchFailed(e: unknown): never {
  const why = e instanceof Error ? e.message : String(e);
  throw new RarError("usage.gp_batch", `a worker failed a batch: ${why.length > 300 ? `${why.slice(0, 300)}…` : why}`);
}

/** A GpRun whose population is evaluated on the cluster (see the top of this file). */
export class DistributedGpRun extends GpRun {
  private prefetched: { genomes: readonly Genome[]; outcomes: Outcome[]; evaluations: number } | null = null;

  private constructor(
    problem: Problem,
    config: GpConfig,
    state: RunState | undefined,
    private readonly ref: ProblemRef,
    private readonly redis: Redis,
    private readonly queue: Queue<BatchData, WireOutcome[]>,
    private readonly events: QueueEvents,
    private readonly eventsConnection: Redis,
  ) {
    super(problem, config, state);
  }

  static async connect(problem: Problem, ref: ProblemRef, config: GpConfig, state: RunState | undefined, redis: Redis, queue: string): Promise<DistributedGpRun> {
    const q = new Queue<BatchData, WireOutcome[]>(gpQueueName(queue), { connection: redis });
    const blocking = redis.duplicate();
    const events = new QueueEvents(gpQueueName(queue), { connection: blocking });
    await events.waitUntilReady();
    return new DistributedGpRun(problem, config, state, ref, redis, q, events, blocking);
  }

  /** Evaluates the current population on the workers; the next step() uses the outcomes. */
  async prepare(): Promise<void> {
    if (this.finished) return;
    const t0 = performance.now();
    const genomes = this.state.population;
    const modules = genomes.map((g) => this.module(g));
    const unique = new Map<string, Module>();
    for (const m of modules) if (m) unique.set(hashOf(m.bytes), m);
    const digests = [...unique.keys()];
    const store = this.redis.pipeline();
    for (const [d, m] of unique) store.set(moduleKey(d), Buffer.from(m.bytes), "NX");
    await store.exec();
    const c = this.config;
    // Every batch is added before any is awaited, and a finished batch stays
    // until its result is read: a fast worker may finish one before the wait
    // starts (a job removed on completion would then be "missing"), and a
    // batch that fails while others are still being added must not be an
    // unhandled rejection.
    const added: Job<BatchData, WireOutcome[]>[] = [];
    for (let i = 0; i < digests.length; i += GP_BATCH) {
      const data: BatchData = { problem: this.ref, seed: c.seed, gas: c.gas, mem: c.mem, memWeight: c.memWeight, modules: digests.slice(i, i + GP_BATCH) };
      added.push(await this.queue.add("batch", data, { removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 }, attempts: 3 }));
    }
    const byDigest = new Map<string, Outcome>();
    const results = await Promise.all(added.map((job) => (job.waitUntilFinished(this.events) as Promise<WireOutcome[]>).catch(batchFailed)));
    // Read: the batches may go (best effort; Redis drops them after an hour anyway).
    await Promise.all(added.map((job) => job.remove().catch(() => undefined)));
    results.forEach((batch, b) => batch.forEach((o, k) => byDigest.set(digests[b * GP_BATCH + k], fromWire(o))));
    const count = this.problem.train.length;
    const failed = failedOutcome(count, this.problem.penalty);
    const outcomes = modules.map((m) => (m ? (byDigest.get(hashOf(m.bytes)) as Outcome) : failed));
    // As evaluateAll counts: distinct modules (by their digest) times cases.
    const distinct = new Set(modules.flatMap((m) => (m ? [m.digest] : []))).size;
    this.prefetched = { genomes, outcomes, evaluations: distinct * count };
    this.seconds += (performance.now() - t0) / 1000;
  }

  /** The prefetched outcomes for the population on all training cases; anything else locally. */
  override evaluate(genomes: readonly Genome[], block?: CaseBlock): Outcome[] {
    const p = this.prefetched;
    this.prefetched = null;
    if (p && genomes === p.genomes && block !== undefined && block.count === this.problem.train.length) {
      this.state.evaluations += p.evaluations;
      return p.outcomes;
    }
    return block === undefined ? super.evaluate(genomes) : super.evaluate(genomes, block);
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
    await closeConnection(this.eventsConnection);
  }
}

/** Connects to the cluster (checked first: an unreachable Redis is one clear error) and starts a distributed run. */
export async function openDistributedRun(
  url: string,
  queue: string | undefined,
  problem: Problem,
  ref: ProblemRef,
  config: GpConfig,
  state: RunState | undefined,
): Promise<DistributedGpRun & { disconnect(): Promise<void> }> {
  await closeConnection(await commandConnection(url));
  const redis = workerConnection(url, () => {});
  const run = await DistributedGpRun.connect(problem, ref, config, state, redis, checkQueueName(queue ?? DEFAULT_QUEUE));
  return Object.assign(run, {
    async disconnect() {
      await run.close();
      await closeConnection(redis);
    },
  });
}
