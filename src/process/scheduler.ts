// The scheduler moves control around the process tree and implements the
// intentional resource model (DESIGN §2):
//
// - Control is always in the deepest process D of the active path; every
//   ancestor of D waits in a RESUME.
// - On entering D it computes the smallest gas and memory headroom over the
//   chain root..D (O(depth), once per switch), and the interpreter runs
//   against those two counters.
// - On leaving D it settles what was used into every process of the chain.
// - When an instruction does not fit, the shallowest process E of the chain
//   that lacks the budget stops (out_of_gas / out_of_mem) and control goes to
//   E's parent; E..D stay frozen, D's pc still at the refused instruction.
//   Resuming E walks back down to D, which retries it.
//
// Everything is iterative: no host recursion grows with the depth of the tree.
//
// This file is the run loop and the counters; the rest of the process layer
// is in rooms: control.ts follows the chain (deepest process, who lacks a
// budget, waking, entering); the instructions the hot loop hands over run
// from the table in instructions.ts, by opcode, against the contract in
// slow.ts: children.ts (SPAWN, RESUME, KILL, ...), inbox.ts (INBOX,
// SNAPSHOT, RESTORE, ANSWER, REQUEST, ...), dispatch.ts (CAP), authority.ts
// (grant masks, NARROW); code.ts holds the verified modules.

import { GrantSets } from "../caps/grants.js";
import { CapRegistry, type CapValue } from "../caps/registry.js";
import { RarError } from "../vm/errors.js";
import { execute } from "../vm/execute.js";
import { DEFAULT_TIERING, type TieringOptions } from "../vm/tiering.js";
import { Cpu, Exit, interpret } from "../vm/interpreter.js";
import type { Module } from "../vm/module.js";
import { GAS, SCHEDULED, StatusCode } from "../vm/opcodes.js";
import { dropChild, makeChild, restartChild } from "./children.js";
import { completeResume, deepest, enterFresh, lacking, shallowestLacking, wake } from "./control.js";
import { CodeCache } from "./code.js";
import { deliver } from "./dispatch.js";
import { SLOW } from "./instructions.js";
import { NO_WORDS, PROCESS_WORDS, RecycleBin, SpareBuffers, clampLimit, rootProcess, type Process } from "./process.js";
import { Step, clipDetail, type CapCallEvent, type ImageCodec, type PendingCall, type Scheduler } from "./slow.js";

// What the layers above use of the process tree's machinery comes from here.
export { interruptRoot } from "./control.js";
export { LIMIT_MAX, raiseLimits } from "./process.js";
export type { CapCallEvent, ImageCodec } from "./slow.js";

export interface MachineOptions {
  /** Maximum depth of the process tree (root is depth 0). Default 4096. */
  maxDepth?: number;
  /** Largest linear memory of one process, in words. Default 2^28. */
  memMax?: number;
  /** Host capabilities (io.print, ...). */
  caps?: CapRegistry;
  /** Called for every capability call that reached the host, in order. */
  onCapCall?: (event: CapCallEvent) => void;
  /** Image codec for SNAPSHOT and RESTORE. */
  images?: ImageCodec;
  /** Step tracing: called with the process and pc before each instruction runs. Off (free) when absent. */
  onStep?: (p: Process, pc: number) => void;
  /**
   * Reuse the host objects of killed childless processes for later spawns
   * (no guest-visible difference). Only for a host that keeps no reference to
   * a child process after its parent killed it, such as the GP evaluator.
   */
  recycle?: boolean;
  /** Whether hot modules are compiled, and after how much gas (vm/tiering.ts; default: compiled after 200,000 gas). */
  tiering?: Partial<TieringOptions>;
}

/**
 * Why Machine.run returned: the root stopped, an async capability call is in
 * flight, or the root's gas reached the caller's `stopAt` (the tree is left
 * at an instruction boundary, every status unchanged: run it again to go on).
 */
export type RunStop = "stopped" | "pending" | "sliced";

/**
 * The hot loop's counters are capped at this window so they stay small
 * integers (V8 then keeps them in int32 registers). When a counter runs out
 * but the real headroom is larger, the scheduler refills it: once per 2^30.
 */
const WINDOW = 2 ** 30;

/**
 * Children that stopped last and are not parked yet: a parent most often
 * resumes next one of the few it just ran (a generator, a round of workers),
 * and parking costs a copy of its frame on the way back in.
 */
const UNPARKED = 16;

/** The capabilities and traps of a child the host spawns: none (shared, never written). */
const NO_CAPS = Object.freeze([]) as readonly string[] as string[];

export class Machine implements Scheduler {
  readonly cpu = new Cpu();
  readonly maxDepth: number;
  readonly caps: CapRegistry;
  /** How this machine runs code: interpreted only, or compiled once hot. */
  readonly tiering: TieringOptions;
  readonly onCapCall?: (event: CapCallEvent) => void;
  images?: ImageCodec;
  /** Verified modules: shared by digest (`modules`), linked, made by SPAWNC. */
  readonly code = new CodeCache();
  /** Verified modules by digest, shared by every process that runs them (host-loaded and linked). */
  readonly modules: Map<string, Module> = this.code.modules;
  /** Grant and trap sets handed out, shared by equal sets. */
  readonly grantSets = new GrantSets();
  /** Killed childless processes to reuse (recycling only, else null). */
  readonly recycled: RecycleBin | null;
  /** Stack and frame buffers stopped and finished processes gave up, for the next that needs one. */
  readonly spare = new SpareBuffers();
  /** The children that stopped last, not parked yet (stopped()), and where the next one goes. */
  private unparked: (Process | null)[] | null = null;
  private unparkedAt = 0;
  /** The root the unparked ones are under: a run of another tree lets go of them first. */
  private unparkedRoot: Process | null = null;

  next: Process | null = null;
  private gasStart = 0;
  /** The process whose counters are loaded while a run is under way; null between runs (gasInFlight). */
  private cur: Process | null = null;
  private memStart = 0;
  /** The chain's real headroom at the last load (the counters may hold less: see WINDOW). */
  private realGas = 0;
  private realMem = 0;
  /**
   * What the host itself grants (its policy): the scope above the root's own.
   * A root restored from an image holds what the image asked for; every
   * scoped call must also lie within the host's scopes (caps/fs.ts). Null:
   * the root's grants are the host's (a run started here).
   */
  hostGrants: readonly string[] | null = null;
  /** The signal of the run going on (Session.runAsync), handed to capability handlers (CapContext.signal). */
  signal: AbortSignal | undefined = undefined;
  /**
   * Guest paths where the host mounted a directory into the file tree
   * (normalized, sorted): a filesystem call reaching one goes to the host's
   * handler (process/files.ts). Only guest paths: which host directory each
   * is stays with the host's handlers.
   */
  mounts: readonly string[] = [];
  /** The root gasUsed at which run() returns "sliced" (Infinity: run until the root stops). */
  private stopAt = Infinity;
  /**
   * The gas of the instruction the last "sliced" refused (0 after any other
   * return): the caller's next stopAt must leave room for it (at least the
   * root's gasUsed plus this), or a slice shorter than one instruction (MGROW
   * of millions of words) would slice again at the same place for ever.
   */
  slicedNeed = 0;
  /** Step tracing: called before every instruction when set (costs nothing when not). */
  onStep?: (p: Process, pc: number) => void;
  private stepNeed = 0;
  private stepArmed = -1;
  /** The async capability call in flight, if any. */
  pending: PendingCall | null = null;

  constructor(options: MachineOptions = {}) {
    this.maxDepth = options.maxDepth ?? 4096;
    this.cpu.memMax = options.memMax ?? 1 << 28;
    this.caps = options.caps ?? new CapRegistry();
    this.onCapCall = options.onCapCall;
    this.images = options.images;
    this.onStep = options.onStep;
    this.recycled = options.recycle === true ? new RecycleBin() : null;
    // The defaults themselves (frozen) when the host gives none.
    this.tiering = options.tiering === undefined ? DEFAULT_TIERING : { ...DEFAULT_TIERING, ...options.tiering };
  }

  /** Registers a verified module so processes share it. */
  intern(m: Module): Module {
    return this.code.intern(m);
  }

  /** Makes a root process running `entry(args)` with the given limits and capabilities. */
  createRoot(
    module: Module,
    entry: number,
    args: ArrayLike<number>,
    limits: { gas: number; mem: number },
    caps: string[] = [],
    memory: Int32Array = NO_WORDS,
  ): Process {
    return rootProcess(this.intern(module), entry, args, limits, caps, memory);
  }

  /**
   * The host spawns a child of `parent` (a process not running now): as
   * SPAWNX spawns one, running function `entry` (no parameters) of `module`
   * with a copy of words[at, at + len) as memory, under its own gas and
   * memory limits, with no capabilities; its footprint is charged to it and
   * its ancestors; the host pays no gas. Run it with run(child), which stops
   * when the child stops, then killChild() it. A harness that runs many
   * short children one after the other (the GP evaluator) does this without
   * a parent program's SPAWNX, RESUME and KILL between them.
   */
  spawnChild(parent: Process, module: Module, entry: number, words: Int32Array, at: number, len: number, limits: { gas: number; mem: number }): Process {
    if (parent === this.cur || parent.waiting !== 0) throw new RarError("usage.not_ready", `process ${parent.path} is running`);
    if (entry < 0 || entry >= module.functions.length || module.nparams[entry] !== 0) throw new RarError("usage.arity", `function #${entry} of ${module.name} takes no parameters only`);
    const footprint = this.chargeBlock(parent, words, at, len, 0);
    return makeChild(this, parent, module, entry, NO_WORDS, 0, 0, words, at, len, clampLimit(limits.gas), clampLimit(limits.mem), NO_CAPS, NO_CAPS, footprint);
  }

  /**
   * The host starts a stopped, childless child of a process not running now
   * over, with a copy of words[at, at + len) as its memory: what killChild
   * then spawnChild give (the same module, entry, limits and capabilities,
   * nothing of its last run left), except that it keeps its handle. A
   * harness that runs one module on many inputs (the GP evaluator) does this
   * between inputs.
   */
  respawnChild(child: Process, words: Int32Array, at: number, len: number): void {
    const parent = this.parentOf(child);
    if (parent === this.cur || parent.waiting !== 0) throw new RarError("usage.not_ready", `process ${parent.path} is running`);
    if (child.status === StatusCode.READY || child.children.size !== 0) throw new RarError("usage.not_ready", `process ${child.path} has not stopped, or has children`);
    const footprint = this.chargeBlock(parent, words, at, len, child.memUsed);
    restartChild(this, parent, child, words, at, len, footprint);
  }

  /** The host kills a child of a process not running now, as KILL does: its subtree's footprint is released, the process recycled. */
  killChild(child: Process): void {
    const parent = this.parentOf(child);
    if (parent === this.cur || parent.waiting === child.handle) throw new RarError("usage.not_ready", `process ${parent.path} is running`);
    for (let q: Process | null = parent; q; q = q.parent) q.memUsed -= child.memUsed;
    dropChild(this, parent, child);
  }

  /** The parent of a child the host names (respawnChild, killChild), refused if it is no one's child. */
  private parentOf(child: Process): Process {
    const parent = child.parent;
    if (parent === null || parent.children.get(child.handle) !== child) throw new RarError("usage.no_process", `process ${child.path} is no child`);
    return parent;
  }

  /**
   * Charges parent's chain for a child holding words[at, at + len) as its
   * memory, in place of `freed` words it held before (a child started over):
   * refused, with nothing charged, when the block is outside the words or does
   * not fit some ancestor. Returns the child's footprint.
   */
  private chargeBlock(parent: Process, words: Int32Array, at: number, len: number, freed: number): number {
    if (len < 0 || at < 0 || at + len > words.length) throw new RarError("usage.bad_address", `memory block at ${at}, ${len} words`);
    const footprint = PROCESS_WORDS + len;
    for (let q: Process | null = parent; q; q = q.parent)
      if (q.memLimit - q.memUsed + freed < footprint) throw new RarError("usage.bad_number", `a child of ${footprint} words does not fit ${q.path}'s memory`);
    for (let q: Process | null = parent; q; q = q.parent) q.memUsed += footprint - freed;
    return footprint;
  }

  /**
   * Runs the tree of `root` until the root stops: done, fault, out_of_gas,
   * out_of_mem, yielded or cap_call. Returns "pending" if an async capability
   * call is in flight (see settlePending). The root must be ready.
   *
   * With `stopAt`, no instruction runs that would take the root's gasUsed
   * beyond it: run returns "sliced" instead, at an instruction boundary. A
   * slice is the same refusal as an exhausted budget, so where a run stops is
   * a function of `stopAt` alone (a replay given the same number stops at the
   * same instruction).
   */
  run(root: Process, stopAt = Infinity): RunStop {
    if (this.pending) throw new RarError("usage.async", "an async capability call is pending; settle it first");
    if (root.status !== StatusCode.READY) throw new RarError("usage.not_ready", `process is ${root.statusName}`);
    this.stopAt = stopAt;
    this.slicedNeed = 0;
    if (root !== this.unparkedRoot) {
      this.letGo(-1);
      this.unparkedRoot = root;
    }
    let d = deepest(root);
    this.load(d);
    const cpu = this.cpu;
    for (;;) {
      let exit: Exit;
      if (cpu.fp === 0 && !enterFresh(cpu, d)) exit = Exit.Mem;
      else {
        if (this.onStep) {
          // Step mode shrinks the gas counter to one instruction: the interpreter alone does that exactly.
          this.step(d);
          exit = interpret(cpu);
        } else exit = execute(cpu, this.tiering);
      }
      let step: Step;
      switch (exit) {
        case Exit.Gas:
          step = Step.Gas;
          break;
        case Exit.Mem:
          step = Step.Mem;
          break;
        case Exit.Fault:
          step = Step.Fault;
          break;
        case Exit.Done:
          this.leave(d);
          d.status = StatusCode.DONE;
          d.value = cpu.value;
          // A finished process never runs again and holds no frames or stack words (fp = sp = 0):
          // a child kept alive for its result holds no buffers for it. A recycling machine keeps
          // them for the next spawn that reuses the process (RecycleBin).
          if (this.recycled === null) {
            d.stack = NO_WORDS;
            d.frames = NO_WORDS;
          }
          step = Step.Stop;
          break;
        default:
          step = this.slowRun(d);
      }
      if (step === Step.Continue) continue;
      // A refusal may only be the counter's window (or a single step): refill and retry.
      if (step === Step.Gas || step === Step.Mem) {
        // Nothing ran since the step was armed (every instruction costs gas): the announced one was refused.
        const retry = this.onStep !== undefined && cpu.gas === this.stepArmed;
        if (this.refill(d, step === Step.Gas)) {
          if (retry) this.stepNeed = step === Step.Gas ? cpu.need : 1;
          continue;
        }
      }
      if (step === Step.Pending) return "pending";
      if (step === Step.Switch) {
        d = this.next as Process;
        this.load(d);
        continue;
      }
      if (step === Step.Gas && this.stopAt !== Infinity && lacking(d, true, cpu.need) === null) {
        // Only the slice refused it (refill settled everything): stop here, nothing changed.
        this.cur = null;
        this.slicedNeed = cpu.need;
        return "sliced";
      }
      // Something stopped: find which process, hand control to its parent.
      let stopped = d;
      if (step === Step.Gas || step === Step.Mem) {
        this.leave(d);
        stopped = shallowestLacking(d, step === Step.Gas, cpu.need);
        stopped.status = step === Step.Gas ? StatusCode.OUT_OF_GAS : StatusCode.OUT_OF_MEM;
        stopped.need = cpu.need;
      } else if (step === Step.Fault) {
        this.leave(d);
        d.status = StatusCode.FAULT;
        d.faultKind = cpu.fault;
        d.takeDetail(cpu);
      }
      if (stopped === root) {
        this.cur = null;
        return "stopped";
      }
      if (stopped.status !== StatusCode.DONE) this.stopped(stopped);
      d = completeResume(stopped, this.spare);
      this.load(d);
    }
  }

  /**
   * Gas the running process has used since it was last settled into its
   * chain (0 when nothing runs). A step hook reads the root's exact gasUsed
   * as root.gasUsed + gasInFlight, so it can tell which announced
   * instructions ran (every instruction that runs costs gas).
   */
  get gasInFlight(): number {
    return this.cur === null ? 0 : this.gasStart - this.cpu.gas;
  }

  /** Resumes a stopped root (host side): out_of_gas, out_of_mem, yielded or cap_call. */
  resume(root: Process, stopAt = Infinity): RunStop {
    wake(root, this.spare);
    return this.run(root, stopAt);
  }

  /** Completes an async capability call once its promise settled, then keeps running (up to `stopAt`, as run). */
  settlePending(root: Process, value: CapValue | Error, stopAt = Infinity): RunStop {
    const pend = this.pending;
    if (!pend) throw new RarError("usage.no_pending");
    this.pending = null;
    const p = pend.proc;
    if (value instanceof Error) {
      p.status = StatusCode.FAULT;
      p.faultKind = "cap_failed";
      p.faultDetail = clipDetail(`${pend.cap}: ${value.message}`);
      // The call never returned: control goes to the parent as for any fault.
      return this.resumeAfterStop(root, p, stopAt);
    }
    this.load(p);
    const step = deliver(this, p, pend.cap, pend.args, value);
    if (step === Step.Fault) {
      this.leave(p);
      p.status = StatusCode.FAULT;
      p.faultKind = this.cpu.fault;
      p.takeDetail(this.cpu);
      return this.resumeAfterStop(root, p, stopAt);
    }
    this.leave(p);
    return this.run(root, stopAt);
  }

  private resumeAfterStop(root: Process, p: Process, stopAt: number): RunStop {
    if (p === root) return "stopped";
    // Ancestors of the parent were waiting; the parent continues.
    completeResume(p, this.spare);
    return this.run(root, stopAt);
  }

  // --- the counters: the chain's headroom loaded, what was used settled ---

  private load(p: Process): void {
    const cpu = this.cpu;
    if (p.borrowed) p.own(this.spare);
    this.cur = p;
    cpu.module = p.module;
    cpu.pc = p.pc;
    cpu.sp = p.sp;
    cpu.bp = p.bp;
    cpu.fp = p.fp;
    cpu.stack = p.stack;
    cpu.frames = p.frames;
    cpu.mem = p.mem;
    cpu.memSize = p.memSize;
    let g = Infinity;
    let m = Infinity;
    let top = p;
    for (let q: Process | null = p; q; q = q.parent) {
      const gq = q.gasLimit - q.gasUsed;
      const mq = q.memLimit - q.memUsed;
      if (gq < g) g = gq;
      if (mq < m) m = mq;
      top = q;
    }
    // A slice is headroom the root does not have beyond stopAt.
    const slice = Math.max(0, this.stopAt - top.gasUsed);
    if (slice < g) g = slice;
    this.realGas = g;
    this.realMem = m;
    cpu.gas = this.gasStart = Math.min(g, WINDOW);
    cpu.memFree = this.memStart = Math.min(m, WINDOW);
  }

  /** After a refusal: settle, recompute the counters, and say whether the instruction now fits. */
  private refill(d: Process, gas: boolean): boolean {
    const cpu = this.cpu;
    const need = cpu.need;
    this.leave(d);
    this.load(d);
    cpu.need = need;
    if (gas ? this.realGas < need : this.realMem < need) return false;
    if (gas && cpu.gas < need) cpu.gas = this.gasStart = need;
    if (!gas && cpu.memFree < need) cpu.memFree = this.memStart = need;
    return true;
  }

  /**
   * Step mode: shrink the gas counter to the next instruction's cost so the
   * loop runs exactly one (a fused pair does not fit and runs as its first
   * half). A bulk instruction refused at that size is retried with what it
   * needs, without announcing it twice.
   */
  private step(d: Process): void {
    const cpu = this.cpu;
    const c = Math.max(GAS[d.module.code[cpu.pc]], this.stepNeed);
    if (cpu.gas > c) {
      this.gasStart -= cpu.gas - c;
      cpu.gas = c;
    }
    if (this.stepNeed === 0) (this.onStep as NonNullable<typeof this.onStep>)(d, cpu.pc);
    this.stepNeed = 0;
    this.stepArmed = cpu.gas;
  }

  /** Settles the running process d and loads its counters again (after its chain's usage changed outside them). */
  reload(d: Process): void {
    this.leave(d);
    this.load(d);
  }

  /**
   * A child stopped and control goes to its parent. A stopped child waits for
   * its parent, maybe for long: it keeps no buffers it need not (Process.park),
   * once UNPARKED others stopped after it.
   */
  private stopped(p: Process): void {
    if (p.unparked) return;
    // Made when a child first stops (a tree restored and never run makes none).
    const u = (this.unparked ??= new Array<Process | null>(UNPARKED).fill(null));
    const at = this.unparkedAt;
    const old = u[at];
    if (old !== null) {
      old.unparked = false;
      old.park(this.spare);
    }
    p.unparked = true;
    u[at] = p;
    this.unparkedAt = at === UNPARKED - 1 ? 0 : at + 1;
  }

  /**
   * d killed a child: the stopped processes below d that are not parked yet
   * are parked now and let go, so the machine keeps nothing of a killed
   * subtree alive (its footprint was just released).
   */
  killed(d: Process): void {
    this.letGo(d.depth);
  }

  /** Parks and lets go of the unparked processes deeper than `depth`. */
  private letGo(depth: number): void {
    const u = this.unparked;
    if (u === null) return;
    for (let i = 0; i < UNPARKED; i++) {
      const p = u[i];
      if (p === null || p.depth <= depth) continue;
      p.unparked = false;
      p.park(this.spare);
      u[i] = null;
    }
  }

  /** Saves the registers into p and settles used gas and memory into the whole chain. */
  leave(p: Process): void {
    const cpu = this.cpu;
    p.pc = cpu.pc;
    p.sp = cpu.sp;
    p.bp = cpu.bp;
    p.fp = cpu.fp;
    p.stack = cpu.stack;
    p.frames = cpu.frames;
    p.mem = cpu.mem;
    p.memSize = cpu.memSize;
    const g = this.gasStart - cpu.gas;
    const m = this.memStart - cpu.memFree;
    if (g !== 0 || m !== 0) {
      for (let q: Process | null = p; q; q = q.parent) {
        q.gasUsed += g;
        q.memUsed += m;
      }
    }
    this.gasStart = cpu.gas;
    this.memStart = cpu.memFree;
  }

  /** The running process's own gas (or memory) headroom, counting what the counters used since load. */
  ownLeft(d: Process, gas: boolean): number {
    const cpu = this.cpu;
    return gas ? d.gasLimit - d.gasUsed - (this.gasStart - cpu.gas) : d.memLimit - d.memUsed - (this.memStart - cpu.memFree);
  }

  /**
   * Runs the slow instruction at pc and the ones right after it while they
   * are slow too: entering the hot loop only to hand the next one back would
   * change nothing (it would check the same gas first). Not in step mode,
   * which announces every instruction.
   */
  private slowRun(d: Process): Step {
    const cpu = this.cpu;
    const code = d.module.code;
    let step = this.slow(d);
    while (step === Step.Continue && this.onStep === undefined && SCHEDULED[code[cpu.pc]] === 1) step = this.slow(d);
    return step;
  }

  /** One slow instruction: its base gas first, as the hot loop charges it, then its handler. */
  private slow(d: Process): Step {
    const cpu = this.cpu;
    const op = d.module.code[cpu.pc];
    const base = GAS[op];
    if (base > cpu.gas) {
      cpu.need = base;
      return Step.Gas;
    }
    return SLOW[op](this, d, op);
  }
}
