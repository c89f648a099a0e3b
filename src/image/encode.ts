// Encoding a stopped process tree as an image (layout: spec/image-format.md):
//
//   [ "rimg", version, sha256(body), body ]      body is a bin holding
//   [ runtime, policy, [originDigest, originTree | nil], [module...], tree, [traceHead, [event...]] (, debug) ]
//
// The header has one fixed form (body always as bin32), so the digest can be
// checked before anything inside the body is parsed. Memories and stacks are
// referenced, not copied, until the one final concatenation.

import type { Process } from "../process/process.js";
import type { Module } from "../vm/module.js";
import { sha256Chunks } from "../vm/sha256.js";
import { writeDebug } from "./debug.js";
import { BODY_FIELDS, IMAGE_MAGIC, IMAGE_VERSION, IMAGE_VERSION_DEBUG, IMAGE_VERSION_FILES, type ImageMeta } from "./format.js";
import { writeFiles } from "./files.js";
import { modulesOf, preorder, writeTree } from "./records.js";
import { SCRATCH, WireWriter } from "./wire.js";

/**
 * The encoder's scratch buffer, lent to one encoding at a time: an image is
 * copied out of it (seal) before the next encoding starts, so a tree of small
 * records is written without allocating buffers that grow to SCRATCH bytes.
 */
let spare: Uint8Array | null = null;

/** fixarray(4), fixstr "rimg", fixint version, bin8 of 32 digest bytes, bin32 length of the body. */
export const HEADER_BYTES = 1 + 1 + IMAGE_MAGIC.length + 1 + 2 + 32 + 5;

/**
 * The image bytes of the subtree of `root` (which must not be running).
 * `resolve` finds linked modules by digest (a machine's module table), so a
 * subtree that may still start them carries them.
 */
export function encodeImage(root: Process, meta: ImageMeta, resolve: (digest: string) => Module | undefined): Uint8Array {
  const origin = meta.origin.root;
  const debug = meta.debug ?? null;
  const procs = preorder(root);
  const originProcs = origin ? preorder(origin) : null;
  const modules = modulesOf(originProcs ? [procs, originProcs] : [procs], resolve, debug ? debug.checkpoints.flatMap((c) => c.modules) : []);
  const index = new Map(modules.map((m, i) => [m.digest, i]));
  const files = root.files && !root.files.empty ? root.files : null;
  const lent = spare;
  spare = null;
  const w = new WireWriter(lent ?? new Uint8Array(SCRATCH));
  w.array(files ? BODY_FIELDS + 2 : debug ? BODY_FIELDS + 1 : BODY_FIELDS).str(meta.runtime).bin(meta.policy);
  w.array(2).bin(meta.origin.digest);
  if (originProcs) writeTree(w, originProcs, index, false);
  else w.nil();
  w.array(modules.length);
  for (const m of modules) w.raw(m.bytes);
  writeTree(w, procs, index, false);
  w.array(2).bin(meta.trace.head).array(meta.trace.events.length);
  for (const e of meta.trace.events) w.value(e);
  if (debug) writeDebug(w, debug);
  else if (files) w.nil();
  if (files) writeFiles(w, files);

  const image = seal(w.parts(), w.length(), files ? IMAGE_VERSION_FILES : debug ? IMAGE_VERSION_DEBUG : IMAGE_VERSION);
  // Copied out: the buffer may be lent again (an encoding that threw keeps it, and the next one allocates its own).
  const last = w.scratch();
  if (last.length === SCRATCH) spare = last;
  return image;
}

/** Images at least this long are not zero-filled first (zeroing costs as much as the copy that overwrites it). */
const UNFILLED_MIN = 4096;

/**
 * n bytes every one of which the caller writes: a plain Uint8Array (not a
 * Buffer, whose slice() is a view) over memory of its own, not zero-filled
 * when it is long (Buffer.allocUnsafeSlow: never a slice of a shared pool).
 */
function uninitialized(n: number): Uint8Array {
  if (n < UNFILLED_MIN) return new Uint8Array(n);
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** The image around body bytes (given as chunks): the fixed header with the body's digest, then the body. */
export function seal(body: readonly Uint8Array[], bodyLength: number, version: number = IMAGE_VERSION): Uint8Array {
  const digest = sha256Chunks(body);
  const out = uninitialized(HEADER_BYTES + bodyLength);
  let at = 0;
  out[at++] = 0x94;
  out[at++] = 0xa0 | IMAGE_MAGIC.length;
  for (const c of IMAGE_MAGIC) out[at++] = c.charCodeAt(0);
  out[at++] = version;
  out[at++] = 0xc4;
  out[at++] = 32;
  out.set(digest, at);
  at += 32;
  out[at++] = 0xc6;
  new DataView(out.buffer).setUint32(at, bodyLength);
  at += 4;
  for (const c of body) {
    out.set(c, at);
    at += c.length;
  }
  // The memory was not zero-filled: a body shorter than announced would hand out whatever it held.
  if (at !== out.length) throw new Error(`seal: the body is ${at - HEADER_BYTES} bytes, not the ${bodyLength} announced`);
  return out;
}
