// The debug part of an image (version 2; spec/image-format.md §4a): the
// checkpoints a traced run took (the whole tree at instruction boundaries,
// every `every` gas), the source texts its modules' source maps name, and for
// a trace slice the range of steps it covers. Written here; read and verified
// by decode.ts like every other part.
//
//   debug      = [ every, [checkpoint...], [[file, text]...], slice | nil ]
//   checkpoint = [ at, events, step | nil, [module digest...], tree (, files) ]
//
// A checkpoint whose root owns files carries them (files.ts), so the debugger
// restores the file tree with the processes.
//   slice      = [ from, to ]
//
// A checkpoint's tree is written like the image's tree (records.ts), its
// module numbers indexing the checkpoint's own digest list, so a checkpoint
// is encoded once, when it is taken, and copied verbatim into every image
// after that.

import type { Process } from "../process/process.js";
import type { Module } from "../vm/module.js";
import type { Checkpoint, DebugPart } from "./format.js";
import { modulesOf, preorder, writeTree } from "./records.js";
import { WireWriter, join } from "./wire.js";
import { writeFiles } from "./files.js";

/** Encodes the tree of `root` (stopped at an instruction boundary, possibly mid-run) as a checkpoint. */
export function captureCheckpoint(
  root: Process,
  at: number,
  events: number,
  step: number | null,
  resolve: (digest: string) => Module | undefined,
): Checkpoint {
  const procs = preorder(root);
  const modules = modulesOf([procs], resolve);
  const index = new Map(modules.map((m, i) => [m.digest, i]));
  const files = root.files && !root.files.empty ? root.files : null;
  const w = new WireWriter().array(files ? 6 : 5).int(at).int(events);
  if (step === null) w.nil();
  else w.int(step);
  w.array(modules.length);
  for (const m of modules) w.str(m.digest);
  writeTree(w, procs, index, false);
  if (files) writeFiles(w, files);
  return { at, gas: root.gasUsed, events, step, modules, bytes: join(w.parts(), w.length()), words: root.memUsed };
}

/** The same checkpoint with its step number known (a slice records it). */
export function withStep(c: Checkpoint, step: number, decodeTree: (c: Checkpoint) => Process): Checkpoint {
  const root = decodeTree(c);
  const byDigest = new Map(c.modules.map((m) => [m.digest, m]));
  return captureCheckpoint(root, c.at, c.events, step, (d) => byDigest.get(d));
}

export function writeDebug(w: WireWriter, d: DebugPart): void {
  w.array(4).int(d.every).array(d.checkpoints.length);
  for (const c of d.checkpoints) w.raw(c.bytes);
  w.array(d.sources.length);
  for (const [file, text] of d.sources) w.array(2).str(file).str(text);
  if (d.slice === null) w.nil();
  else w.array(2).int(d.slice.from).int(d.slice.to);
}
