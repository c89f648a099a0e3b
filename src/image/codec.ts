// The image codec a Machine uses for the guest SNAPSHOT and RESTORE
// instructions. A guest snapshot starts a new history: its initial state is
// the snapshot itself (digest recorded, tree not repeated) and its trace is
// empty. Restoring verifies everything (decodeImage); the scheduler then
// re-parents the tree, narrows its capabilities and charges its footprint.

import type { Process } from "../process/process.js";
import type { ImageCodec } from "../process/scheduler.js";
import type { Scheduler } from "../process/slow.js";
import type { Module } from "../vm/module.js";
import { decodeImage, type DecodedImage } from "./decode.js";
import { policyDigest, stateDigest } from "./digest.js";
import { encodeImage } from "./encode.js";
import { RUNTIME_VERSION, emptyTrace } from "./format.js";

/** What the codec uses of a machine: its limits and its module table (a Machine is one). */
export type CodecHost = Pick<Scheduler, "maxDepth" | "cpu" | "code">;

/** A resolver of module digests over a machine's module table. */
export function resolverOf(machine: CodecHost): (digest: string) => Module | undefined {
  return (d) => machine.code.modules.get(d);
}

/**
 * Decodes image bytes with the machine's limits. Modules the machine holds
 * are shared (not verified again). The host adopts the image's other modules
 * into the machine (so `SPAWNX` finds linked ones); a guest's restore does
 * not, so restoring ever-new code cannot pin host memory (its processes keep
 * their own references), as for SPAWNC. `traceView`: see DecodeOptions.
 */
export function decodeFor(bytes: Uint8Array, machine: CodecHost, where = "image", adopt = true, traceView = false): DecodedImage {
  const img = decodeImage(bytes, {
    maxDepth: machine.maxDepth,
    memMax: machine.cpu.memMax,
    where,
    traceView,
    known: (d) => machine.code.modules.get(d) ?? recentModule(d),
  });
  for (const m of img.modules) {
    if (adopt) machine.code.intern(m);
    remember(m);
  }
  return img;
}

/**
 * Modules verified by recent decodes in this host process, by digest: a
 * module is immutable once verified and its digest is the SHA-256 of its
 * bytes, so an image holding the same bytes again (a session restored into a
 * fresh machine, a checkpoint) shares it instead of verifying it again, as a
 * machine shares the modules it holds. Held weakly and at most RECENT_MODULES
 * of them, so nothing is kept alive that no process or machine holds.
 */
const RECENT_MODULES = 64;
const recent = new Map<string, WeakRef<Module>>();

function recentModule(digest: string): Module | undefined {
  const ref = recent.get(digest);
  const m = ref?.deref();
  if (ref !== undefined && m === undefined) recent.delete(digest);
  return m;
}

function remember(m: Module): void {
  if (recent.get(m.digest)?.deref() === m) return;
  recent.delete(m.digest);
  if (recent.size >= RECENT_MODULES) recent.delete(recent.keys().next().value as string);
  recent.set(m.digest, new WeakRef(m));
}

export const imageCodec: ImageCodec = {
  encode(p: Process, machine: CodecHost): Uint8Array {
    const resolve = resolverOf(machine);
    const trace = emptyTrace();
    const meta = {
      runtime: RUNTIME_VERSION,
      policy: policyDigest(p.caps, ""),
      origin: { digest: stateDigest(p, trace, resolve), root: null },
      trace,
    };
    return encodeImage(p, meta, resolve);
  },
  decode(bytes: Uint8Array, machine: CodecHost): Process {
    return decodeFor(bytes, machine, "image", false).root;
  },
};
