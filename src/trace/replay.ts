// Replay (DESIGN §5): re-execute a run from its initial state, feeding the
// recorded results of capability calls instead of calling the host, and
// applying the host's own recorded actions (every other event) in order.
// Nothing reaches the host: the machine's registry holds only replay handlers,
// one per capability the original host offered (with its recorded signature),
// each of which takes the next recorded event and checks that the replayed
// call is the one recorded (capability, process path, arguments).
//
// On the first mismatch the handler stops the machine at once (it returns a
// promise that is never awaited, which makes Machine.run return "pending")
// and the divergence names the event, what differed, and the state before it.

import { CapRegistry, type CapContext, type CapValue } from "../caps/registry.js";
import { applyGrants, policyFromJson } from "../caps/policy.js";
import { imageCodec } from "../image/codec.js";
import { stateDigest } from "../image/digest.js";
import { hex } from "../vm/sha256.js";
import { emptyTrace, type TraceSlot } from "../image/format.js";
import { rootArgsMemory, type Process } from "../process/process.js";
import { formatLocation, locate } from "../process/report.js";
import { deepest } from "../process/control.js";
import { Machine, type RunStop } from "../process/scheduler.js";
import type { Module } from "../vm/module.js";
import { Op, StatusCode, WIDTH } from "../vm/opcodes.js";
import { interruptRoot, raiseLimits } from "../process/scheduler.js";
import { describeEvent, isCallEvent, promptBefore, type CapErrorEvent, type CapEvent, type FsImportEvent, type InterruptEvent, type StartEvent, type TraceEvent } from "./events.js";
import type { FileTree } from "../caps/filetree.js";
import { filesFromBytes } from "../image/files.js";
import { RarError } from "../vm/errors.js";
import { int32ToBytes } from "../vm/module.js";
import { traceToWire, type Trace } from "./store.js";

export interface Divergence {
  /** Index of the first event that does not match (trace.length: the run wanted more than was recorded). */
  readonly index: number;
  /** What differed. */
  readonly message: string;
  /** Hex digest of the trace chain before that event (h_index). */
  readonly before: string;
  /** Where the replay was: process path, function and source line, or the root's status. */
  readonly state: string;
}

export interface ReplaySource {
  readonly trace: Trace;
  /** The modules the run may use, by digest (an image's modules). */
  module(digest: string): Module | undefined;
  /** Hex execution-state digest of the recorded initial state, to check the start event against. */
  readonly originDigest?: string;
  /**
   * The root's gasUsed in the recorded final state (the image's tree). The
   * run used no more, so a replay that would go past it has diverged: a
   * trace whose refuels allow more (2^50 gas for a run that used 1000)
   * cannot make the replay run on. Absent: no bound but the trace's.
   */
  readonly endGas?: number;
}

export interface ReplayOptions {
  /** Called for every replayed call that matched its event (e.g. to show io.print text). */
  onCall?: (event: CapEvent | CapErrorEvent) => void;
}

export interface ReplayResult {
  /** null when every event was reproduced in order. */
  readonly divergence: Divergence | null;
  /** Events consumed. */
  readonly events: number;
  readonly machine: Machine | null;
  /** The replayed tree (null if the start event could not be set up). */
  readonly root: Process | null;
  /** Hex execution-state digest of the replayed tree together with the recorded trace. */
  digest(slot?: TraceSlot): string;
}

function sameValue(a: CapValue, b: CapValue): boolean {
  if (typeof a === "number" || typeof b === "number") return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function showArgs(args: readonly CapValue[]): string {
  return args
    .map((a) => (typeof a === "number" ? String(a) : `[${Array.from(a.subarray(0, 8)).join(" ")}${a.length > 8 ? " …" : ""}]`))
    .join(", ");
}

function byPath(root: Process, path: string): Process | null {
  let p: Process | undefined = root;
  for (const h of path.split(".").slice(1)) {
    p = p.children.get(Number(h));
    if (!p) return null;
  }
  return p;
}

/** Replays a trace from its start event. Never calls the host. */
export function replay(src: ReplaySource, opts: ReplayOptions = {}): ReplayResult {
  const events = src.trace.events();
  let cursor = 0;
  let divergence: Divergence | null = null;
  let machine: Machine | null = null;
  let root: Process | null = null;
  const result = (): ReplayResult => ({
    divergence,
    events: cursor,
    machine,
    root,
    digest(slot?: TraceSlot): string {
      if (!root || !machine) return "";
      const m = machine;
      return hex(stateDigest(root, slot ?? traceToWire(src.trace), (d) => m.modules.get(d)));
    },
  });
  const diverge = (index: number, message: string, state: string): void => {
    divergence ??= { index, message, before: src.trace.digestBefore(index), state };
  };

  const start = events[0];
  if (!start || start.kind !== "start") {
    diverge(0, "the trace has no start event: there is no initial state to replay from", "before the start");
    return result();
  }
  const setup = setUp(start, src, diverge);
  if (!setup) return result();
  machine = setup.machine;
  root = setup.root;
  const m = machine;
  const r = root;
  cursor = 1;

  // One replay handler per capability the original host offered.
  const stop = (): Promise<CapValue> => new Promise<CapValue>(() => undefined);
  for (const { name, sig } of start.host) {
    m.caps.register(name, {
      sig,
      call(args: CapValue[], ctx: CapContext): CapValue | Promise<CapValue> {
        if (divergence) return stop();
        // The host's recorded answer to a prompt: the call it decided comes next.
        if (promptBefore(events[cursor], name, ctx.path)) cursor++;
        const i = cursor;
        const e = events[i];
        const here = (): string => {
          const p = byPath(r, ctx.path);
          const at = p ? ` in ${formatLocation(locate(p, m.cpu.pc - WIDTH[Op.CAP]))}` : "";
          return `process ${ctx.path}${at}, ${i} events in`;
        };
        const call = `${name}(${showArgs(args)}) by process ${ctx.path}`;
        if (!e || !isCallEvent(e)) {
          diverge(i, `the replay calls ${call}; the trace has ${e ? describeEvent(e) : "no more events"}`, here());
          return stop();
        }
        if (e.cap !== name || e.path !== ctx.path) {
          diverge(i, `recorded ${e.cap}(${showArgs(e.args)}) by process ${e.path}; the replay calls ${call}`, here());
          return stop();
        }
        if (e.args.length !== args.length || e.args.some((a, k) => !sameValue(a, args[k]))) {
          diverge(i, `recorded ${e.cap}(${showArgs(e.args)}) by process ${e.path}; the replay passes (${showArgs(args)})`, here());
          return stop();
        }
        cursor = i + 1;
        opts.onCall?.(e);
        if (e.kind === "cap_error") throw new Error(e.error);
        return typeof e.result === "number" ? e.result : e.result.slice();
      },
    });
  }

  while (cursor < events.length && !divergence) {
    const i = cursor;
    const e = events[i];
    switch (e.kind) {
      case "refuel":
        raiseLimits(r, e.gas, e.mem);
        cursor++;
        break;
      case "answer":
        r.answer = e.value | 0;
        cursor++;
        break;
      case "narrow":
        applyGrants(r, e.grants);
        cursor++;
        break;
      case "fs_import":
        try {
          applyImport(r, e);
        } catch (err) {
          diverge(i, `the trace's file import is malformed: ${(err as Error).message}`, `root ${r.statusName}`);
          break;
        }
        cursor++;
        break;
      case "resume": {
        cursor++;
        if (r.status === StatusCode.DONE || r.status === StatusCode.FAULT) {
          diverge(i, `the trace resumes the root, but the replayed root is ${r.statusName}`, `root ${r.statusName}`);
          break;
        }
        // A host interrupt before the next resume stopped this run at a recorded gas: stop there too.
        const cut = interruptAhead(events, cursor);
        const interruptGas = cut < 0 ? Infinity : (events[cut] as InterruptEvent).gas;
        const endGas = src.endGas ?? Infinity;
        const stopped = runWithin(m, r, interruptGas, endGas);
        if (stopped === "pending" && !divergence)
          diverge(cursor, "a replayed call did not complete", `process ${m.pending?.proc.path ?? "?"}`);
        if (stopped === "past" && !divergence) {
          const p = deepest(r);
          diverge(cursor, pastEnd(endGas), `process ${p.path} in ${formatLocation(locate(p, p.pc))} at ${r.gasUsed} gas`);
        }
        if (stopped === "sliced") interruptRoot(r);
        break;
      }
      case "interrupt":
        cursor++;
        if (r.status !== StatusCode.OUT_OF_GAS || r.gasUsed !== e.gas)
          diverge(i, `the trace interrupts the root at ${e.gas} gas, but the replayed root is ${r.statusName} at ${r.gasUsed} gas`, `root ${r.statusName}`);
        break;
      case "start":
        diverge(i, "a second start event", `root ${r.statusName}`);
        break;
      default:
        diverge(
          i,
          `the trace records ${describeEvent(e)}, but the replayed run stopped before making it (root ${r.statusName})`,
          `root ${r.statusName} after ${r.gasUsed} gas`,
        );
    }
  }
  return result();
}

/**
 * Runs (or resumes) the replayed root until it stops or reaches `stopAt`
 * (Machine.run), but never on past `endGas`, the gas the recorded run used in
 * all: "past" when the replay would go beyond it. The instruction refused at
 * endGas may still run if it costs nothing there (one that faults: the
 * recorded run ended with it), so it is given room for the gas it asks (a
 * bulk one asks twice: its base gas, then all of it); if it takes any, the
 * replay is past the end. A call runs at most endGas plus one instruction's
 * gas, whatever the trace's refuels allow.
 */
export function runWithin(m: Machine, r: Process, stopAt: number, endGas: number): RunStop | "past" {
  const go = (at: number): RunStop => (r.status === StatusCode.READY ? m.run(r, at) : m.resume(r, at));
  if (stopAt <= endGas) return go(stopAt);
  let at = endGas;
  let res = go(at);
  for (let tries = 0; res === "sliced" && at < stopAt && r.gasUsed <= endGas && tries < 4; tries++) {
    at = Math.min(stopAt, endGas + Math.max(1, m.slicedNeed));
    res = go(at);
  }
  if (r.gasUsed > endGas || (res === "sliced" && at < stopAt)) return "past";
  return res;
}

/** Why a replay stopped at the image's final gas: the trace let it go on past what the recorded run used. */
export function pastEnd(endGas: number): string {
  return `the replay would run past the ${endGas} gas the image's run used in all (the trace's refuels allow more than the run took)`;
}

/**
 * The machine a start event describes (its limits, its linked modules, its
 * mount points), with no capability handler: the replayer registers its own.
 * The recorded memory ceiling decides mem_limit faults, so it is kept, but
 * never above this runtime's own (the Machine's default): a trace cannot
 * make a replay allocate more than any run here could.
 */
export function replayMachine(start: StartEvent, module: (digest: string) => Module | undefined): Machine {
  const machine = new Machine({ caps: new CapRegistry(), images: imageCodec, maxDepth: start.maxDepth });
  if (start.memMax > machine.cpu.memMax)
    throw new RarError("trace.bad_event", `the start event's memory ceiling of ${start.memMax} words is above this runtime's ${machine.cpu.memMax}`);
  machine.cpu.memMax = start.memMax;
  for (const d of start.linked) {
    const l = module(d);
    if (!l) throw new RarError("trace.bad_event", `the start event links module ${d.slice(0, 16)}…, which the image does not hold`);
    machine.intern(l);
  }
  try {
    machine.mounts = mountPointsOf(start.policy);
  } catch (e) {
    throw new RarError("trace.bad_event", `the start event's policy is malformed: ${(e as Error).message}`);
  }
  return machine;
}

/** The guest mount points a start event's policy records (where file tree calls go to the host). */
export function mountPointsOf(policyText: string): string[] {
  if (policyText === "") return [];
  return (policyFromJson(policyText, "start event").mounts ?? []).map((m) => m.guest);
}

/** The file tree an import event carries (untrusted: checked as an image's files part is). */
export function importedFiles(e: FsImportEvent, where = "trace: fs_import"): FileTree {
  const bytes = int32ToBytes(e.files);
  if (e.length > bytes.length || bytes.length - e.length > 3) throw new RarError("trace.bad_event", `fs_import: ${e.length} bytes do not fit ${e.files.length} words`, where);
  return filesFromBytes(bytes.subarray(0, e.length), where);
}

/** Replaces the root's files with an import's, charging the difference to the root's footprint. */
export function applyImport(root: Process, e: FsImportEvent): void {
  const next = importedFiles(e);
  root.memUsed += next.words - (root.files?.words ?? 0);
  root.files = next;
}

/** Index of the interrupt event recorded for the run that starts at `from` (before the next resume), or -1. */
function interruptAhead(events: readonly TraceEvent[], from: number): number {
  for (let i = from; i < events.length; i++) {
    const k = events[i].kind;
    if (k === "interrupt") return i;
    if (k === "resume") return -1;
  }
  return -1;
}

/** The initial state a start event describes, on a machine with the recorded limits. */
function setUp(
  start: StartEvent,
  src: ReplaySource,
  diverge: (index: number, message: string, state: string) => void,
): { machine: Machine; root: Process } | null {
  const module = src.module(start.module);
  if (!module) {
    diverge(0, `the start event names module ${start.module.slice(0, 16)}…, which the image does not hold`, "before the start");
    return null;
  }
  if (start.entry >= module.functions.length || module.nparams[start.entry] !== 0) {
    diverge(0, `the start event's entry #${start.entry} is not a function without parameters`, "before the start");
    return null;
  }
  let machine: Machine;
  try {
    machine = replayMachine(start, src.module);
  } catch (e) {
    if (!(e instanceof RarError)) throw e;
    diverge(0, e.message, "before the start");
    return null;
  }
  const root = machine.createRoot(module, start.entry, [], { gas: 0, mem: 0 }, [...start.grants], rootArgsMemory(Array.from(start.args), start.texts));
  if (src.originDigest !== undefined) {
    const d = hex(stateDigest(root, emptyTrace(), (x) => machine.modules.get(x)));
    if (d !== src.originDigest) {
      diverge(0, `the start event does not reproduce the image's initial state (${d.slice(0, 16)}… vs ${src.originDigest.slice(0, 16)}…)`, "before the start");
      return null;
    }
  }
  return { machine, root };
}
