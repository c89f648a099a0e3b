// The two digests of an image (DESIGN §6), both SHA-256:
//
// - imageDigest: over the image body's bytes exactly as stored. Loading
//   checks it before anything else, so corruption in transit is detected.
// - execution-state digest ("digest"): over a canonical encoding of the state
//   that leaves out what a host may change without the guest noticing — the
//   gas and memory limits, the `need` of the last stop, and host refuel/resume
//   trace events — so a run suspended and resumed any number of times ends
//   with the same digest as an uninterrupted one.
//
// SHA-256 is computed with node:crypto: it gives the same bytes as
// @noble/hashes' sha256 (a test checks this), but hashes megabytes of memory
// ~10x faster, which the snapshot budget (10 ms per million words) needs.

import { Buffer } from "node:buffer";
import { createHash, hash } from "node:crypto";
import { bytesToHex } from "@noble/hashes/utils";
import type { Process } from "../process/process.js";
import type { Module } from "../vm/module.js";
import { STATE_VERSION, POLICY_TAG, STATE_TAG, type TraceSlot, HOST_EVENT_KINDS } from "./format.js";
import { modulesOf, preorder, writeTree } from "./records.js";
import { WireWriter } from "./wire.js";
import { writeFiles } from "./files.js";

/** Inputs up to this many bytes are hashed in one call over a copy in SCRATCH (trace links, module bytes). */
const ONE_SHOT_MAX = 4096;
const SCRATCH = new Uint8Array(ONE_SHOT_MAX);
/** node:crypto's one-shot hash (node >= 20.12): no Hash object per call, half the cost of a short input's. */
const oneShot: ((algorithm: string, data: Uint8Array, encoding: "binary" | "hex") => string) | null = typeof hash === "function" ? hash : null;

/** The 32 bytes of a digest given as binary (latin1) text, one char per byte. */
function digestBytes(text: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** SHA-256 of the chunks' concatenation, as fresh bytes. */
export function sha256Chunks(chunks: readonly Uint8Array[]): Uint8Array {
  if (oneShot !== null) {
    if (chunks.length === 1) return digestBytes(oneShot("sha256", chunks[0], "binary"));
    let n = 0;
    for (const c of chunks) n += c.length;
    if (n <= ONE_SHOT_MAX) {
      let at = 0;
      for (const c of chunks) {
        SCRATCH.set(c, at);
        at += c.length;
      }
      return digestBytes(oneShot("sha256", SCRATCH.subarray(0, n), "binary"));
    }
  }
  const h = createHash("sha256");
  for (const c of chunks) h.update(c);
  // As binary (latin1) text, one char per byte, not a Buffer: a Buffer is memory outside the JS heap,
  // an allocation that costs more than hashing a short input (a restore hashes every trace link).
  return digestBytes(h.digest("binary"));
}

/** SHA-256 of prev || a || b (b optional), as fresh bytes: a trace link (enc(e) in one or two chunks) without a list of chunks. */
export function sha256Link(prev: Uint8Array, a: Uint8Array, b?: Uint8Array): Uint8Array {
  const n = prev.length + a.length + (b === undefined ? 0 : b.length);
  if (oneShot === null || n > ONE_SHOT_MAX) return sha256Chunks(b === undefined ? [prev, a] : [prev, a, b]);
  SCRATCH.set(prev, 0);
  SCRATCH.set(a, prev.length);
  if (b !== undefined) SCRATCH.set(b, prev.length + a.length);
  return digestBytes(oneShot("sha256", SCRATCH.subarray(0, n), "binary"));
}

/** SHA-256 in hex (module digests): no bytes in between. */
export function sha256Hex(bytes: Uint8Array): string {
  return oneShot !== null ? oneShot("sha256", bytes, "hex") : hex(sha256(bytes));
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return sha256Chunks([bytes]);
}

/** Bytes as lowercase hex (as @noble/hashes' bytesToHex): made natively, one flat string (a restore names its image's digest). */
export function hex(bytes: Uint8Array): string {
  return bytes.length >= 16 ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex") : bytesToHex(bytes);
}

/**
 * Digest of the policy an image's run was started under: the root's grants
 * and the canonical policy text, exactly as the trace's start event records
 * them (audit recomputes it from there), "" for a tree without a history.
 */
export function policyDigest(grants: readonly string[], policyText: string): Uint8Array {
  const w = new WireWriter().array(3).str(POLICY_TAG).array(grants.length);
  for (const c of [...grants].sort()) w.str(c);
  w.str(policyText);
  return sha256Chunks(w.parts());
}

/**
 * The execution-state digest of a tree: its modules (by digest; linked ones
 * `resolve` knows included), every process without limits or `need`, the
 * trace events that are not host actions, and the root's files.
 */
export function stateDigest(root: Process, trace: TraceSlot, resolve: (digest: string) => Module | undefined): Uint8Array {
  const procs = preorder(root);
  const modules = modulesOf([procs], resolve);
  // The root's files are state; a tree without any is encoded as before files existed.
  const files = root.files && !root.files.empty ? root.files : null;
  const w = new WireWriter().array(files ? 6 : 5).str(STATE_TAG).int(STATE_VERSION).array(modules.length);
  for (const m of modules) w.str(m.digest);
  const index = new Map(modules.map((m, i) => [m.digest, i]));
  writeTree(w, procs, index, true);
  const events = trace.events.filter((e) => !HOST_EVENT_KINDS.has(e[0]));
  w.array(events.length);
  for (const e of events) w.value(e);
  if (files) writeFiles(w, files);
  return sha256Chunks(w.parts());
}
