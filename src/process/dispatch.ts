// Capability calls (CAP, DESIGN §4): a call is trapped for the parent to
// answer, refused, or passed to the host's handler with the caller's scopes;
// its result (now, or when an async handler's promise settles) is delivered
// onto the stack or into the inbox.

import { RESULT_MAX, argWords, capFamily, capScope, normalizeResult, type CapContext, type CapValue } from "../caps/registry.js";
import type { Module } from "../vm/module.js";
import { GAS, Op, StatusCode, WIDTH, wordGas } from "../vm/opcodes.js";
import { fillInbox } from "./inbox.js";
import { isTreeCall, treeCall } from "./files.js";
import { REQUEST_ARG_WORDS, type Process } from "./process.js";
import { Step, charge, fault, type Scheduler, type SlowOp } from "./slow.js";

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

function scopesOf(grants: readonly string[], family: string): string[] {
  let byFamily = SCOPES.get(grants);
  if (!byFamily) SCOPES.set(grants, (byFamily = new Map()));
  let scopes = byFamily.get(family);
  if (!scopes) byFamily.set(family, (scopes = Object.freeze(grants.filter((c) => capFamily(c) === family).map(capScope)) as string[]));
  return scopes;
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
    readonly signal: AbortSignal | undefined,
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

/** CAP c n. */
const capCall: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const code = d.module.code;
  const pc = cpu.pc;
  const name = familiesOf(d.module)[code[pc + 1]];
  const n = code[pc + 2];
  const s = cpu.stack;
  const argBase = cpu.sp - n;
  const trapped = d.traps.includes(name);
  const scopes = scopesOf(d.caps, name);
  const handler = m.caps.get(name);
  if (!trapped && (scopes.length === 0 || !handler)) return fault(cpu, "cap_denied", name);
  // Without a host signature (trapped, unknown to the host) every word is an int argument.
  const sig = handler?.sig ?? { args: new Array<"int">(n).fill("int"), result: "int" as const };
  if (argWords(sig) !== n) return fault(cpu, "bad_arg", `${name} takes ${argWords(sig)} argument words, got ${n}`);
  const args: CapValue[] = [];
  let words = 0;
  for (let i = 0, k = argBase; i < sig.args.length; i++) {
    if (sig.args[i] === "int") {
      args.push(s[k++]);
      words += 1;
    } else {
      const ptr = s[k++];
      const len = s[k++];
      if (len < 0 || ptr < 0 || ptr + len > cpu.memSize) return fault(cpu, "mem_bounds", `${name} argument ${i}: ${len} words at ${ptr}`);
      args.push(cpu.mem.slice(ptr, ptr + len));
      words += len;
    }
  }
  const gas = GAS[op] + wordGas(words);
  if (!charge(cpu, gas)) return Step.Gas;
  // A trapped request stays with the caller until it is answered: charged like an inbox.
  const held = trapped ? words + sig.args.length * REQUEST_ARG_WORDS : 0;
  if (held > cpu.memFree) {
    cpu.gas += gas;
    cpu.need = held;
    return Step.Mem;
  }
  cpu.sp = argBase;
  cpu.pc = pc + WIDTH[op];
  if (trapped) {
    cpu.memFree -= held;
    m.leave(d);
    d.status = StatusCode.CAP_CALL;
    d.request = { cap: name, args: args.map((a) => (typeof a === "number" ? Int32Array.of(a) : a)) };
    d.answer = 0;
    return Step.Stop;
  }
  let result: CapValue | Promise<CapValue>;
  // What the caller can receive: its headroom plus the inbox a result replaces (as deliver() checks).
  const maxWords = Math.min(cpu.memFree + (d.inbox?.length ?? 0), RESULT_MAX);
  let hostArgs = args;
  if (isTreeCall(name, args)) {
    // The process tree's own files: state, not a host input (files.ts); a mount goes on to the host.
    const t = treeCall(m, d, name, args, maxWords);
    if ("result" in t) return deliver(m, d, name, args, t.result);
    if ("refused" in t) return fault(cpu, "cap_failed", `${name}: ${t.refused}`);
    hostArgs = t.host;
  }
  try {
    result = (handler as NonNullable<typeof handler>).call(hostArgs, new CallContext(d, name, scopes, maxWords, m.hostGrants, m.signal));
  } catch (e) {
    // A handler refusing a call (bad path, scope escape, ...) faults the caller, not the host.
    return fault(cpu, "cap_failed", `${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (result instanceof Promise) {
    m.leave(d);
    m.pending = { proc: d, promise: result, cap: name, args };
    return Step.Pending;
  }
  return deliver(m, d, name, args, result);
};

/**
 * Pushes a capability result for d, the running process (its call already
 * happened); an array goes to the inbox (charged) and its length is pushed.
 */
export function deliver(m: Scheduler, d: Process, cap: string, args: CapValue[], raw: CapValue): Step {
  const cpu = m.cpu;
  let result: CapValue;
  try {
    // A host handler may return anything; only an int or an array of words reaches the guest.
    result = normalizeResult(cap, raw);
  } catch (e) {
    return fault(cpu, "cap_failed", (e as Error).message);
  }
  if (typeof result === "number") {
    cpu.stack[cpu.sp++] = result | 0;
  } else {
    // normalizeResult made the copy the guest owns; the handler keeps no handle on it.
    const grow = result.length - (d.inbox?.length ?? 0);
    // The host call already happened, so this cannot be retried: over budget is a fault.
    // (Handlers refuse such results before allocating them, from CapContext.maxWords; this guards the rest.)
    if (grow > cpu.memFree) return fault(cpu, "cap_failed", `${cap}: result of ${result.length} words exceeds memory headroom`);
    fillInbox(m, d, result);
    cpu.stack[cpu.sp++] = result.length;
  }
  m.onCapCall?.({ path: d.path, cap, args, result });
  return Step.Continue;
}

/** The slow instructions of this room, by opcode. */
export const DISPATCH_OPS: Readonly<Record<number, SlowOp>> = {
  [Op.CAP]: capCall,
};
