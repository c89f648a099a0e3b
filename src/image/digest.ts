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
// SHA-256 itself is src/vm/sha256.ts.

import type { Process } from "../process/process.js";
import type { Module } from "../vm/module.js";
import { STATE_VERSION, POLICY_TAG, STATE_TAG, type TraceSlot, HOST_EVENT_KINDS } from "./format.js";
import { modulesOf, preorder, writeTree } from "./records.js";
import { WireWriter } from "./wire.js";
import { sha256Chunks } from "../vm/sha256.js";
import { writeFiles } from "./files.js";

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
