// A Session is what a host holds: one process tree with its machine. It runs
// the root under budgets, refuels and resumes it, and drives async capability
// calls. The CLI and the embedding API both use it.

import { CapRegistry, builtinCaps, type CapHandler, type CapValue } from "./caps/registry.js";
import type { Process, StatusName } from "./process/process.js";
import { describeFault } from "./process/report.js";
import { Machine, type CapCallEvent } from "./process/scheduler.js";
import { RarError } from "./vm/errors.js";
import type { Module } from "./vm/module.js";
import { StatusCode } from "./vm/opcodes.js";

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

  constructor(machine: Machine, root: Process) {
    this.machine = machine;
    this.root = root;
  }

  /** Starts a new tree running the module's entry function. Nothing runs until run(). */
  static start(module: Module, opts: SessionOptions = {}): Session {
    const stdout = opts.stdout ?? ((t: string) => void process.stdout.write(t));
    const machine = new Machine({
      caps: hostCaps(stdout, opts.handlers),
      maxDepth: opts.maxDepth,
      onCapCall: opts.onCapCall,
    });
    for (const m of opts.linked ?? []) machine.intern(m);
    const entry = entryIndex(module, opts.entry);
    if (module.nparams[entry] !== 0)
      throw new RarError("usage", "entry", `entry function '${module.functions[entry].name}' must take no parameters`);
    const root = machine.createRoot(
      module,
      entry,
      [],
      { gas: opts.gas ?? DEFAULT_GAS, mem: opts.mem ?? DEFAULT_MEM },
      [...(opts.caps ?? ["io.print"])],
      argsMemory(opts.args ?? []),
    );
    return new Session(machine, root);
  }

  /** Runs (or continues) the root until it stops. Throws if an async capability is pending: use runAsync. */
  run(): RunResult {
    const r = this.root.status === StatusCode.READY ? this.machine.run(this.root) : this.machine.resume(this.root);
    if (r === "pending") throw new RarError("usage", "async", "an async capability call is pending; use runAsync()");
    return this.result();
  }

  /** Like run(), but awaits async capability calls without blocking the event loop. */
  async runAsync(): Promise<RunResult> {
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
    this.root.gasLimit = Math.min(Number.MAX_SAFE_INTEGER, this.root.gasLimit + gas);
    this.root.memLimit = Math.min(Number.MAX_SAFE_INTEGER, this.root.memLimit + mem);
  }

  /** Sets the value a trapped capability call of the root returns when resumed. */
  answer(value: number): void {
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
