// Submitting a job (`rar submit`): the submitter builds the initial image on
// its own machine, under its own policy (so a job can only ask for what the
// submitter grants: each worker then grants by its own), stores it and
// enqueues the first leg.

import type { Module } from "../vm/module.js";
import type { Policy } from "../caps/policy.js";
import { Session } from "../session.js";
import type { Redis } from "ioredis";
import { createJob, newJobId, rootFields } from "./jobs.js";
import { enqueueLeg, legQueue } from "./queue.js";
import { splitImage, storeModules } from "./store.js";

/** A program to start, or an image to continue. */
export type Submission =
  | { readonly kind: "program"; readonly module: Module; readonly linked: readonly Module[]; readonly args: readonly (number | string)[]; readonly gas: number; readonly mem: number }
  | { readonly kind: "image"; readonly bytes: Uint8Array; readonly gas: number; readonly mem: number };

export interface SubmitOptions {
  readonly queue: string;
  /** The submitter's policy: the job's root asks for these grants (a program), or must be covered by them (an image). */
  readonly policy: Policy;
  /** Gas per leg the job asks for (0: each worker's own). */
  readonly quantum: number;
  /** Names the file in the job's record and in errors. */
  readonly name: string;
}

/**
 * The job's initial session: a program starts with no gas yet (each leg
 * refuels the root by its quantum, up to the job's gas cap); an image keeps
 * its limits (memory raised by `mem`). Its gas cap: `gas` for a program,
 * the image's limit plus `gas` for an image.
 */
function initial(s: Submission, opts: SubmitOptions): { session: Session; gasCap: number } {
  if (s.kind === "program") {
    const session = Session.start(s.module, { gas: 0, mem: s.mem, args: s.args, policy: opts.policy, linked: s.linked, stdout: () => {} });
    return { session, gasCap: s.gas };
  }
  const session = Session.fromImage(s.bytes, { where: opts.name, policy: opts.policy, stdout: () => {}, stdin: () => null });
  if (s.mem > 0) session.refuel(0, s.mem);
  return { session, gasCap: session.root.gasLimit + s.gas };
}

/** Stores the job and enqueues its first leg; returns its id. */
export async function submitJob(redis: Redis, s: Submission, opts: SubmitOptions): Promise<string> {
  const { session, gasCap } = initial(s, opts);
  const image = session.snapshot();
  const split = splitImage(image);
  const r = session.result();
  await storeModules(redis, split);
  const id = await newJobId(redis);
  await createJob(redis, id, {
    name: opts.name,
    queue: opts.queue,
    gasCap,
    quantum: opts.quantum,
    ...rootFields(r),
    imageDigest: split.imageDigest,
    digest: session.digest(),
    image: split,
  });
  const queue = legQueue(opts.queue, redis);
  try {
    await enqueueLeg(queue, id, 1);
  } finally {
    await queue.close();
  }
  return id;
}
