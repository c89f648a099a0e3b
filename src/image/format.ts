// The image format, as data: magic, versions, the layout of a process record
// and the bounds a decoder enforces. spec/image-format.md describes the same
// layout in prose; this file is the one the code reads.

import type { Process } from "../process/process.js";
import type { Module } from "../vm/module.js";

export const IMAGE_MAGIC = "rimg";
/** Bump on any change to the encoded layout (golden images in images/ pin it). */
export const IMAGE_VERSION = 1;
/**
 * Version 2 is version 1 with one more body field, the debug part
 * (checkpoints, sources, slice range: debug.ts). A writer uses it only for
 * an image that has that part, so images without one are byte for byte what
 * version 1 writers make; decoders read both.
 */
export const IMAGE_VERSION_DEBUG = 2;
/**
 * Version 3 adds one more body field after the debug part (nil when there is
 * none): the file tree the root owns (files.ts). A writer uses it only for a
 * tree that holds files, so other images keep their version and bytes.
 */
export const IMAGE_VERSION_FILES = 3;
/** The version tag inside the execution-state digest's encoding (the state's layout, not the file's). */
export const STATE_VERSION = 1;
/** The runtime that wrote an image (informational; compatibility is IMAGE_VERSION's job). Matches package.json. */
export const RUNTIME_VERSION = "rar 0.1.0";

/** Tag strings that start the canonical encodings the digests cover, so no two kinds of content collide. */
export const STATE_TAG = "rar-state";
export const POLICY_TAG = "rar-policy";

/** Field positions in a process record (one msgpack array per process, in preorder). */
export const F = {
  handle: 0,
  module: 1,
  entry: 2,
  status: 3,
  value: 4,
  faultKind: 5,
  faultDetail: 6,
  need: 7,
  request: 8,
  answer: 9,
  waiting: 10,
  inbox: 11,
  pc: 12,
  bp: 13,
  stack: 14,
  frames: 15,
  mem: 16,
  gasLimit: 17,
  gasUsed: 18,
  memLimit: 19,
  memUsed: 20,
  caps: 21,
  traps: 22,
  nextHandle: 23,
  children: 24,
} as const;
export const RECORD_FIELDS = 25;

/** Positions in the body array. */
export const B = { runtime: 0, policy: 1, origin: 2, modules: 3, tree: 4, trace: 5, debug: 6, files: 7 } as const;
/** Body fields of a version 1 image; version 2 adds the debug part. */
export const BODY_FIELDS = 6;

/** Bounds of the decoder (all far above what real images need). */
export const IMAGE_LIMITS = {
  /** msgpack nesting depth (the layout itself needs 6; trace events get the rest). */
  nesting: 32,
  runtimeLength: 64,
  // Names and grants (scoped grants carry absolute paths).
  nameLength: 4096,
  detailLength: 65_536,
  capsPerProcess: 256,
  modules: 65_536,
  /** Largest handle a guest can hold (handles are i32 words). */
  handle: 0x7fffffff,
  /** Extra stack words (capacity beyond the stored stack) a decoder may provision, besides one per input byte. */
  stackSlack: 1 << 20,
} as const;

/** Trace event kinds that are host actions, left out of the execution-state digest (DESIGN §6). */
export const HOST_EVENT_KINDS: ReadonlySet<string> = new Set(["refuel", "resume", "interrupt"]);

/** A msgpack value as the format uses it: no maps, no floats except for large integers. */
export type WireValue = number | string | Uint8Array | null | WireValue[];

/** A trace event: its kind first, then fields defined by the trace format (spec/trace-format.md). */
export type TraceEvent = [string, ...WireValue[]];

/** The trace slot: the hash-chain head and the events, oldest first. */
export interface TraceSlot {
  head: Uint8Array;
  events: TraceEvent[];
}

/** The initial state of the history an image continues. */
export interface Origin {
  /** Execution-state digest of the initial state (32 bytes). */
  digest: Uint8Array;
  /** The initial tree itself, when recorded (a session's fresh root); null for guest snapshots. */
  root: Process | null;
}

/**
 * A checkpoint: the whole tree at an instruction boundary of the run, kept
 * for the time-travel debugger (spec/image-format.md §4a). The tree is held
 * as its encoded records, written into images as they are.
 */
export interface Checkpoint {
  /** The checkpoint's place: the run was stopped where the root's gasUsed would pass `at`. */
  readonly at: number;
  /** The root's gasUsed there (<= at). */
  readonly gas: number;
  /** Trace events recorded before it. */
  readonly events: number;
  /** Instructions executed from the initial state to it, when known (slices record it), else null. */
  readonly step: number | null;
  /** The modules its processes run (and those they link), sorted by digest: the tree's module numbers index this list. */
  readonly modules: readonly Module[];
  /** The canonical encoding of the whole checkpoint: [at, events, step | nil, [module digest...], tree records]. */
  readonly bytes: Uint8Array;
  /** Footprint of the tree in words (the root's memUsed): what thinning counts. */
  readonly words: number;
}

/** The debug part of an image (version 2): checkpoints, source texts, and for a trace slice its range. */
export interface DebugPart {
  /** Gas between checkpoints: each checkpoint's `at` is a multiple of it. A power of two. */
  every: number;
  /** Sorted by `at`, strictly increasing. */
  checkpoints: Checkpoint[];
  /** Source texts by file name, sorted by name (what the source maps name). */
  sources: [string, string][];
  /** For an inspection-only trace slice: the steps it covers. Null for a recorded run. */
  slice: { from: number; to: number } | null;
}

/** What an image carries besides its process tree. */
export interface ImageMeta {
  runtime: string;
  /** Digest of the policy the root was started under (32 bytes). */
  policy: Uint8Array;
  origin: Origin;
  trace: TraceSlot;
  /** The debug part (version 2 images only). */
  debug?: DebugPart | null;
}

export const DIGEST_BYTES = 32;

/** The head of an empty trace. */
export function emptyTrace(): TraceSlot {
  return { head: new Uint8Array(DIGEST_BYTES), events: [] };
}
