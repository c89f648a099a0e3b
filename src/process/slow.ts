// The contract between the scheduler (scheduler.ts, the run loop) and the
// instructions it runs itself, those whose `runs` is "scheduler" in the
// opcode table: the hot loop exits before one (Exit.Slow), the scheduler
// charges its base gas and calls its handler from the table in
// instructions.ts. A handler sees the machine through `Scheduler` and says
// how control goes on with a `Step`.
//
// A handler keeps the hot loop's order: operands are checked first (a fault
// charges nothing), then the full cost is charged or refused (Step.Gas /
// Step.Mem with cpu.need set, nothing changed: the instruction is retried),
// then it runs and moves cpu.pc past itself.

import type { GrantSets } from "../caps/grants.js";
import type { CapRegistry, CapValue } from "../caps/registry.js";
import { FAULTS, type FaultKind } from "../vm/errors.js";
import type { Cpu } from "../vm/interpreter.js";
import type { CodeCache } from "./code.js";
import type { Process, RecycleBin, SpareBuffers } from "./process.js";

/** Outcome of a slow instruction. */
export const enum Step {
  Continue,
  Gas,
  Mem,
  Fault,
  /** Control moves to `Scheduler.next`. */
  Switch,
  /** The current process stopped itself (yield, trapped capability call). */
  Stop,
  /** An async capability call is in flight. */
  Pending,
}

/** A slow instruction: runs the instruction `op` at cpu.pc of `d`, the running process (its base gas is affordable). */
export type SlowOp = (m: Scheduler, d: Process, op: number) => Step;

/** Encodes and decodes process subtrees as images (provided by the image layer). */
export interface ImageCodec {
  /** The image bytes of p's subtree. */
  encode(p: Process, machine: Scheduler): Uint8Array;
  /** A detached tree (root has no parent) from untrusted bytes; throws a RarError if they are bad. */
  decode(bytes: Uint8Array, machine: Scheduler): Process;
}

/** A capability call that reached the host, as Machine's `onCapCall` reports it. */
export interface CapCallEvent {
  path: string;
  cap: string;
  args: CapValue[];
  result: CapValue;
}

/** The async capability call in flight. */
export interface PendingCall {
  proc: Process;
  promise: Promise<CapValue>;
  cap: string;
  args: CapValue[];
}

/** What a slow instruction may use of the machine (Machine implements it). */
export interface Scheduler {
  /** The running process's registers and the chain's gas and memory counters. */
  readonly cpu: Cpu;
  readonly maxDepth: number;
  readonly caps: CapRegistry;
  readonly images?: ImageCodec;
  /** The host's own grants above the root (Machine.hostGrants). */
  readonly hostGrants: readonly string[] | null;
  /** Guest mount points of the file tree (Machine.mounts). */
  readonly mounts: readonly string[];
  /** The signal of the run going on (Machine.signal), for capability handlers. */
  readonly signal: AbortSignal | undefined;
  readonly onCapCall?: (event: CapCallEvent) => void;
  /** Verified modules: shared by digest, linked, made by SPAWNC. */
  readonly code: CodeCache;
  readonly grantSets: GrantSets;
  /** Killed childless processes to reuse for spawns; null unless recycling. */
  readonly recycled: RecycleBin | null;
  /** Stack and frame buffers given up by stopped and finished processes (Process.park, own). */
  readonly spare: SpareBuffers;
  /** Where control goes on Step.Switch. */
  next: Process | null;
  /** Set with Step.Pending. */
  pending: PendingCall | null;
  /** d killed a child: the machine lets go of what it held of d's subtree (Machine.killed). */
  killed(d: Process): void;
  /** Saves the registers into p and settles what the counters used into p's chain. */
  leave(p: Process): void;
  /** Settles the running process and loads its counters again (after its chain's usage changed outside them). */
  reload(d: Process): void;
  /** The running process's own gas (or memory) headroom, counting what the counters used since they were loaded. */
  ownLeft(d: Process, gas: boolean): number;
}

/** Longest fault detail a process keeps, in code units (a guest can make messages quote its data). */
const DETAIL_MAX = 256;

export function clipDetail(text: string): string {
  return text.length <= DETAIL_MAX ? text : text.slice(0, DETAIL_MAX - 1) + "…";
}

/** Faults the running process (detail: FAULTS' text when empty). */
export function fault(cpu: Cpu, kind: FaultKind, detail: string): Step {
  cpu.fault = kind;
  cpu.say(clipDetail(detail || FAULTS[kind]));
  return Step.Fault;
}

/** Charges `gas` if the counter holds it; otherwise records the need (the caller returns Step.Gas). */
export function charge(cpu: Cpu, gas: number): boolean {
  if (gas > cpu.gas) {
    cpu.need = gas;
    return false;
  }
  cpu.gas -= gas;
  return true;
}
