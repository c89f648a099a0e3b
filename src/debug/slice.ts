// Trace slices (`rar trace-slice`): an inspection-only image of steps S..T of
// a recorded run, for sharing evidence. It holds one checkpoint at S (or the
// step before, when the root stood stopped at S) with its step number, the
// trace's events up to T (a prefix of the chain: it still checks), the state
// at T as its tree, and the range in its debug part. `debug` and `view`
// accept it; `replay`, `audit`, `resume` and `run` refuse it: a slice does
// not hold the whole history.

import { captureCheckpoint } from "../image/debug.js";
import type { DecodedImage } from "../image/decode.js";
import { encodeImage } from "../image/encode.js";
import { hexToBytes } from "@noble/hashes/utils";
import { interruptRoot } from "../process/scheduler.js";
import { traceFromWire } from "../trace/trace.js";
import { RarError } from "../vm/errors.js";
import { StatusCode } from "../vm/opcodes.js";
import { Timeline } from "./timeline.js";

/** The image bytes of the slice S..T of a recorded run (T is cut at the end of the run), and the range it holds. */
export function sliceImage(img: DecodedImage, from: number, to: number): { bytes: Uint8Array; from: number; to: number } {
  if (to < from) throw new RarError("usage.slice_range", `--to ${to} is before --from ${from}`);
  const t = new Timeline(img);
  if (from < t.first) throw new RarError("usage.slice_range", `the image starts at step ${t.first}; --from ${from} is before it`);
  const end = t.end();
  if (from > end) throw new RarError("usage.slice_range", `the run has ${end} steps; --from ${from} is past its end`);
  const last = Math.min(to, end);
  const byDigest = new Map(img.modules.map((m) => [m.digest, m]));
  const resolve = (d: string) => byDigest.get(d);
  // The checkpoint: at S, or one step before when the root stands stopped at S (a checkpoint is mid-run).
  let start = null;
  for (let k = from; k >= Math.max(t.first, from - 1) && start === null; k--) {
    const { replayer: rp, step } = t.at(k);
    if (rp.running && rp.root.status === StatusCode.READY) start = captureCheckpoint(rp.root, rp.gasUsed, rp.cursor, step, resolve);
  }
  if (start === null) throw new RarError("usage.slice_range", `no instruction boundary of a running tree at step ${from} to start a slice from`);
  const { replayer: endAt } = t.at(last);
  const trace = traceFromWire(img.meta.trace, "trace");
  const n = endAt.cursor;
  const root = endAt.root;
  // The tree at T as an image's root must be stopped: mid-run, it is marked as a host interrupt marks it.
  if (root.status === StatusCode.READY && root.fp !== 0) interruptRoot(root);
  const debug = img.meta.debug;
  const bytes = encodeImage(
    root,
    {
      runtime: img.meta.runtime,
      policy: img.meta.policy,
      origin: img.meta.origin,
      trace: { head: hexToBytes(trace.digestBefore(n)), events: img.meta.trace.events.slice(0, n) },
      debug: { every: debug?.every ?? 1 << 20, checkpoints: [start], sources: debug?.sources ?? [], slice: { from, to: last } },
    },
    resolve,
  );
  return { bytes, from, to: last };
}

/** Refuses a slice where a command needs the whole run (replay, audit, resume, run). */
export function refuseSlice(img: { meta: { debug?: { slice: { from: number; to: number } | null } | null } }, what: string, file: string): void {
  const s = img.meta.debug?.slice;
  if (s) throw new RarError("usage.slice", `${file} is a trace slice (steps ${s.from}..${s.to}): inspection only (debug, view, inspect); ${what} needs the whole run`);
}
