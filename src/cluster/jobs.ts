// A job's record in Redis and every change to it (spec/distributed.md).
// Each change that must not interleave with another is one Lua script, so
// Redis runs it atomically: a leg's image, its stdout and its leg record are
// stored together or not at all, and only by the run of the leg the job is
// at (a run that lost its lock and was overtaken stores nothing).
//
//   rar:jobs              counter of job ids (j1, j2, ...)
//   rar:job:ID            hash: the job (fields below), its image cut around its modules
//   rar:job:ID:out        list: stdout of each stored leg, in order
//   rar:job:ID:legs       list: one JSON record per stored leg (worker, gas, why it stopped)
//   rar:job:ID:effects    list: host effects announced by the leg in flight (not yet stored)
//   rar:job:ID:doubts     list: effects announced by a run that was never stored: they may be made twice
//   rar:mod:SHA256        a code module's bytes (store.ts), shared by every job

import type { Redis } from "ioredis";
import type { RunResult } from "../session.js";

/** Where a job is. queued and running go on; the others are final. */
export type JobState = "queued" | "running" | "done" | "faulted" | "suspended" | "refused" | "cancelled" | "failed";
export const FINAL_STATES: ReadonlySet<string> = new Set(["done", "faulted", "suspended", "refused", "cancelled", "failed"]);

export const jobKey = (id: string): string => `rar:job:${id}`;
const outKey = (id: string): string => `rar:job:${id}:out`;
const legsKey = (id: string): string => `rar:job:${id}:legs`;
const effectsKey = (id: string): string => `rar:job:${id}:effects`;
const doubtsKey = (id: string): string => `rar:job:${id}:doubts`;
const keysOf = (id: string): string[] => [jobKey(id), outKey(id), legsKey(id), effectsKey(id), doubtsKey(id)];

/** A job id as `rar submit` prints it. */
export const JOB_ID = /^j[1-9][0-9]{0,15}$/;

/** One stored leg. */
export interface LegRecord {
  /** 1 for the first leg. */
  readonly leg: number;
  readonly worker: string;
  /** The root's status and gasUsed when the leg was stored. */
  readonly status: string;
  readonly gasUsed: number;
  /** Bytes the leg printed. */
  readonly stdout: number;
  /** Why the leg stopped: its quantum was spent, the run ended, or the worker stored it early (after a host effect, or shutting down). */
  readonly stopped: "quantum" | "end" | "effect" | "shutdown";
  /** Host effects the leg made (each announced before it happened). */
  readonly effects: number;
}

/** A host effect announced before it happens (Session's beforeEffect). */
export interface EffectMarker {
  /** The leg being run, its worker and which run of it (a leg may be run again after a crash). */
  readonly leg: number;
  readonly worker: string;
  readonly attempt: string;
  /** Order within the run. */
  readonly n: number;
  readonly cap: string;
  readonly path: string;
}

/** The leg in flight. */
export interface Running {
  readonly leg: number;
  readonly worker: string;
  readonly attempt: string;
}

/** The stored image, cut around its modules (store.ts). */
export interface StoredImage {
  readonly head: Uint8Array;
  readonly modules: readonly string[];
  readonly tail: Uint8Array;
}

/** A job as stored. */
export interface JobRecord {
  readonly id: string;
  /** The file submitted. */
  readonly name: string;
  readonly queue: string;
  readonly state: JobState;
  /** Why it was refused, faulted, suspended, cancelled or failed ("" otherwise). */
  readonly reason: string;
  /** Legs stored so far (the next leg to run is legs + 1). */
  readonly legs: number;
  /** The root's gas limit the job may reach in all (a spent job is suspended). */
  readonly gasCap: number;
  /** Gas per leg the submitter asked for (0: the worker's). */
  readonly quantum: number;
  /** The stored image's root. */
  readonly status: string;
  readonly result: number | null;
  readonly gasUsed: number;
  readonly gasLimit: number;
  readonly memUsed: number;
  readonly memLimit: number;
  readonly imageDigest: string;
  readonly digest: string;
  /** Who stored the last leg ("" before the first). */
  readonly worker: string;
  readonly running: Running | null;
  readonly image: StoredImage;
}

/** The root's outcome as a job records it, from a run's result (submit and every stored leg). */
export function rootFields(r: RunResult): { status: string; result: number | null; gasUsed: number; gasLimit: number; memUsed: number; memLimit: number } {
  return { status: r.status, result: r.value ?? null, gasUsed: r.gasUsed, gasLimit: r.gasLimit, memUsed: r.memUsed, memLimit: r.memLimit };
}

/** The fields a stored leg sets (besides legs, output and records). */
export interface LegFields {
  state: JobState;
  reason: string;
  status: string;
  result: number | null;
  gasUsed: number;
  gasLimit: number;
  memUsed: number;
  memLimit: number;
  imageDigest: string;
  digest: string;
  worker: string;
  image: StoredImage;
}

function fieldArgs(f: Omit<LegFields, "image"> & { image: StoredImage }): (string | Buffer)[] {
  return [
    "state", f.state,
    "reason", f.reason,
    "status", f.status,
    "result", f.result === null ? "" : String(f.result),
    "gasUsed", String(f.gasUsed),
    "gasLimit", String(f.gasLimit),
    "memUsed", String(f.memUsed),
    "memLimit", String(f.memLimit),
    "imageDigest", f.imageDigest,
    "digest", f.digest,
    "worker", f.worker,
    "imageHead", Buffer.from(f.image.head),
    "imageModules", f.image.modules.join(" "),
    "imageTail", Buffer.from(f.image.tail),
  ]; // prettier-ignore
}

/** A fresh job id. */
export async function newJobId(redis: Redis): Promise<string> {
  return `j${await redis.incr("rar:jobs")}`;
}

/** Stores a new job, queued at its first leg. */
export async function createJob(redis: Redis, id: string, job: { name: string; queue: string; gasCap: number; quantum: number } & Omit<LegFields, "state" | "reason" | "worker">): Promise<void> {
  await redis.hset(jobKey(id), [
    "name", job.name,
    "queue", job.queue,
    "legs", "0",
    "gasCap", String(job.gasCap),
    "quantum", String(job.quantum),
    ...fieldArgs({ ...job, state: "queued", reason: "", worker: "" }),
  ]); // prettier-ignore
}

const FINAL_LUA = `local final = {done=true, faulted=true, suspended=true, refused=true, cancelled=true, failed=true}`;

/**
 * Claims leg `leg` (1-based) for a run: "ok", or why not: "gone" (no such
 * job), a final state, or "at:N" (the job has stored N legs, not leg - 1).
 * Effects announced by an earlier run of this leg that never stored its
 * image move to the doubts: this run may make them again.
 */
const START = `${FINAL_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local state = redis.call('HGET', KEYS[1], 'state')
if final[state] then return state end
local legs = tonumber(redis.call('HGET', KEYS[1], 'legs'))
if legs + 1 ~= tonumber(ARGV[1]) then return 'at:' .. legs end
for _, m in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do redis.call('RPUSH', KEYS[5], m) end
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[1], 'state', 'running', 'running', ARGV[2])
return 'ok'`;

export async function startLeg(redis: Redis, id: string, run: Running): Promise<string> {
  return String(await redis.eval(START, 5, ...keysOf(id), String(run.leg), JSON.stringify(run)));
}

/** Announces a host effect of the run in flight (awaited before the effect happens). */
export async function announceEffect(redis: Redis, id: string, marker: EffectMarker): Promise<string> {
  const text = JSON.stringify(marker);
  await redis.rpush(effectsKey(id), text);
  return text;
}

/**
 * Stores leg ARGV[1]: the image and fields, its stdout and record, and
 * clears its run's effect markers (they are in the image's trace now). A run
 * of a leg that is already stored stores nothing, and its markers move to
 * the doubts. A job cancelled, refused or failed meanwhile keeps that state
 * (its newest image is still stored). Returns "ok", "stale", "gone" or the
 * final state kept.
 */
const COMMIT = `${FINAL_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local m = tonumber(ARGV[4])
local legs = tonumber(redis.call('HGET', KEYS[1], 'legs'))
if legs + 1 ~= tonumber(ARGV[1]) then
  -- (a marker no longer among the effects was moved to the doubts when the leg was claimed again)
  for i = 1, m do
    if redis.call('LREM', KEYS[4], 1, ARGV[4 + i]) > 0 then redis.call('RPUSH', KEYS[5], ARGV[4 + i]) end
  end
  return 'stale'
end
for i = 1, m do redis.call('LREM', KEYS[4], 1, ARGV[4 + i]) end
local state = redis.call('HGET', KEYS[1], 'state')
local keep = final[state]
for i = 5 + m, #ARGV, 2 do
  local f = ARGV[i]
  if not (keep and (f == 'state' or f == 'reason')) then redis.call('HSET', KEYS[1], f, ARGV[i + 1]) end
end
redis.call('HSET', KEYS[1], 'legs', legs + 1)
redis.call('HDEL', KEYS[1], 'running')
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
if keep then return state end
return 'ok'`;

export async function commitLeg(redis: Redis, id: string, leg: number, fields: LegFields, stdout: string, record: LegRecord, markers: readonly string[]): Promise<string> {
  const args: (string | Buffer)[] = [String(leg), stdout, JSON.stringify(record), String(markers.length), ...markers, ...fieldArgs(fields)];
  return String(await redis.eval(COMMIT, 5, ...keysOf(id), ...args));
}

/** Ends a job that is not final yet (refused or failed at leg ARGV[1], or any leg when it is ""): "ok", "gone", "at:N" or the final state it already had. */
const END = `${FINAL_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local state = redis.call('HGET', KEYS[1], 'state')
if final[state] then return state end
if ARGV[1] ~= '' then
  local legs = tonumber(redis.call('HGET', KEYS[1], 'legs'))
  if legs + 1 ~= tonumber(ARGV[1]) then return 'at:' .. legs end
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'reason', ARGV[3])
redis.call('HDEL', KEYS[1], 'running')
return 'ok'`;

export async function endJob(redis: Redis, id: string, leg: number | null, state: "refused" | "failed" | "cancelled", reason: string): Promise<string> {
  return String(await redis.eval(END, 5, ...keysOf(id), leg === null ? "" : String(leg), state, reason));
}

function num(x: Buffer | undefined, fallback = 0): number {
  const n = x === undefined || x.length === 0 ? NaN : Number(x.toString());
  return Number.isFinite(n) ? n : fallback;
}

/** The job, or null when Redis holds none by that id. */
export async function readJob(redis: Redis, id: string): Promise<JobRecord | null> {
  const h = await redis.hgetallBuffer(jobKey(id));
  if (!h || Object.keys(h).length === 0) return null;
  const text = (k: string): string => h[k]?.toString() ?? "";
  let running: Running | null = null;
  try {
    running = h.running ? (JSON.parse(h.running.toString()) as Running) : null;
  } catch {
    running = null;
  }
  const modules = text("imageModules");
  return {
    id,
    name: text("name"),
    queue: text("queue"),
    state: text("state") as JobState,
    reason: text("reason"),
    legs: num(h.legs),
    gasCap: num(h.gasCap),
    quantum: num(h.quantum),
    status: text("status"),
    result: text("result") === "" ? null : num(h.result),
    gasUsed: num(h.gasUsed),
    gasLimit: num(h.gasLimit),
    memUsed: num(h.memUsed),
    memLimit: num(h.memLimit),
    imageDigest: text("imageDigest"),
    digest: text("digest"),
    worker: text("worker"),
    running,
    image: { head: h.imageHead ?? new Uint8Array(0), modules: modules === "" ? [] : modules.split(" "), tail: h.imageTail ?? new Uint8Array(0) },
  };
}

/** The job's stdout: every stored leg's, in order. */
export async function readOutput(redis: Redis, id: string): Promise<string> {
  return (await redis.lrange(outKey(id), 0, -1)).join("");
}

function parsed<T>(lines: string[]): T[] {
  return lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as T];
    } catch {
      return [];
    }
  });
}

/** The stored legs, in order. */
export async function readLegs(redis: Redis, id: string): Promise<LegRecord[]> {
  return parsed<LegRecord>(await redis.lrange(legsKey(id), 0, -1));
}

/** Host effects that may have been made twice (announced by runs that were never stored). */
export async function readDoubts(redis: Redis, id: string): Promise<EffectMarker[]> {
  return parsed<EffectMarker>(await redis.lrange(doubtsKey(id), 0, -1));
}

/** Effects announced by the leg in flight. */
export async function readEffects(redis: Redis, id: string): Promise<EffectMarker[]> {
  return parsed<EffectMarker>(await redis.lrange(effectsKey(id), 0, -1));
}
