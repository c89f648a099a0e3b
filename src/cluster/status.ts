// What `rar status`, `rar fetch` and `rar cancel` read and change: a job's
// state, its legs (the worker of each), its gas, why it stopped, the host
// effects that may have been made twice, and its image and stdout.

import type { Redis } from "ioredis";
import { RarError } from "../vm/errors.js";
import { FINAL_STATES, JOB_ID, endJob, readDoubts, readEffects, readJob, readLegs, readOutput, type EffectMarker, type JobRecord, type LegRecord } from "./jobs.js";
import { dropLeg, legQueue } from "./queue.js";
import { joinImage } from "./store.js";

export interface JobStatus {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly state: string;
  readonly reason: string;
  /** The stored image's root. */
  readonly status: string;
  readonly result: number | null;
  readonly gasUsed: number;
  readonly gasCap: number;
  readonly quantum: number;
  readonly memUsed: number;
  readonly memLimit: number;
  readonly digest: string;
  readonly imageDigest: string;
  readonly legs: readonly LegRecord[];
  /** The leg in flight and its worker, if any. */
  readonly running: { leg: number; worker: string } | null;
  /** Host effects of the leg in flight (announced, not yet stored). */
  readonly effects: readonly EffectMarker[];
  /** Host effects announced by runs that died or were overtaken before they were stored: each may have been made twice. */
  readonly doubts: readonly EffectMarker[];
}

export function checkJobId(id: string): string {
  if (!JOB_ID.test(id)) throw new RarError("usage.job_id", `'${id}' is not a job id (like j42, as rar submit prints)`);
  return id;
}

async function record(redis: Redis, id: string): Promise<JobRecord> {
  const rec = await readJob(redis, checkJobId(id));
  if (rec === null) throw new RarError("usage.no_job", `no job ${id} in this Redis`);
  return rec;
}

export async function jobStatus(redis: Redis, id: string): Promise<JobStatus> {
  const rec = await record(redis, id);
  const [legs, effects, doubts] = await Promise.all([readLegs(redis, id), readEffects(redis, id), readDoubts(redis, id)]);
  return {
    id,
    name: rec.name,
    queue: rec.queue,
    state: rec.state,
    reason: rec.reason,
    status: rec.status,
    result: rec.result,
    gasUsed: rec.gasUsed,
    gasCap: rec.gasCap,
    quantum: rec.quantum,
    memUsed: rec.memUsed,
    memLimit: rec.memLimit,
    digest: rec.digest,
    imageDigest: rec.imageDigest,
    legs,
    running: rec.running && rec.state === "running" ? { leg: rec.running.leg, worker: rec.running.worker } : null,
    effects,
    doubts,
  };
}

const effectText = (m: EffectMarker): string => `leg ${m.leg} on ${m.worker}: ${m.cap} by process ${m.path}`;

/** The view for people. */
export function formatStatus(s: JobStatus): string {
  const lines: string[] = [];
  const result = s.result !== null ? ` result=${s.result}` : "";
  lines.push(`job ${s.id} (${s.name}, queue ${s.queue}): ${s.state}${s.state === "done" ? result : ""}`);
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  if (s.running) lines.push(`  running leg ${s.running.leg} on ${s.running.worker}`);
  lines.push(`  root: ${s.status}${result}, gas ${s.gasUsed} of ${s.gasCap}${s.quantum > 0 ? ` (quantum ${s.quantum})` : ""}, mem ${s.memUsed}/${s.memLimit}`);
  lines.push(`  digest ${s.digest}  image ${s.imageDigest}`);
  lines.push(`  legs stored: ${s.legs.length}`);
  for (const l of s.legs)
    lines.push(`    leg ${l.leg}  ${l.worker}  ${l.status} gas ${l.gasUsed}  stdout ${l.stdout} bytes  stopped: ${l.stopped}${l.effects > 0 ? `  host effects ${l.effects}` : ""}`);
  if (s.effects.length > 0) {
    lines.push(`  host effects of the leg in flight (not stored yet):`);
    for (const m of s.effects) lines.push(`    ${effectText(m)}`);
  }
  if (s.doubts.length > 0) {
    lines.push(`  host effects that may have been made twice (announced by a run that was never stored; the leg was run again):`);
    for (const m of s.doubts) lines.push(`    ${effectText(m)}`);
  }
  return lines.join("\n") + "\n";
}

/** Polls until the job is in a final state; returns its record. */
export async function waitForEnd(redis: Redis, id: string, signal?: AbortSignal): Promise<JobRecord> {
  let delay = 50;
  for (;;) {
    const rec = await record(redis, id);
    if (FINAL_STATES.has(rec.state) || signal?.aborted) return rec;
    await new Promise((done) => setTimeout(done, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/** The job's stored image (the newest), its stdout so far, and its record. */
export async function fetchJob(redis: Redis, id: string, wait: boolean, signal?: AbortSignal): Promise<{ job: JobRecord; image: Uint8Array; stdout: string }> {
  const job = wait ? await waitForEnd(redis, id, signal) : await record(redis, id);
  // Read image and stdout in one transaction, so they belong to the same stored leg.
  const [image, stdout] = await consistent(redis, job);
  return { job: (await readJob(redis, id)) ?? job, image, stdout };
}

async function consistent(redis: Redis, job: JobRecord): Promise<[Uint8Array, string]> {
  for (;;) {
    const before = await readJob(redis, job.id);
    if (before === null) throw new RarError("usage.no_job", `no job ${job.id} in this Redis`);
    const stdout = await readOutput(redis, job.id);
    const after = await readJob(redis, job.id);
    if (after !== null && after.legs === before.legs) {
      const image = await joinImage(redis, after.image.head, after.image.modules, after.image.tail, `job ${job.id}`);
      return [image, stdout];
    }
  }
}

/** Cancels a job that has not ended: no further leg runs (a leg in flight is still stored). Returns the state it had. */
export async function cancelJob(redis: Redis, id: string): Promise<string> {
  const rec = await record(redis, id);
  if (FINAL_STATES.has(rec.state)) return rec.state;
  const r = await endJob(redis, id, null, "cancelled", "cancelled");
  const queue = legQueue(rec.queue, redis);
  try {
    await dropLeg(queue, id, rec.legs + 1);
  } finally {
    await queue.close();
  }
  return r === "ok" ? rec.state : r;
}
