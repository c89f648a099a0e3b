// A Session is what a host holds: one process tree with its machine. It runs
// the root under budgets, refuels and resumes it, and drives async capability
// calls. The CLI and the embedding API both use it.

import { builtinCaps } from "./caps/builtins.js";
import { CapRegistry, type CapHandler, type CapValue } from "./caps/registry.js";
import type { Process, StatusName } from "./process/process.js";
import { describeFault } from "./process/report.js";
import { Machine, type CapCallEvent } from "./process/scheduler.js";
import { RarError } from "./vm/errors.js";
import type { Module } from "./vm/module.js";
import { StatusCode } from "./vm/opcodes.js";
import { decodeFor, imageCodec, resolverOf } from "./image/codec.js";
import { hex, stateDigest } from "./image/digest.js";
import { encodeImage } from "./image/encode.js";
import { ImageHistory } from "./image/history.js";
import { CallCounters, builtinRegistry, fdLines, mockHandler } from "./caps/builtins.js";
import { KvStore } from "./caps/kv.js";
import { applyGrants, negotiate, policyFromJson, policyToJson, type Policy } from "./caps/policy.js";
import { Recorder } from "./trace/recorder.js";
import { Trace, callCounts, traceFromWire, traceToWire } from "./trace/trace.js";

/** Default root budgets (CLI.md): bounded unless the user asks for more. */
export const DEFAULT_GAS = 10_000_000;
export const DEFAULT_MEM = 1_048_576;

export interface SessionOptions {
  /** Root gas limit. Default 10_000_000. */
  gas?: number;
  /** Root memory limit in words. Default 1_048_576. */
  mem?: number;
  /** Entry function name. Default `main`, else the module's first function. */
  entry?: string;
  /** Integers for main(args): placed in the root's memory at address 0 as [n, a0, ..., an-1]. */
  args?: readonly number[];
  /** Capabilities granted to the root. Default: io.print. */
  caps?: readonly string[];
  /** Where io.print writes. Default: process.stdout. */
  stdout?: (text: string) => void;
  /** Extra host capabilities by name. */
  handlers?: Readonly<Record<string, CapHandler>>;
  /** Maximum process tree depth. Default 4096. */
  maxDepth?: number;
  /** Called for every capability call answered by the host. */
  onCapCall?: (event: CapCallEvent) => void;
  /** Modules the entry module links (untrusted imports). */
  linked?: readonly Module[];
  /**
   * The root's policy (caps/policy.ts loadPolicy): its grants replace `caps`,
   * its mocks and seed configure the built-ins, and negotiation runs first:
   * a capability of the module's manifest that is not granted throws
   * RarError("policy") before anything runs. Restored from the trace on fromImage.
   */
  policy?: Policy;
  /** Where io.read reads lines from. Default: the process's stdin. */
  stdin?: () => string | null;
  /** Record the trace (DESIGN §5). Default true. */
  record?: boolean;
}

/** What a run ended with. */
export interface RunResult {
  status: StatusName;
  /** done(value) or yielded(value). */
  value?: number;
  /** One line describing a fault: kind, process path, function, source line, callers. */
  fault?: string;
  gasUsed: number;
  gasLimit: number;
  memUsed: number;
  memLimit: number;
}

export function entryIndex(module: Module, entry?: string): number {
  const name = entry ?? "main";
  const i = module.functions.findIndex((f) => f.name === name);
  if (i >= 0) return i;
  if (entry !== undefined) throw new RarError("usage", "entry", `no function named '${entry}'`);
  return 0;
}

/** The root's initial memory for main(args): one array [n, a0, ..., an-1] at address 0. */
export function argsMemory(args: readonly number[]): Int32Array {
  const mem = new Int32Array(args.length + 1);
  mem[0] = args.length;
  for (let i = 0; i < args.length; i++) mem[i + 1] = args[i];
  return mem;
}

export function hostCaps(stdout: (text: string) => void, handlers: Readonly<Record<string, CapHandler>> = {}): CapRegistry {
  const reg = builtinCaps({ stdout });
  for (const name of Object.keys(handlers).sort()) reg.register(name, handlers[name]);
  return reg;
}

export class Session {
  readonly machine: Machine;
  readonly root: Process;
  /** Initial state, policy and trace: what images of this tree carry besides the tree. */
  readonly history: ImageHistory;
  /** The run's trace (null when recording is off). */
  trace: Trace | null = null;
  /** The policy the root was started under, if the host gave one. */
  policy: Policy | null = null;
  private recorder: Recorder | null = null;

  constructor(machine: Machine, root: Process, history: ImageHistory = ImageHistory.start(root)) {
    this.machine = machine;
    this.root = root;
    this.history = history;
  }

  private static machine(opts: SessionOptions): Machine {
    const machine = new Machine({
      // Filled by attachHost (built-ins, policy, host handlers, recorder).
      caps: new CapRegistry(),
      maxDepth: opts.maxDepth,
      onCapCall: opts.onCapCall,
      images: imageCodec,
    });
    for (const m of opts.linked ?? []) machine.intern(m);
    return machine;
  }

  /** Starts a new tree running the module's entry function. Nothing runs until run(). */
  static start(module: Module, opts: SessionOptions = {}): Session {
    const machine = Session.machine(opts);
    const entry = entryIndex(module, opts.entry);
    if (module.nparams[entry] !== 0)
      throw new RarError("usage", "entry", `entry function '${module.functions[entry].name}' must take no parameters`);
    const grants = opts.policy ? [...opts.policy.grants] : [...(opts.caps ?? ["io.print"])];
    if (opts.policy) negotiate(module, grants);
    const root = machine.createRoot(
      module,
      entry,
      [],
      { gas: opts.gas ?? DEFAULT_GAS, mem: opts.mem ?? DEFAULT_MEM },
      grants,
      argsMemory(opts.args ?? []),
    );
    const s = new Session(machine, root);
    s.attachHost(opts, opts.policy ?? null, opts.record === false ? null : new Trace());
    s.recordStart(opts.args ?? [], opts.linked ?? []);
    return s;
  }

  /** The trace's start event (host-given arguments and conditions), then the initial limits as the host's first refuel. */
  private recordStart(args: readonly number[], linked: readonly Module[]): void {
    const rec = this.recorder;
    if (!rec) return;
    const { machine, root } = this;
    rec.start({
      module: root.module.digest,
      linked: [...new Set(linked.map((m) => m.digest))].sort(),
      entry: root.entryFn,
      args: Int32Array.from(args),
      grants: root.caps,
      host: machine.caps.names().map((name) => ({ name, sig: machine.caps.get(name)?.sig ?? { args: [], result: "int" } })),
      policy: this.policy ? policyToJson(this.policy) : "",
      maxDepth: machine.maxDepth,
      memMax: machine.cpu.memMax,
    });
    // Limits are the host's (from zero): left out of the execution-state digest.
    rec.refuel(root.gasLimit, root.memLimit);
  }

  /**
   * Fills the machine's capability registry: the built-ins (configured by the
   * policy's seed, kv store and mocks), then the host's own handlers, each
   * wrapped by the recorder when a trace is kept. Counters of the virtual
   * clock, generator and mocks continue from the trace.
   */
  private attachHost(opts: SessionOptions, policy: Policy | null, trace: Trace | null): void {
    this.policy = policy;
    this.trace = trace;
    const counters = new CallCounters();
    if (trace) for (const [family, n] of callCounts(trace)) counters.set(family, n);
    const stdout = opts.stdout ?? ((t: string) => void process.stdout.write(t));
    let stdin = opts.stdin;
    if (!stdin) {
      let lines: ((max?: number) => string | null) | null = null;
      stdin = (max?: number) => (lines ??= fdLines(0))(max);
    }
    const source = builtinRegistry({
      io: { stdout, stdin },
      seed: policy?.seed ?? 0,
      counters,
      kv: new KvStore(policy?.kv),
    });
    for (const family of Object.keys(policy?.mocks ?? {}).sort())
      source.register(family, mockHandler(family, (policy as Policy).mocks[family], counters));
    for (const name of Object.keys(opts.handlers ?? {}).sort()) source.register(name, (opts.handlers as Record<string, CapHandler>)[name]);
    const target = this.machine.caps;
    if (trace) {
      this.recorder = new Recorder(trace);
      this.recorder.install(source, target);
      this.history.trace = traceToWire(trace);
    } else {
      for (const name of source.names()) target.register(name, source.get(name) as CapHandler);
    }
  }

  /**
   * Narrows the root's grants (e.g. `rar resume --deny`): `grants` replace
   * them and every descendant keeps only what its parent still holds. The
   * caller checks `grants` never widen (caps/policy.ts narrowGrants). Recorded.
   */
  narrow(grants: readonly string[]): void {
    this.recorder?.narrow(grants);
    applyGrants(this.root, grants);
  }

  /** Records a host resume if the root can run (ready or stopped resumably). */
  private recordResume(): void {
    const st = this.root.status;
    if (st !== StatusCode.DONE && st !== StatusCode.FAULT && !this.machine.pending) this.recorder?.resume();
  }

  /**
   * Continues a tree from image bytes (untrusted: fully verified first; a bad
   * image throws a RarError naming what and where). The budgets, entry and
   * arguments come from the image; the other options are as for start().
   */
  static fromImage(bytes: Uint8Array, opts: SessionOptions & { where?: string } = {}): Session {
    const machine = Session.machine(opts);
    const img = decodeFor(bytes, machine, opts.where);
    const s = new Session(machine, img.root, ImageHistory.of(img.meta));
    const where = `${opts.where ?? "image"}: trace`;
    const trace = opts.record === false ? null : traceFromWire(img.meta.trace, where);
    const first = trace && trace.length > 0 ? trace.at(0) : null;
    const recorded = first?.kind === "start" && first.policy !== "" ? policyFromJson(first.policy, where) : null;
    s.attachHost(opts, recorded ?? opts.policy ?? null, trace);
    // An image without a history (a guest snapshot) starts one here; it cannot be replayed from before.
    if (trace && trace.length === 0) s.recordStart([], []);
    return s;
  }

  /** The canonical image of the whole tree (the root stopped or not started yet). */
  snapshot(): Uint8Array {
    if (this.machine.pending) throw new RarError("usage", "pending", "cannot snapshot while an async capability call is pending");
    const resolve = resolverOf(this.machine);
    return encodeImage(this.root, this.history.meta(resolve), resolve);
  }

  /** Hex execution-state digest: the tree and trace without limits or host refuel/resume events (DESIGN §6). */
  digest(): string {
    return hex(stateDigest(this.root, this.history.trace, resolverOf(this.machine)));
  }

  /** Runs (or continues) the root until it stops. Throws if an async capability is pending: use runAsync. */
  run(): RunResult {
    this.recordResume();
    const r = this.root.status === StatusCode.READY ? this.machine.run(this.root) : this.machine.resume(this.root);
    if (r === "pending") throw new RarError("usage", "async", "an async capability call is pending; use runAsync()");
    return this.result();
  }

  /** Like run(), but awaits async capability calls without blocking the event loop. */
  async runAsync(): Promise<RunResult> {
    this.recordResume();
    let r = this.root.status === StatusCode.READY ? this.machine.run(this.root) : this.machine.resume(this.root);
    while (r === "pending") {
      const pend = this.machine.pending;
      if (!pend) break;
      let value: CapValue | Error;
      try {
        value = await pend.promise;
      } catch (e) {
        value = e instanceof Error ? e : new Error(String(e));
      }
      r = this.machine.settlePending(this.root, value);
    }
    return this.result();
  }

  /** Raises the root's limits (a host refuel). */
  refuel(gas: number, mem = 0): void {
    if (!(gas >= 0 && mem >= 0)) throw new RarError("usage", "refuel", "refuel amounts must be >= 0");
    this.recorder?.refuel(gas, mem);
    this.root.gasLimit = Math.min(Number.MAX_SAFE_INTEGER, this.root.gasLimit + gas);
    this.root.memLimit = Math.min(Number.MAX_SAFE_INTEGER, this.root.memLimit + mem);
  }

  /** Sets the value a trapped capability call of the root returns when resumed. */
  answer(value: number): void {
    this.recorder?.answer(value);
    this.root.answer = value | 0;
  }

  result(): RunResult {
    const p = this.root;
    const st = p.status;
    return {
      status: p.statusName,
      value: st === StatusCode.DONE || st === StatusCode.YIELDED ? p.value : undefined,
      fault: st === StatusCode.FAULT ? describeFault(p) : undefined,
      gasUsed: p.gasUsed,
      gasLimit: p.gasLimit,
      memUsed: p.memUsed,
      memLimit: p.memLimit,
    };
  }
}
