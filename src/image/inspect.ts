// What `rar inspect` shows about an image, as data: both digests, and per
// process its status, result, budgets, where it stands (function and source
// line) and its capabilities. Flat, in preorder with depths, so printing
// never recurses however deep the tree is.

import type { Process, StatusName } from "../process/process.js";
import { describeFault, locate } from "../process/report.js";
import { StatusCode } from "../vm/opcodes.js";
import { KIND } from "../caps/filetree.js";
import type { DecodedImage } from "./decode.js";
import { stateDigest } from "./digest.js";
import { hex } from "../vm/sha256.js";
import { preorder } from "./records.js";
import { notStarted } from "./verify.js";

export interface ProcessReport {
  /** Depth below the image's root (0); with `handle`, it places the process in the preorder list. */
  depth: number;
  handle: number;
  status: StatusName;
  /** done(value) / yielded(value); null otherwise. */
  result: number | null;
  fault: string | null;
  /** Gas or words the refused instruction needs (out_of_gas / out_of_mem). */
  need: number | null;
  gasUsed: number;
  gasLimit: number;
  memUsed: number;
  memLimit: number;
  /** False for a process that has not been entered yet (it will start at its entry function). */
  started: boolean;
  pc: number;
  function: string;
  source: string | null;
  /** Handle of the child this process waits on in a RESUME, or 0. */
  waiting: number;
  caps: string[];
  traps: string[];
  children: number;
}

export interface ImageReport {
  digest: string;
  imageDigest: string;
  format: number;
  runtime: string;
  policy: string;
  initialDigest: string;
  processes: ProcessReport[];
  trace: { events: number; head: string };
  /** The root's file tree: entries, bytes of its files, and words of footprint (all 0 without one). */
  files: { entries: number; bytes: number; words: number };
}

function processReport(p: Process, depth: number): ProcessReport {
  const st = p.status;
  const started = !notStarted(p);
  const loc = locate(p, started ? p.pc : p.module.entries[p.entryFn]);
  return {
    depth,
    handle: p.handle,
    status: p.statusName,
    result: st === StatusCode.DONE || st === StatusCode.YIELDED ? p.value : null,
    fault: st === StatusCode.FAULT ? describeFault(p) : null,
    need: st === StatusCode.OUT_OF_GAS || st === StatusCode.OUT_OF_MEM ? p.need : null,
    gasUsed: p.gasUsed,
    gasLimit: p.gasLimit,
    memUsed: p.memUsed,
    memLimit: p.memLimit,
    started,
    pc: loc.pc,
    function: loc.function,
    source: loc.source ?? null,
    waiting: p.waiting,
    caps: [...p.caps],
    traps: [...p.traps],
    children: p.children.size,
  };
}

function filesReport(root: Process): ImageReport["files"] {
  let entries = 0;
  let bytes = 0;
  for (const [, n] of root.files?.walk() ?? []) {
    entries++;
    if (n.kind === KIND.file) bytes += n.data.length;
  }
  return { entries, bytes, words: root.files?.words ?? 0 };
}

export function inspectImage(img: DecodedImage): ImageReport {
  const byDigest = new Map(img.modules.map((m) => [m.digest, m]));
  const depths = new Map<Process, number>();
  const processes = preorder(img.root).map((p) => {
    const d = p.parent ? (depths.get(p.parent) as number) + 1 : 0;
    depths.set(p, d);
    return processReport(p, d);
  });
  return {
    digest: hex(stateDigest(img.root, img.meta.trace, (d) => byDigest.get(d))),
    imageDigest: img.imageDigest,
    format: img.version,
    runtime: img.meta.runtime,
    policy: hex(img.meta.policy),
    initialDigest: hex(img.meta.origin.digest),
    processes,
    trace: { events: img.meta.trace.events.length, head: hex(img.meta.trace.head) },
    files: filesReport(img.root),
  };
}
