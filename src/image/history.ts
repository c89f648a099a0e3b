// What a host session carries from image to image besides its process tree:
// the initial state (kept from the start, its digest computed when first
// needed), the policy digest, the trace and, for a traced run, the debug part. A session started from a module
// records its fresh root; a session loaded from an image continues the
// image's history.

import { Process } from "../process/process.js";
import { RarError } from "../vm/errors.js";
import type { Module } from "../vm/module.js";
import { policyDigest, stateDigest } from "./digest.js";
import { RUNTIME_VERSION, emptyTrace, type DebugPart, type ImageMeta, type TraceSlot } from "./format.js";

/** A copy of a process that has not started (the initial state of a run). */
export function freshCopy(p: Process): Process {
  if (p.fp !== 0 || p.children.size > 0) throw new RarError("usage.not_fresh", `process ${p.path} has already started`);
  const q = new Process(p.module, p.entryFn, p.stack.subarray(0, p.sp), p.mem.slice(0, p.memSize), p.gasLimit, p.memLimit, [...p.caps], [...p.traps], null, 0);
  q.memUsed = p.memUsed;
  return q;
}

export class ImageHistory {
  private originDigest: Uint8Array | null;
  private policyBytes: Uint8Array | null;
  private policyText = "";
  /** Checkpoints and sources for the debugger (a traced run's); null when the run is not traced. */
  debug: DebugPart | null = null;

  private constructor(
    readonly originRoot: Process | null,
    originDigest: Uint8Array | null,
    policy: Uint8Array | null,
    /** The trace slot (filled by the trace layer). */
    public trace: TraceSlot,
  ) {
    this.originDigest = originDigest;
    this.policyBytes = policy;
  }

  /** The history of a run that starts at `root` (not started yet) under the policy whose canonical text is `policyText`. */
  static start(root: Process, policyText = ""): ImageHistory {
    const h = new ImageHistory(freshCopy(root), null, null, emptyTrace());
    h.policyText = policyText;
    return h;
  }

  /** The history an image carries. */
  static of(meta: ImageMeta): ImageHistory {
    const h = new ImageHistory(meta.origin.root, meta.origin.digest, meta.policy, meta.trace);
    h.debug = meta.debug ?? null;
    return h;
  }

  /** The image fields besides the tree, as this runtime writes them. */
  meta(resolve: (digest: string) => Module | undefined): ImageMeta {
    const origin = this.originRoot;
    if (this.originDigest === null) this.originDigest = stateDigest(origin as Process, emptyTrace(), resolve);
    if (this.policyBytes === null) this.policyBytes = policyDigest((origin as Process).caps, this.policyText);
    return {
      runtime: RUNTIME_VERSION,
      policy: this.policyBytes,
      origin: { digest: this.originDigest, root: origin },
      trace: this.trace,
      debug: this.debug,
    };
  }
}
