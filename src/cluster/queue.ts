// The BullMQ queue of legs. A BullMQ job is one leg of a rar job: its data
// names the rar job and the leg, and its id (JOB-LEG) makes enqueueing a leg
// idempotent, so a worker that stored a leg and died before enqueueing the
// next can have that done again by whoever reruns the stale leg.

import { Queue, type JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import { RarError } from "../vm/errors.js";

/** The queue workers take legs from unless --queue names another. */
export const DEFAULT_QUEUE = "rar";

/** What a leg's BullMQ job carries. */
export interface LegData {
  readonly job: string;
  readonly leg: number;
}

/** Finished legs stay an hour (so a rerun of a stale leg cannot enqueue its successor twice), failed ones a day. */
const LEG_OPTIONS: JobsOptions = {
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 86_400 },
  attempts: 1,
};

export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new RarError("usage.queue", `'${name}' is not a queue name (letters, digits, _ . -, at most 64)`, "--queue");
  return name;
}

export const legJobId = (job: string, leg: number): string => `${job}-${leg}`;

export function legQueue(name: string, connection: Redis): Queue<LegData> {
  return new Queue<LegData>(checkQueueName(name), { connection });
}

/** Enqueues leg `leg` of `job` (a no-op if that leg's BullMQ job exists). */
export async function enqueueLeg(queue: Queue<LegData>, job: string, leg: number): Promise<void> {
  await queue.add("leg", { job, leg }, { ...LEG_OPTIONS, jobId: legJobId(job, leg) });
}

/** Removes leg `leg` of `job` from the queue if it waits there (a leg being run stays: its worker stores it, the job is cancelled). */
export async function dropLeg(queue: Queue<LegData>, job: string, leg: number): Promise<void> {
  try {
    await queue.remove(legJobId(job, leg));
  } catch {
    // Locked by a worker right now: that run finds the job cancelled when it stores its leg.
  }
}
