// A replay that can be stopped anywhere and driven step by step: the machine
// and tree of a recorded run, rebuilt from its initial state or from a
// checkpoint, fed the trace's recorded capability results and host actions in
// order, exactly as src/trace/replay.ts does for a whole run (same rules; the
// host is never called). The timeline (timeline.ts) positions it by gas and
// counts the instructions it runs with the machine's step hook.

import { applyGrants } from "../caps/policy.js";
import type { CapContext, CapValue } from "../caps/registry.js";
import { checkpointTree } from "../image/decode.js";
import type { Checkpoint } from "../image/format.js";
import { rootArgsMemory, type Process } from "../process/process.js";
import { interruptRoot, raiseLimits, type Machine } from "../process/scheduler.js";
import { describeEvent, promptBefore, type InterruptEvent, type StartEvent, type TraceEvent } from "../trace/trace.js";
import type { Module } from "../vm/module.js";
import { StatusCode } from "../vm/opcodes.js";
import { applyImport, pastEnd, replayMachine, runWithin } from "../trace/replay.js";
import { RarError } from "../vm/errors.js";

/** How a move of the replay ended. */
export type Moved =
  /** The run reached the gas asked for, at an instruction boundary (the root ready). */
  | "reached"
  /** The root stopped (host events follow, or the trace ends). */
  | "stopped"
  /** No event is left: the run is over. */
  | "end"
  /** The replay no longer matches the trace (`divergence` says how). */
  | "diverged";

/** What a run needs besides a tree: the recorded events and the modules by digest. */
export interface Recording {
  readonly events: readonly TraceEvent[];
  readonly start: StartEvent;
  module(digest: string): Module | undefined;
  /**
   * The root's gasUsed in the image's tree: a replay never goes past it
   * (replay.ts ReplaySource.endGas). Past it is the end of a slice, whose
   * tree is its last step, and a divergence for a whole run.
   */
  readonly endGas: number;
  /** Whether the image is a trace slice. */
  readonly slice: boolean;
}

function sameValue(a: CapValue, b: CapValue): boolean {
  if (typeof a === "number" || typeof b === "number") return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The interrupt recorded for the run that the resume before `from` started (before the next resume), or -1. */
function interruptAhead(events: readonly TraceEvent[], from: number): number {
  for (let i = from; i < events.length; i++) {
    const k = events[i].kind;
    if (k === "interrupt") return i;
    if (k === "resume") return -1;
  }
  return -1;
}

export class Replayer {
  readonly machine: Machine;
  root: Process;
  /** Index of the next event to apply or consume. */
  cursor: number;
  /** The root is inside a host run (after a resume event, until it stops). */
  running: boolean;
  divergence: string | null = null;
  /** Called for every capability event a replayed call consumed (with the event's index). */
  onCall: ((index: number) => void) | null = null;
  /** Where the recorded interrupt of the current run stops it, once looked up (null: not yet). */
  private cut: number | null = null;

  private constructor(
    readonly rec: Recording,
    machine: Machine,
    root: Process,
    cursor: number,
    running: boolean,
  ) {
    this.machine = machine;
    this.root = root;
    this.cursor = cursor;
    this.running = running;
    this.install();
  }

  private static machine(rec: Recording): Machine {
    try {
      return replayMachine(rec.start, rec.module);
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
      throw new RarError("trace.divergence", `the replay diverges from the trace at event 0: ${e.message}`);
    }
  }

  /** The initial state the start event describes, before any host event after it. */
  static fromStart(rec: Recording): Replayer {
    const s = rec.start;
    const module = rec.module(s.module);
    if (!module) throw new Error(`the start event names module ${s.module.slice(0, 16)}…, which the image does not hold`);
    if (s.entry >= module.functions.length || module.nparams[s.entry] !== 0) throw new Error(`the start event's entry #${s.entry} is not a function without parameters`);
    const machine = Replayer.machine(rec);
    const root = machine.createRoot(module, s.entry, [], { gas: 0, mem: 0 }, [...s.grants], rootArgsMemory(Array.from(s.args), s.texts));
    return new Replayer(rec, machine, root, 1, false);
  }

  /** A checkpoint's tree, mid-run (the resume that started that run already applied). */
  static fromCheckpoint(rec: Recording, c: Checkpoint): Replayer {
    const machine = Replayer.machine(rec);
    for (const m of c.modules) machine.intern(m);
    const root = checkpointTree(c, { maxDepth: machine.maxDepth, memMax: machine.cpu.memMax });
    return new Replayer(rec, machine, root, c.events, true);
  }

  get gasUsed(): number {
    return this.root.gasUsed + this.machine.gasInFlight;
  }

  /** Where the next interrupt of the current run stops it (Infinity if none is recorded). */
  private interruptGas(): number {
    const i = interruptAhead(this.rec.events, this.cursor);
    return i < 0 ? Infinity : (this.rec.events[i] as InterruptEvent).gas;
  }

  private diverge(message: string): Moved {
    this.divergence ??= `the replay diverges from the trace at event ${this.cursor}: ${message}`;
    return "diverged";
  }

  /** One replay handler per capability the original host offered: each takes the next recorded event. */
  private install(): void {
    const events = this.rec.events;
    const stop = (): Promise<CapValue> => new Promise<CapValue>(() => undefined);
    for (const { name, sig } of this.rec.start.host) {
      this.machine.caps.register(name, {
        sig,
        call: (args: CapValue[], ctx: CapContext): CapValue | Promise<CapValue> => {
          if (this.divergence) return stop();
          // The host's recorded answer to a prompt: the call it decided comes next.
          if (promptBefore(events[this.cursor], name, ctx.path)) this.cursor++;
          const e = events[this.cursor];
          if (!e || (e.kind !== "cap" && e.kind !== "cap_error") || e.cap !== name || e.path !== ctx.path || e.args.length !== args.length || e.args.some((a, k) => !sameValue(a, args[k]))) {
            this.diverge(`the replay calls ${name} from process ${ctx.path}; the trace has ${e ? describeEvent(e) : "no more events"}`);
            return stop();
          }
          const i = this.cursor++;
          this.onCall?.(i);
          if (e.kind === "cap_error") throw new Error(e.error);
          return typeof e.result === "number" ? e.result : e.result.slice();
        },
      });
    }
  }

  /**
   * Applies host events after a stop, up to and including the next resume
   * (which starts a run). "end" when no event is left.
   */
  private hostEvents(): Moved | null {
    const events = this.rec.events;
    const r = this.root;
    while (this.cursor < events.length) {
      const e = events[this.cursor];
      switch (e.kind) {
        case "refuel":
          raiseLimits(r, e.gas, e.mem);
          break;
        case "answer":
          r.answer = e.value | 0;
          break;
        case "narrow":
          applyGrants(r, e.grants);
          break;
        case "fs_import":
          try {
            applyImport(r, e);
          } catch (err) {
            return this.diverge(`the trace's file import is malformed: ${(err as Error).message}`);
          }
          break;
        case "interrupt":
          if (r.status !== StatusCode.OUT_OF_GAS || r.gasUsed !== e.gas)
            return this.diverge(`the trace interrupts the root at ${e.gas} gas, but the replayed root is ${r.statusName} at ${r.gasUsed} gas`);
          break;
        case "resume":
          this.cursor++;
          if (r.status === StatusCode.DONE || r.status === StatusCode.FAULT) return this.diverge(`the trace resumes the root, but it is ${r.statusName}`);
          this.running = true;
          return null;
        default:
          return this.diverge(`the trace records ${describeEvent(e)}, but the replayed run stopped before making it (root ${r.statusName})`);
      }
      this.cursor++;
    }
    return "end";
  }

  /**
   * Runs until the root's gasUsed would pass `gas` (an instruction boundary:
   * "reached"), or the root stops ("stopped": host events are not applied
   * yet). From a stop, the next call applies the host events first.
   */
  advance(gas: number): Moved {
    if (this.divergence) return "diverged";
    if (!this.running) {
      const h = this.hostEvents();
      if (h !== null) return h;
    }
    const r = this.root;
    this.cut ??= this.interruptGas();
    const cut = this.cut;
    const stopAt = Math.min(gas, cut);
    const res = runWithin(this.machine, r, stopAt, this.rec.endGas);
    if (this.divergence) return "diverged";
    if (res === "pending") return this.diverge("a replayed call did not complete");
    if (res === "past") {
      if (!this.rec.slice) return this.diverge(pastEnd(this.rec.endGas));
      // A slice's tree is its last step: nothing after it is recorded.
      this.running = false;
      this.cursor = this.rec.events.length;
      return "end";
    }
    if (res === "sliced") {
      if (stopAt < cut) return "reached";
      // The host's recorded interrupt stops the root here (out_of_gas where it stands).
      interruptRoot(r);
      this.running = false;
      this.cut = null;
      return "stopped";
    }
    this.cut = null;
    this.running = false;
    return "stopped";
  }

  /** True when the run is over: the root stopped and no event is left to continue it. */
  get finished(): boolean {
    return !this.running && this.cursor >= this.rec.events.length;
  }
}
