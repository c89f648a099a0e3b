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

import { isPathScoped, realScopeWithin } from "../caps/fs.js";
import {
  CapRegistry,
  GRANT_MAX,
  RESULT_MAX,
  argWords,
  capFamily,
  capScope,
  intersectGrants,
  normalizeResult,
  type CapContext,
  type CapValue,
} from "../caps/registry.js";
import { resolveScope, scopeWithin } from "../caps/scope.js";
import { builtinSignature } from "../caps/signatures.js";
import { FAULTS, RarError, type FaultKind } from "../vm/errors.js";
import { execute } from "../vm/execute.js";
import { Cpu, Exit, interpret } from "../vm/interpreter.js";
import { decodeModule, type Module } from "../vm/module.js";
import { GAS, Op, SCHEDULED, SPAWN_EXTRA, StatusCode, byteGas, wordGas } from "../vm/opcodes.js";
import { verify } from "../vm/verify.js";
import { NO_WORDS, PROCESS_WORDS, Process, REQUEST_ARG_WORDS, requestWords } from "./process.js";

/** Encodes and decodes process subtrees as images (provided by the image layer). */
export interface ImageCodec {
  /** The image bytes of p's subtree. */
  encode(p: Process, machine: Machine): Uint8Array;
  /** A detached tree (root has no parent) from untrusted bytes; throws a RarError if they are bad. */
  decode(bytes: Uint8Array, machine: Machine): Process;
}

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
}

export interface CapCallEvent {
  path: string;
  cap: string;
  args: CapValue[];
  result: CapValue;
}

/**
 * Why Machine.run returned: the root stopped, an async capability call is in
 * flight, or the root's gas reached the caller's `stopAt` (the tree is left
 * at an instruction boundary, every status unchanged: run it again to go on).
 */
export type RunStop = "stopped" | "pending" | "sliced";

/** Largest gas or memory limit: a safe integer (budgets are counted exactly). */
export const LIMIT_MAX = Number.MAX_SAFE_INTEGER;
/**
 * The hot loop's counters are capped at this window so they stay small
 * integers (V8 then keeps them in int32 registers). When a counter runs out
 * but the real headroom is larger, the scheduler refills it: once per 2^30.
 */
const WINDOW = 2 ** 30;
/** Modules made by SPAWNC kept for reuse. */
const CODE_CACHE = 64;
/** Distinct grant and trap sets remembered for sharing. */
const GRANT_SETS = 256;
/** Killed processes kept for reuse when recycling. */
const RECYCLED = 16;
/** The grant or trap set of a child given none (shared: grant arrays are replaced, never mutated). */
const NO_CAPS = Object.freeze([]) as readonly string[] as string[];


/** Longest fault detail a process keeps, in code units (a guest can make messages quote its data). */
const DETAIL_MAX = 256;

function clipDetail(text: string): string {
  return text.length <= DETAIL_MAX ? text : text.slice(0, DETAIL_MAX - 1) + "…";
}

/** Outcome of a slow instruction. */
const enum Step {
  Continue,
  Gas,
  Mem,
  Fault,
  /** Control moves to `this.next`. */
  Switch,
  /** The current process stopped itself (yield, trapped capability call). */
  Stop,
  /** An async capability call is in flight. */
  Pending,
}

export class Machine {
  readonly cpu = new Cpu();
  readonly maxDepth: number;
  readonly caps: CapRegistry;
  private readonly onCapCall?: (event: CapCallEvent) => void;
  images?: ImageCodec;
  /** Verified modules by digest, shared by every process that runs them (host-loaded and linked). */
  readonly modules = new Map<string, Module>();
  /** Recently verified SPAWNC code, by digest (bounded, insertion order). */
  private readonly codeCache = new Map<string, Module>();
  /** Grant and trap sets handed out, by their names (see shared()). */
  private readonly grantSets = new Map<string, string[]>();

  private cur: Process | null = null;
  private next: Process | null = null;
  private gasStart = 0;
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
  /** The root gasUsed at which run() returns "sliced" (Infinity: run until the root stops). */
  private stopAt = Infinity;
  /** Step tracing: called before every instruction when set (costs nothing when not). */
  onStep?: (p: Process, pc: number) => void;
  private stepNeed = 0;
  private stepArmed = -1;
  /** The async capability call in flight, if any. */
  pending: { proc: Process; promise: Promise<CapValue>; cap: string; args: CapValue[] } | null = null;
  private readonly recycle: boolean;
  /** Killed childless processes to reuse (recycling only). */
  private readonly recycled: Process[] = [];
  /** SPAWNX's resolved links (see linked()). */
  private linksOf: Module | null = null;
  private linkedModules: Module[] = [];

  constructor(options: MachineOptions = {}) {
    this.maxDepth = options.maxDepth ?? 4096;
    this.cpu.memMax = options.memMax ?? 1 << 28;
    this.caps = options.caps ?? new CapRegistry();
    this.onCapCall = options.onCapCall;
    this.images = options.images;
    this.onStep = options.onStep;
    this.recycle = options.recycle ?? false;
  }

  /** Registers a verified module so processes share it. */
  intern(m: Module): Module {
    const known = this.modules.get(m.digest);
    if (known) return known;
    this.modules.set(m.digest, m);
    return m;
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
    if (entry < 0 || entry >= module.functions.length) throw new RarError("usage.entry", `no function #${entry}`);
    if (args.length !== module.nparams[entry])
      throw new RarError(
        "usage.arity",
        `${module.functions[entry].name} takes ${module.nparams[entry]} argument(s), got ${args.length}`,
      );
    const p = new Process(
      this.intern(module),
      entry,
      Int32Array.from(args),
      memory,
      clampLimit(limits.gas),
      clampLimit(limits.mem),
      [...new Set(caps)].sort(),
      [],
      null,
      0,
    );
    p.memUsed = p.ownFootprint();
    return p;
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
    let d = deepest(root);
    this.load(d);
    const cpu = this.cpu;
    for (;;) {
      let exit: Exit;
      if (cpu.fp === 0 && !this.enter(d)) exit = Exit.Mem;
      else {
        if (this.onStep) {
          // Step mode shrinks the gas counter to one instruction: the interpreter alone does that exactly.
          this.step(d);
          exit = interpret(cpu);
        } else exit = execute(cpu);
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
      d = stopped.parent as Process;
      // Complete the parent's RESUME: its handle operand becomes the status.
      d.stack[d.sp - 1] = stopped.status;
      d.pc += 1;
      d.waiting = 0;
      this.load(d);
    }
  }

  /** Resumes a stopped root (host side): out_of_gas, out_of_mem, yielded or cap_call. */
  resume(root: Process, stopAt = Infinity): RunStop {
    wake(root);
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
    const step = this.deliver(p, pend.cap, pend.args, value);
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
    const parent = p.parent as Process;
    parent.stack[parent.sp - 1] = p.status;
    parent.pc += 1;
    parent.waiting = 0;
    // Ancestors of parent were waiting; the parent continues.
    return this.run(root, stopAt);
  }

  // --- control transfer -------------------------------------------------

  private load(p: Process): void {
    const cpu = this.cpu;
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

  /** Saves the registers into p and settles used gas and memory into the whole chain. */
  private leave(p: Process): void {
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

  /**
   * First entry of a fresh process: push the bottom frame (charged like a
   * call, less the arguments it holds already: they become its first locals).
   */
  private enter(p: Process): boolean {
    const cpu = this.cpu;
    const m = p.module;
    const f = p.entryFn;
    const cost = m.frameCost[f] - cpu.sp;
    if (cost > cpu.memFree) {
      cpu.need = cost;
      return false;
    }
    cpu.memFree -= cost;
    const top = m.nlocals[f] + m.maxStack[f];
    if (cpu.stack.length < top) {
      const s = new Int32Array(top);
      s.set(cpu.stack.subarray(0, cpu.sp));
      cpu.stack = s;
    }
    if (cpu.frames.length < 3) cpu.frames = new Int32Array(12);
    // Locals past the arguments start at zero (a loop: fill() is a slow call for a few words).
    const stack = cpu.stack;
    for (let i = cpu.sp, n = m.nlocals[f]; i < n; i++) stack[i] = 0;
    cpu.frames[0] = -1;
    cpu.frames[1] = 0;
    cpu.frames[2] = f;
    cpu.fp = 3;
    cpu.bp = 0;
    cpu.sp = m.nlocals[f];
    cpu.pc = m.entries[f];
    return true;
  }

  // --- slow instructions -------------------------------------------------

  private fault(kind: FaultKind, detail: string): Step {
    this.cpu.fault = kind;
    this.cpu.say(clipDetail(detail || FAULTS[kind]));
    return Step.Fault;
  }

  /** Charges `gas` if it fits; otherwise records the need. */
  private charge(gas: number): boolean {
    const cpu = this.cpu;
    if (gas > cpu.gas) {
      cpu.need = gas;
      return false;
    }
    cpu.gas -= gas;
    return true;
  }

  private child(p: Process, h: number): Process | null {
    return p.children.get(h) ?? null;
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

  private slow(d: Process): Step {
    const cpu = this.cpu;
    const code = d.module.code;
    const pc = cpu.pc;
    const op = code[pc];
    const s = cpu.stack;
    const sp = cpu.sp;
    const base = GAS[op];
    // Same order as the hot loop: base gas first, then operands (a fault charges nothing), then the full cost.
    if (base > cpu.gas) {
      cpu.need = base;
      return Step.Gas;
    }
    switch (op) {
      case Op.GASLEFT:
      case Op.MEMLEFT: {
        if (!this.charge(base)) return Step.Gas;
        const left =
          op === Op.GASLEFT
            ? d.gasLimit - d.gasUsed - (this.gasStart - cpu.gas)
            : d.memLimit - d.memUsed - (this.memStart - cpu.memFree);
        s[sp] = Math.max(-0x80000000, Math.min(0x7fffffff, left));
        cpu.sp = sp + 1;
        cpu.pc = pc + 1;
        return Step.Continue;
      }
      case Op.CSIZE: {
        const c = this.child(d, s[sp - 1]);
        if (!c) return this.fault("bad_handle", `handle ${s[sp - 1]}`);
        cpu.gas -= base;
        s[sp - 1] = c.memSize;
        cpu.pc = pc + 1;
        return Step.Continue;
      }
      case Op.STATUS:
      case Op.RESULT: {
        const c = this.child(d, s[sp - 1]);
        if (!c) return this.fault("bad_handle", `handle ${s[sp - 1]}`);
        if (op === Op.RESULT && c.status !== StatusCode.DONE && c.status !== StatusCode.YIELDED)
          return this.fault("no_result", `child ${c.path} is ${c.statusName}`);
        if (!this.charge(base)) return Step.Gas;
        s[sp - 1] = op === Op.STATUS ? c.status : c.value;
        cpu.pc = pc + 1;
        return Step.Continue;
      }
      case Op.REFUEL: {
        const c = this.child(d, s[sp - 3]);
        const g = s[sp - 2];
        const m = s[sp - 1];
        if (!c) return this.fault("bad_handle", `handle ${s[sp - 3]}`);
        if (g < 0 || m < 0) return this.fault("bad_arg", `refuel by ${g} gas, ${m} words`);
        if (!this.charge(base)) return Step.Gas;
        raiseLimits(c, g, m);
        cpu.sp = sp - 3;
        cpu.pc = pc + 1;
        return Step.Continue;
      }
      case Op.KILL: {
        const c = this.child(d, s[sp - 1]);
        if (!c) return this.fault("bad_handle", `handle ${s[sp - 1]}`);
        if (!this.charge(base)) return Step.Gas;
        d.children.delete(c.handle);
        c.parent = null;
        // Releasing the subtree's footprint from d and every ancestor of d.
        cpu.memFree += c.memUsed;
        if (this.recycle && c.children.size === 0 && this.recycled.length < RECYCLED) this.recycled.push(c);
        cpu.sp = sp - 1;
        cpu.pc = pc + 1;
        return Step.Continue;
      }
      case Op.CLOAD:
      case Op.CSTORE: {
        const c = this.child(d, s[sp - 4]);
        if (!c) return this.fault("bad_handle", `handle ${s[sp - 4]}`);
        const a = s[sp - 3];
        const b = s[sp - 2];
        const n = s[sp - 1];
        // CLOAD: a = child src, b = own dst. CSTORE: a = child dst, b = own src.
        if (n < 0 || a < 0 || a + n > c.memSize || b < 0 || b + n > cpu.memSize)
          return this.fault("mem_bounds", `copy of ${n} words between child ${c.path} at ${a} and self at ${b}`);
        if (!this.charge(base + wordGas(n))) return Step.Gas;
        if (op === Op.CLOAD) cpu.mem.set(c.mem.subarray(a, a + n), b);
        else c.mem.set(cpu.mem.subarray(b, b + n), a);
        cpu.sp = sp - 4;
        cpu.pc = pc + 1;
        return Step.Continue;
      }
      case Op.YIELD:
        if (!this.charge(base)) return Step.Gas;
        cpu.sp = sp - 1;
        cpu.pc = pc + 1;
        this.leave(d);
        d.status = StatusCode.YIELDED;
        d.value = s[sp - 1];
        return Step.Stop;
      case Op.RESUME:
        return this.resumeChild(d);
      case Op.SPAWN:
      case Op.SPAWNC:
      case Op.SPAWNX:
        return this.spawn(d, op);
      case Op.INBOX:
      case Op.INLEN:
      case Op.SNAPSHOT:
      case Op.RESTORE:
      case Op.ANSWER:
      case Op.ANSWERA:
      case Op.REQUEST:
        return this.inboxOps(d, op);
      case Op.CAP:
        return this.capCall(d);
      case Op.NARROW:
        return this.narrow(d);
      default:
        throw new Error(`internal: opcode ${op} reached the slow path`);
    }
  }

  private resumeChild(d: Process): Step {
    const cpu = this.cpu;
    const h = cpu.stack[cpu.sp - 1];
    const c = this.child(d, h);
    if (!c) return this.fault("bad_handle", `handle ${h}`);
    const st = c.status;
    if (st === StatusCode.DONE || st === StatusCode.FAULT) {
      // Nothing to run: RESUME reports the final status at once.
      if (!this.charge(GAS[Op.RESUME])) return Step.Gas;
      cpu.stack[cpu.sp - 1] = st;
      cpu.pc += 1;
      return Step.Continue;
    }
    if (!this.charge(GAS[Op.RESUME])) return Step.Gas;
    this.leave(d);
    d.waiting = h;
    wake(c);
    this.next = deepest(c);
    return Step.Switch;
  }

  private spawn(d: Process, op: number): Step {
    const cpu = this.cpu;
    const s = cpu.stack;
    const pc = cpu.pc;
    // SPAWNC has two more operands on top: the code bytes.
    const sp = op === Op.SPAWNC ? cpu.sp - 2 : cpu.sp;
    const trap = s[sp - 1];
    const grant = s[sp - 2];
    const memLimit = s[sp - 3];
    const gasLimit = s[sp - 4];
    const len = s[sp - 5];
    const ptr = s[sp - 6];
    if (gasLimit < 0 || memLimit < 0) return this.fault("bad_arg", `spawn with gas ${gasLimit}, mem ${memLimit}`);
    if (len < 0 || ptr < 0 || ptr + len > cpu.memSize)
      return this.fault("mem_bounds", `spawn memory block at ${ptr}, ${len} words`);
    if (d.depth + 1 > this.maxDepth) return this.fault("depth_limit", `depth ${d.depth + 1} > ${this.maxDepth}`);
    const caps = this.capSet(d, grant, true);
    if (typeof caps === "string") return this.fault("cap_denied", caps);
    const traps = this.capSet(d, trap, false);
    if (typeof traps === "string") return this.fault("bad_arg", traps);
    let module = d.module;
    let entry = 0;
    let nargs = 0;
    let codeWords = 0;
    if (op === Op.SPAWN) {
      entry = d.module.code[pc + 1];
      nargs = module.nparams[entry];
    } else if (op === Op.SPAWNX) {
      const linked = this.linked(d.module, d.module.code[pc + 1]);
      if (!linked) return this.fault("bad_code", `linked module ${(d.module.links ?? [])[d.module.code[pc + 1]].slice(0, 12)} is not loaded`);
      entry = d.module.code[pc + 2];
      if (entry < 0 || entry >= linked.functions.length) return this.fault("bad_code", `no function #${entry} in linked module`);
      module = linked;
    } else {
      const clen = s[cpu.sp - 1];
      const cptr = s[cpu.sp - 2];
      if (clen < 0 || cptr < 0 || cptr + clen > cpu.memSize)
        return this.fault("mem_bounds", `code bytes at ${cptr}, ${clen} long`);
      codeWords = clen;
    }
    const gas = GAS[op] + wordGas(len) + byteGas(codeWords);
    if (gas > cpu.gas) {
      cpu.need = gas;
      return Step.Gas;
    }
    // Bookkeeping, memory and the arguments it holds until its entry frame replaces them.
    const footprint = PROCESS_WORDS + len + nargs;
    if (footprint > cpu.memFree) {
      cpu.need = footprint;
      return Step.Mem;
    }
    if (op === Op.SPAWNC) {
      const cptr = s[cpu.sp - 2];
      const loaded = this.loadCode(cpu.mem.subarray(cptr, cptr + codeWords));
      if (typeof loaded === "string") return this.fault("bad_code", loaded);
      module = loaded;
    }
    if (op !== Op.SPAWN && module.nparams[entry] !== 0)
      return this.fault("bad_code", `entry function ${module.functions[entry].name} must take no parameters`);
    cpu.gas -= gas;
    cpu.memFree -= footprint;
    const argBase = sp - SPAWN_EXTRA - nargs;
    const h = d.nextHandle++;
    let child = this.recycled.pop();
    if (child === undefined)
      child = new Process(
        module,
        entry,
        nargs === 0 ? NO_WORDS : s.subarray(argBase, argBase + nargs),
        len === 0 ? NO_WORDS : cpu.mem.slice(ptr, ptr + len),
        gasLimit,
        memLimit,
        caps,
        traps,
        d,
        h,
      );
    else child.reuse(module, entry, s, argBase, nargs, cpu.mem, ptr, len, gasLimit, memLimit, caps, traps, d, h);
    child.memUsed = footprint;
    d.children.set(h, child);
    s[argBase] = h;
    cpu.sp = argBase + 1;
    cpu.pc = pc + (op === Op.SPAWN ? 2 : op === Op.SPAWNX ? 3 : 1);
    return Step.Continue;
  }

  /**
   * Link i of module m, if loaded. The modules of the last module that
   * spawned through its links are remembered by index (only those found: a
   * digest, once in the shared map, always names the same module).
   */
  private linked(m: Module, i: number): Module | undefined {
    if (this.linksOf !== m) {
      this.linksOf = m;
      this.linkedModules = [];
    }
    let found: Module | undefined = this.linkedModules[i];
    if (found === undefined) {
      found = this.modules.get((m.links ?? [])[i]);
      if (found) this.linkedModules[i] = found;
    }
    return found;
  }

  /** Replaces d's inbox with `data`, charging its words (d is the running process). An empty inbox is null: no host array. */
  private fillInbox(d: Process, data: Int32Array): void {
    this.cpu.memFree += (d.inbox?.length ?? 0) - data.length;
    d.inbox = data.length === 0 ? null : data;
  }

  private inboxOps(d: Process, op: number): Step {
    const cpu = this.cpu;
    const s = cpu.stack;
    const sp = cpu.sp;
    const held = d.inbox?.length ?? 0;
    switch (op) {
      case Op.INLEN:
        if (!this.charge(GAS[op])) return Step.Gas;
        s[sp] = held;
        cpu.sp = sp + 1;
        break;
      case Op.INBOX: {
        const dst = s[sp - 1];
        if (dst < 0 || dst + held > cpu.memSize) return this.fault("mem_bounds", `inbox of ${held} to ${dst}`);
        if (!this.charge(GAS[op] + wordGas(held))) return Step.Gas;
        if (d.inbox) cpu.mem.set(d.inbox, dst);
        this.cpu.memFree += held;
        d.inbox = null;
        cpu.sp = sp - 1;
        break;
      }
      case Op.SNAPSHOT: {
        const c = this.child(d, s[sp - 1]);
        if (!c) return this.fault("bad_handle", `handle ${s[sp - 1]}`);
        if (!this.images) return this.fault("bad_image", "no image codec in this runtime");
        // Priced on the subtree's footprint (what encoding walks), known before any work is done.
        const gas = GAS[op] + wordGas(c.memUsed);
        if (!this.charge(gas)) return Step.Gas;
        const bytes = this.images.encode(c, this);
        if (bytes.length - held > cpu.memFree) {
          cpu.gas += gas;
          cpu.need = bytes.length - held;
          return Step.Mem;
        }
        this.fillInbox(d, Int32Array.from(bytes));
        s[sp - 1] = bytes.length;
        break;
      }
      case Op.RESTORE:
        return this.restore(d);
      case Op.ANSWER:
      case Op.ANSWERA: {
        const n = op === Op.ANSWER ? 2 : 3;
        const c = this.child(d, s[sp - n]);
        if (!c) return this.fault("bad_handle", `handle ${s[sp - n]}`);
        if (c.status !== StatusCode.CAP_CALL) return this.fault("not_resumable", `child ${c.path} is ${c.statusName}, not cap_call`);
        // The answer must have the capability's result type (when the runtime knows it).
        const cap = (c.request as NonNullable<typeof c.request>).cap;
        const result = (this.caps.get(cap)?.sig ?? builtinSignature(cap))?.result;
        if (result !== undefined && result !== (op === Op.ANSWER ? "int" : "array"))
          return this.fault("bad_arg", `${cap} returns ${result === "int" ? "an int" : "an array"}; the answer is not one`);
        if (op === Op.ANSWER) {
          if (!this.charge(GAS[op])) return Step.Gas;
          c.answer = s[sp - 1];
        } else {
          const ptr = s[sp - 2];
          const len = s[sp - 1];
          if (len < 0 || ptr < 0 || ptr + len > cpu.memSize) return this.fault("mem_bounds", `answer of ${len} at ${ptr}`);
          const grow = len - (c.inbox?.length ?? 0);
          if (grow > c.memLimit - c.memUsed) return this.fault("bad_arg", `answer of ${len} words exceeds child ${c.path}'s memory`);
          if (!this.charge(GAS[op] + wordGas(len))) return Step.Gas;
          if (grow > cpu.memFree) {
            cpu.gas += GAS[op] + wordGas(len);
            cpu.need = grow;
            return Step.Mem;
          }
          // The child's footprint grows; so do d's and its ancestors' (through memFree).
          cpu.memFree -= grow;
          c.memUsed += grow;
          c.inbox = cpu.mem.slice(ptr, ptr + len);
          c.answer = len;
        }
        cpu.sp = sp - n;
        break;
      }
      case Op.REQUEST: {
        const c = this.child(d, s[sp - 2]);
        const k = s[sp - 1];
        if (!c) return this.fault("bad_handle", `handle ${s[sp - 2]}`);
        const req = c.request;
        if (!req) return this.fault("no_result", `child ${c.path} is ${c.statusName}, not cap_call`);
        if (k < -2 || k >= req.args.length) return this.fault("bad_arg", `request argument ${k} of ${req.args.length}`);
        if (k === -2) {
          if (!this.charge(GAS[op])) return Step.Gas;
          s[sp - 2] = req.args.length;
          cpu.sp = sp - 1;
          break;
        }
        const data = k === -1 ? Int32Array.from([...req.cap].map((ch) => ch.codePointAt(0) as number)) : req.args[k].slice();
        if (!this.charge(GAS[op] + wordGas(data.length))) return Step.Gas;
        if (data.length - held > cpu.memFree) {
          cpu.gas += GAS[op] + wordGas(data.length);
          cpu.need = data.length - held;
          return Step.Mem;
        }
        this.fillInbox(d, data);
        s[sp - 2] = data.length;
        cpu.sp = sp - 1;
        break;
      }
    }
    cpu.pc += 1;
    return Step.Continue;
  }

  private restore(d: Process): Step {
    const cpu = this.cpu;
    const s = cpu.stack;
    const sp = cpu.sp;
    const ptr = s[sp - 2];
    const len = s[sp - 1];
    if (len < 0 || ptr < 0 || ptr + len > cpu.memSize) return this.fault("mem_bounds", `image bytes at ${ptr}, ${len} long`);
    if (!this.images) return this.fault("bad_image", "no image codec in this runtime");
    const gas = GAS[Op.RESTORE] + byteGas(len);
    if (!this.charge(gas)) return Step.Gas;
    const bytes = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const w = cpu.mem[ptr + i];
      if (w < 0 || w > 255) {
        cpu.gas += gas;
        return this.fault("bad_image", `word ${i} is not a byte (${w})`);
      }
      bytes[i] = w;
    }
    let tree: Process;
    try {
      tree = this.images.decode(bytes, this);
    } catch (e) {
      if (!(e instanceof RarError)) throw e;
      cpu.gas += gas;
      return this.fault("bad_image", e.message);
    }
    // Depth and authority are re-derived from the new position in the tree.
    let deepestDepth = 0;
    const stack: Process[] = [tree];
    while (stack.length > 0) {
      const p = stack.pop() as Process;
      const parentCaps = p === tree ? d.caps : (p.parent as Process).caps;
      p.depth = p === tree ? d.depth + 1 : (p.parent as Process).depth + 1;
      p.caps = intersectGrants(p.caps, parentCaps);
      if (p.depth > deepestDepth) deepestDepth = p.depth;
      for (const c of p.children.values()) stack.push(c);
    }
    if (deepestDepth > this.maxDepth) {
      cpu.gas += gas;
      return this.fault("depth_limit", `restored tree reaches depth ${deepestDepth}`);
    }
    if (tree.memUsed > cpu.memFree) {
      cpu.gas += gas;
      cpu.need = tree.memUsed;
      return Step.Mem;
    }
    cpu.memFree -= tree.memUsed;
    const h = d.nextHandle++;
    tree.parent = d;
    tree.handle = h;
    tree.invalidatePaths();
    d.children.set(h, tree);
    s[sp - 2] = h;
    cpu.sp = sp - 1;
    cpu.pc += 1;
    return Step.Continue;
  }

  /** Capability names selected by a bitmask over d's manifest; for grants, d must hold each. */
  private capSet(d: Process, mask: number, mustHold: boolean): string[] | string {
    if (mask === 0) return NO_CAPS;
    const names: string[] = [];
    const manifest = d.module.caps;
    for (let i = 0; i < 32; i++) {
      if ((mask & (1 << i)) === 0) continue;
      const name = manifest[i];
      if (name === undefined) return `capability bit ${i} is not in the manifest`;
      const family = capFamily(name);
      if (!mustHold) {
        names.push(family);
        continue;
      }
      // A child receives exactly the parent's grants of that family (same scopes, never wider).
      const held = d.caps.filter((c) => capFamily(c) === family);
      if (held.length === 0) return `cannot grant ${name}: not held`;
      names.push(...held);
    }
    const set = [...new Set(names)].sort();
    // Everything the parent holds: share its array (grant arrays are replaced, never mutated).
    if (mustHold && set.length === d.caps.length) return d.caps;
    return this.shared(set);
  }

  /**
   * One array per distinct set of names (sorted), so that siblings given the
   * same grants share it, and with it the scopes cached for it (scopesOf):
   * the host holds nothing per child for them. Bounded: the table is dropped
   * when full (sets made before stay valid: they are never mutated).
   */
  private shared(names: string[]): string[] {
    // JSON: unambiguous whatever the names contain (a NARROW'd scope may hold any code point).
    const key = JSON.stringify(names);
    const known = this.grantSets.get(key);
    if (known) return known;
    if (this.grantSets.size >= GRANT_SETS) this.grantSets.clear();
    this.grantSets.set(key, names);
    return names;
  }

  private loadCode(words: Int32Array): Module | string {
    const bytes = new Uint8Array(words.length);
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (w < 0 || w > 255) return `word ${i} is not a byte (${w})`;
      bytes[i] = w;
    }
    try {
      const m = verify(decodeModule(bytes, "spawned code"));
      // Known modules are shared; guest-made code goes to a small bounded cache, never the shared map,
      // so spawning ever-new code cannot pin host memory (processes keep their own reference).
      const known = this.modules.get(m.digest) ?? this.codeCache.get(m.digest);
      if (known) return known;
      if (this.codeCache.size >= CODE_CACHE) this.codeCache.delete(this.codeCache.keys().next().value as string);
      this.codeCache.set(m.digest, m);
      return m;
    } catch (e) {
      if (e instanceof RarError) return e.message;
      throw e;
    }
  }

  private narrow(d: Process): Step {
    const cpu = this.cpu;
    const s = cpu.stack;
    const sp = cpu.sp;
    const c = this.child(d, s[sp - 3]);
    const ptr = s[sp - 2];
    const len = s[sp - 1];
    if (!c) return this.fault("bad_handle", `handle ${s[sp - 3]}`);
    if (len < 0 || len > 4096 || ptr < 0 || ptr + len > cpu.memSize) return this.fault("mem_bounds", `scope of ${len} at ${ptr}`);
    const family = capFamily(d.module.caps[d.module.code[cpu.pc + 1]]);
    const held = c.caps.filter((x) => capFamily(x) === family).map(capScope);
    let text = "";
    for (let i = 0; i < len; i++) text += String.fromCodePoint(Math.max(0, Math.min(0x10ffff, cpu.mem[ptr + i])));
    // The new scope must lie within one of the child's current scopes; the first that contains it wins.
    const scope = held
      .filter((h) => h !== "")
      .map((h) => ({ h, n: resolveScope(h, text) }))
      .find(({ h, n }) => scopeWithin(n, h));
    if (!scope) return this.fault("cap_denied", `cannot narrow ${family} to '${text}': not within a held scope`);
    // Defense in depth for host directories: where the new scope exists (or its deepest existing
    // ancestor), its real path must stay inside the held one's. Calls check the whole chain again.
    if (isPathScoped(family) && !realScopeWithin(scope.n, scope.h))
      return this.fault("cap_denied", `cannot narrow ${family} to '${text}': its real path leaves the held scope`);
    const grant = `${family}:${scope.n}`;
    if (grant.length > GRANT_MAX) return this.fault("cap_denied", `cannot narrow ${family}: the scope is longer than ${GRANT_MAX - family.length - 1}`);
    if (!this.charge(GAS[Op.NARROW] + wordGas(len))) return Step.Gas;
    c.caps = this.shared([...c.caps.filter((x) => capFamily(x) !== family), grant].sort());
    cpu.sp = sp - 3;
    cpu.pc += 2;
    return Step.Continue;
  }

  private capCall(d: Process): Step {
    const cpu = this.cpu;
    const code = d.module.code;
    const pc = cpu.pc;
    const name = familiesOf(d.module)[code[pc + 1]];
    const n = code[pc + 2];
    const s = cpu.stack;
    const argBase = cpu.sp - n;
    const trapped = d.traps.includes(name);
    const scopes = scopesOf(d.caps, name);
    const handler = this.caps.get(name);
    if (!trapped && (scopes.length === 0 || !handler)) return this.fault("cap_denied", name);
    // Without a host signature (trapped, unknown to the host) every word is an int argument.
    const sig = handler?.sig ?? { args: new Array<"int">(n).fill("int"), result: "int" as const };
    if (argWords(sig) !== n) return this.fault("bad_arg", `${name} takes ${argWords(sig)} argument words, got ${n}`);
    const args: CapValue[] = [];
    let words = 0;
    for (let i = 0, k = argBase; i < sig.args.length; i++) {
      if (sig.args[i] === "int") {
        args.push(s[k++]);
        words += 1;
      } else {
        const ptr = s[k++];
        const len = s[k++];
        if (len < 0 || ptr < 0 || ptr + len > cpu.memSize)
          return this.fault("mem_bounds", `${name} argument ${i}: ${len} words at ${ptr}`);
        args.push(cpu.mem.slice(ptr, ptr + len));
        words += len;
      }
    }
    const gas = GAS[Op.CAP] + wordGas(words);
    if (!this.charge(gas)) return Step.Gas;
    // A trapped request stays with the caller until it is answered: charged like an inbox.
    const held = trapped ? words + sig.args.length * REQUEST_ARG_WORDS : 0;
    if (held > cpu.memFree) {
      cpu.gas += gas;
      cpu.need = held;
      return Step.Mem;
    }
    cpu.sp = argBase;
    cpu.pc = pc + 3;
    if (trapped) {
      cpu.memFree -= held;
      this.leave(d);
      d.status = StatusCode.CAP_CALL;
      d.request = { cap: name, args: args.map((a) => (typeof a === "number" ? Int32Array.of(a) : a)) };
      d.answer = 0;
      return Step.Stop;
    }
    let result: CapValue | Promise<CapValue>;
    try {
      // What the caller can receive: its headroom plus the inbox a result replaces (as deliver() checks).
      const maxWords = Math.min(cpu.memFree + (d.inbox?.length ?? 0), RESULT_MAX);
      result = (handler as NonNullable<typeof handler>).call(args, new CallContext(d, name, scopes, maxWords, this.hostGrants));
    } catch (e) {
      // A handler refusing a call (bad path, scope escape, ...) faults the caller, not the host.
      return this.fault("cap_failed", `${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (result instanceof Promise) {
      this.leave(d);
      this.pending = { proc: d, promise: result, cap: name, args };
      return Step.Pending;
    }
    return this.deliver(d, name, args, result);
  }

  /** Pushes a capability result; an array goes to the inbox (charged) and its length is pushed. */
  private deliver(d: Process, cap: string, args: CapValue[], raw: CapValue): Step {
    const cpu = this.cpu;
    let result: CapValue;
    try {
      // A host handler may return anything; only an int or an array of words reaches the guest.
      result = normalizeResult(cap, raw);
    } catch (e) {
      return this.fault("cap_failed", (e as Error).message);
    }
    if (typeof result === "number") {
      cpu.stack[cpu.sp++] = result | 0;
    } else {
      // normalizeResult made the copy the guest owns; the handler keeps no handle on it.
      const grow = result.length - (d.inbox?.length ?? 0);
      // The host call already happened, so this cannot be retried: over budget is a fault.
      // (Handlers refuse such results before allocating them, from CapContext.maxWords; this guards the rest.)
      if (grow > cpu.memFree) return this.fault("cap_failed", `${cap}: result of ${result.length} words exceeds memory headroom`);
      this.fillInbox(d, result);
      cpu.stack[cpu.sp++] = result.length;
    }
    this.onCapCall?.({ path: d.path, cap, args, result });
    return Step.Continue;
  }
}

// Capability calls are frequent: the family of each manifest entry and the
// scopes of each grant set are computed once (grant arrays are replaced,
// never mutated, so the array identifies the set).
const FAMILIES = new WeakMap<Module, string[]>();
const SCOPES = new WeakMap<readonly string[], Map<string, string[]>>();

function familiesOf(m: Module): string[] {
  let f = FAMILIES.get(m);
  if (!f) FAMILIES.set(m, (f = m.caps.map(capFamily)));
  return f;
}

/**
 * The context of one host capability call. The chain's scopes are gathered
 * only when a handler reads them (scoped handlers do; io.print does not).
 */
class CallContext implements CapContext {
  private levels: (readonly string[])[] | null = null;

  constructor(
    private readonly proc: Process,
    private readonly family: string,
    readonly scopes: readonly string[],
    readonly maxWords: number,
    /** The host's own grants (Machine.hostGrants): a level above the root. */
    private readonly host: readonly string[] | null,
  ) {}

  get path(): string {
    return this.proc.path;
  }

  get chain(): readonly (readonly string[])[] {
    if (this.levels === null) {
      const levels: (readonly string[])[] = [];
      for (let q: Process | null = this.proc; q; q = q.parent) levels.push(scopesOf(q.caps, this.family));
      if (this.host !== null) levels.push(scopesOf(this.host, this.family));
      this.levels = levels.reverse();
    }
    return this.levels;
  }
}

function scopesOf(grants: readonly string[], family: string): string[] {
  let byFamily = SCOPES.get(grants);
  if (!byFamily) SCOPES.set(grants, (byFamily = new Map()));
  let scopes = byFamily.get(family);
  if (!scopes) byFamily.set(family, (scopes = Object.freeze(grants.filter((c) => capFamily(c) === family).map(capScope)) as string[]));
  return scopes;
}

/** The process control is in when `p` runs: follow the chain of waiting processes. */
export function deepest(p: Process): Process {
  let d = p;
  while (d.waiting !== 0) {
    const c = d.children.get(d.waiting);
    if (!c) throw new Error(`internal: ${d.path} waits on a missing child`);
    d = c;
  }
  return d;
}

/** Shallowest process on the chain root..d whose remaining budget is below `need`, or null if none is. */
export function lacking(d: Process, gas: boolean, need: number): Process | null {
  let found: Process | null = null;
  for (let q: Process | null = d; q; q = q.parent) {
    const left = gas ? q.gasLimit - q.gasUsed : q.memLimit - q.memUsed;
    if (left < need) found = q;
  }
  return found;
}

/** Shallowest process on the chain root..d whose remaining budget is below `need` (d itself if none is). */
export function shallowestLacking(d: Process, gas: boolean, need: number): Process {
  return lacking(d, gas, need) ?? d;
}

/**
 * The host stops a root that Machine.run left "sliced": it becomes out_of_gas
 * where it stands (everything below it frozen, as when the root's own budget
 * runs out) and a host resume continues it exactly there.
 */
export function interruptRoot(root: Process): void {
  if (root.status !== StatusCode.READY) throw new RarError("usage.not_ready", `process is ${root.statusName}`);
  root.status = StatusCode.OUT_OF_GAS;
  root.need = 0;
}

/** Makes a stopped, resumable process ready again (its parent or the host is resuming it). */
function wake(c: Process): void {
  switch (c.status) {
    case StatusCode.READY:
      return;
    case StatusCode.OUT_OF_GAS:
    case StatusCode.OUT_OF_MEM:
    case StatusCode.YIELDED:
      c.status = StatusCode.READY;
      return;
    case StatusCode.CAP_CALL: {
      // The request is answered: its charge is released from c and every ancestor (nothing is loaded now).
      const w = requestWords(c.request);
      for (let q: Process | null = c; q; q = q.parent) q.memUsed -= w;
      c.stack[c.sp++] = c.answer;
      c.request = null;
      c.status = StatusCode.READY;
      return;
    }
    default:
      throw new RarError("usage.not_resumable", `process ${c.path} is ${c.statusName}`);
  }
}

/** A refuel: raises p's limits by non-negative amounts, saturating at LIMIT_MAX (REFUEL, a host refuel, its replay). */
export function raiseLimits(p: Process, gas: number, mem: number): void {
  p.gasLimit = clampLimit(p.gasLimit + gas);
  p.memLimit = clampLimit(p.memLimit + mem);
}

function clampLimit(x: number): number {
  return Math.max(0, Math.min(LIMIT_MAX, Math.floor(x)));
}
