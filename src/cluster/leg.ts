// One leg of a job: load the stored image under this worker's own policy
// (authority never travels: the image's grants are requests, negotiated
// exactly as `rar resume` does before anything runs), give the root at most
// one quantum of gas more than it has used (never past the job's gas cap),
// run it, and take its image. Nothing here touches Redis; the worker stores
// what a leg gives (worker.ts).

import type { Policy } from "../caps/policy.js";
import { Session, type RunResult } from "../session.js";
import { RarError } from "../vm/errors.js";
import { StatusCode } from "../vm/opcodes.js";
import type { JobState, LegRecord } from "./jobs.js";

export interface LegOptions {
  /** This worker's policy: the only authority the leg runs with. */
  readonly policy: Policy;
  /** Gas for this leg. */
  readonly quantum: number;
  /** The root's gas limit the job may reach in all. */
  readonly gasCap: number;
  /** Recorded with the host resume that starts the leg. */
  readonly worker: string;
  /** Names the job in errors. */
  readonly where: string;
  /** Awaited before each host effect (fs writes, kv.put to a file); the leg then stops at the next slice to be stored. */
  readonly beforeEffect?: (cap: string, path: string) => Promise<void>;
  /** Aborted when the worker shuts down: the leg stops at an instruction boundary and is stored. */
  readonly signal?: AbortSignal;
  /** Largest root memory limit (words) this worker runs: a job asking more is refused before it runs. */
  readonly maxMem?: number;
}

/** What a leg gave. */
export type LegOutcome =
  | { readonly kind: "refused"; readonly reason: string }
  | {
      readonly kind: "ran";
      readonly image: Uint8Array;
      readonly digest: string;
      readonly stdout: string;
      readonly result: RunResult;
      /** The job's next state: queued (another leg), or final. */
      readonly state: JobState;
      readonly reason: string;
      readonly stopped: LegRecord["stopped"];
      readonly effects: number;
    };

/** Why a job whose root stopped as `r` does not go on (its final state and reason), or queued. */
function next(r: RunResult, gasCap: number, early: boolean): { state: JobState; reason: string } {
  switch (r.status) {
    case "done":
      return { state: "done", reason: "" };
    case "fault":
      return { state: "faulted", reason: r.fault ?? "fault" };
    case "out_of_gas":
      if (r.gasLimit < gasCap || early) return { state: "queued", reason: "" };
      return { state: "suspended", reason: `used the job's gas (${r.gasUsed} of ${gasCap}): fetch the image and resume it, or submit it with more --gas` };
    case "out_of_mem":
      return { state: "suspended", reason: `out of memory (${r.memUsed} of ${r.memLimit} words): fetch the image and resume it with --mem` };
    case "yielded":
      return { state: "suspended", reason: `the root yielded ${r.value ?? 0}: fetch the image to continue it` };
    default:
      return { state: "suspended", reason: `the root stopped ${r.status}` };
  }
}

/** Whether a root in this state can be continued by a leg (a submitted yielded image continues, as `rar resume` does). */
function runnable(status: number): boolean {
  return status === StatusCode.READY || status === StatusCode.OUT_OF_GAS || status === StatusCode.YIELDED;
}

export async function runLeg(image: Uint8Array, opts: LegOptions): Promise<LegOutcome> {
  let stdout = "";
  let effects = 0;
  const stop = new AbortController();
  let why: LegRecord["stopped"] = "quantum";
  const onShutdown = (): void => {
    if (why === "quantum") why = "shutdown";
    stop.abort();
  };
  if (opts.signal?.aborted) onShutdown();
  opts.signal?.addEventListener("abort", onShutdown);
  let session: Session;
  try {
    session = Session.fromImage(image, {
      where: opts.where,
      policy: opts.policy,
      stdout: (t) => void (stdout += t),
      stdin: () => null,
      hostName: opts.worker,
      beforeEffect: async (cap, path) => {
        await opts.beforeEffect?.(cap, path);
        effects++;
        // Store the leg soon after an effect, so that few effects lie between it and the next stored image.
        if (why === "quantum") why = "effect";
        stop.abort();
      },
    });
  } catch (e) {
    opts.signal?.removeEventListener("abort", onShutdown);
    if (e instanceof RarError && e.phase === "policy") return { kind: "refused", reason: e.message };
    throw e;
  }
  try {
    const root = session.root;
    // The job's limits are the submitter's; the host memory they cost is this worker's (budgets nest: the root's bounds the tree).
    if (opts.maxMem !== undefined && root.memLimit > opts.maxMem)
      return { kind: "refused", reason: `the job's memory limit is ${root.memLimit} words, more than this worker runs (--max-mem ${opts.maxMem})` };
    let r: RunResult;
    if (runnable(root.status)) {
      // At least what the refused instruction needs: a quantum smaller than one bulk instruction must still progress.
      const need = root.status === StatusCode.OUT_OF_GAS ? root.need : 0;
      const target = Math.min(root.gasUsed + Math.max(opts.quantum, need), opts.gasCap);
      if (target > root.gasLimit) session.refuel(target - root.gasLimit);
      // The signal also slices the run, so the worker's event loop renews its BullMQ lock meanwhile.
      r = await session.runAsync({ signal: stop.signal });
    } else r = session.result();
    const early = stop.signal.aborted && r.status === "out_of_gas";
    const { state, reason } = next(r, opts.gasCap, early);
    return {
      kind: "ran",
      image: session.snapshot(),
      digest: session.digest(),
      stdout,
      result: r,
      state,
      reason,
      stopped: state === "queued" ? (early ? why : "quantum") : "end",
      effects,
    };
  } finally {
    opts.signal?.removeEventListener("abort", onShutdown);
  }
}
