// The recorder puts a run's nondeterministic inputs into its trace: the
// host's own actions (one method per kind of events.ts) as the Session
// performs them, and every capability call the host answers or refuses.
//
// Capability calls are recorded by wrapping each host handler rather than
// from the Machine's onCapCall hook: the hook only sees calls that delivered
// a result, while a handler that throws (a refused fs path, say) also decides
// what the guest observes (a cap_failed fault with that message) and must be
// replayed too. The wrapper also normalizes what a handler returns (an int is
// truncated to a word, an array copied) so that the recorded result is
// exactly what the guest receives, and turns a malformed result into a
// refusal instead of a host crash.

import { CapRegistry, normalizeResult, type CapContext, type CapHandler, type CapValue } from "../caps/registry.js";
import type { StartEvent } from "./events.js";
import type { Trace } from "./store.js";

const NO_ARGS: readonly CapValue[] = Object.freeze([]);

function copyArgs(args: readonly CapValue[]): readonly CapValue[] {
  const n = args.length;
  if (n === 0) return NO_ARGS;
  const out = new Array<CapValue>(n);
  for (let i = 0; i < n; i++) {
    const a = args[i];
    out[i] = typeof a === "number" ? a : a.slice();
  }
  return out;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Records a call's non-int (or async) result, or its failure, as an ordinary event. */
function recordResult(
  trace: Trace,
  cap: string,
  path: string,
  args: readonly CapValue[],
  r: CapValue | Promise<CapValue>,
): CapValue | Promise<CapValue> {
  const fail = (e: unknown): never => {
    trace.push({ kind: "cap_error", path, cap, args, error: message(e) });
    throw e instanceof Error ? e : new Error(String(e));
  };
  const settle = (v: unknown): CapValue => {
    let result: CapValue;
    try {
      result = normalizeResult(cap, v);
    } catch (e) {
      return fail(e);
    }
    trace.push({ kind: "cap", path, cap, args, result });
    return result;
  };
  return r instanceof Promise ? r.then(settle, fail) : settle(r);
}

export class Recorder {
  constructor(readonly trace: Trace) {}

  /** A handler that records each call of `inner` (named `cap`) before its result reaches the guest. */
  wrap(cap: string, inner: CapHandler): CapHandler {
    const trace = this.trace;
    if (inner.sig.result === "int" && inner.sig.args.every((a) => a === "int")) return this.wrapInts(cap, inner);
    return {
      sig: inner.sig,
      call(args: CapValue[], ctx: CapContext): CapValue | Promise<CapValue> {
        const path = ctx.path;
        // Record the arguments before the handler runs (it may mutate its copies): int-only
        // calls compactly in the trace itself, others as copies.
        const mark = trace.beginIntCall(path, cap, args);
        const copied = mark >= 0 ? null : copyArgs(args);
        let r: CapValue | Promise<CapValue>;
        try {
          r = inner.call(args, ctx);
          if (!(r instanceof Promise)) r = normalizeResult(cap, r);
        } catch (e) {
          trace.push({ kind: "cap_error", path, cap, args: copied ?? trace.intCallArgs(mark), error: message(e) });
          throw e;
        }
        if (mark >= 0 && typeof r === "number") {
          trace.commitIntCall(mark, r);
          return r;
        }
        // Otherwise an ordinary event (an uncommitted mark is simply overwritten later).
        return recordResult(trace, cap, path, copied ?? trace.intCallArgs(mark), r);
      },
    };
  }

  /**
   * The common case, ints in and an int out (known from the signature), with
   * nothing checked per call that the signature already says. A handler that
   * breaks its signature (async or array result) is recorded the general way,
   * from the result it already gave: a host call never runs twice.
   */
  private wrapInts(cap: string, inner: CapHandler): CapHandler {
    const trace = this.trace;
    const capId = trace.stringId(cap);
    // Calls mostly come from the same process again: keep its path's id.
    let lastPath = "";
    let lastPathId = trace.stringId(lastPath);
    return {
      sig: inner.sig,
      call(args: CapValue[], ctx: CapContext): CapValue | Promise<CapValue> {
        const path = ctx.path;
        if (path !== lastPath) {
          lastPath = path;
          lastPathId = trace.stringId(path);
        }
        const mark = trace.beginIds(lastPathId, capId, args as number[]);
        let r: CapValue | Promise<CapValue>;
        try {
          r = inner.call(args, ctx);
        } catch (e) {
          trace.push({ kind: "cap_error", path, cap, args: trace.intCallArgs(mark), error: message(e) });
          throw e;
        }
        if (typeof r === "number") {
          r |= 0;
          trace.commitIntCall(mark, r);
          return r;
        }
        return recordResult(trace, cap, path, trace.intCallArgs(mark), r);
      },
    };
  }

  /** Registers every handler of `source` into `target`, wrapped. */
  install(source: CapRegistry, target: CapRegistry): CapRegistry {
    for (const name of source.names()) target.register(name, this.wrap(name, source.get(name) as CapHandler));
    return target;
  }

  start(e: Omit<StartEvent, "kind">): void {
    this.trace.push({ kind: "start", ...e });
  }

  refuel(gas: number, mem: number): void {
    this.trace.push({ kind: "refuel", gas, mem });
  }

  /** `by`: who ran the root from here (a cluster worker), when the host names itself. */
  resume(by?: string): void {
    this.trace.push(by === undefined ? { kind: "resume" } : { kind: "resume", by });
  }

  interrupt(gas: number): void {
    this.trace.push({ kind: "interrupt", gas });
  }

  answer(value: number): void {
    this.trace.push({ kind: "answer", value: value | 0 });
  }

  narrow(grants: readonly string[]): void {
    this.trace.push({ kind: "narrow", grants: [...grants] });
  }

  /** The host's answer to a prompt for `cap` (caps/prompt.ts), before the call it decides. */
  prompt(path: string, cap: string, allowed: boolean): void {
    this.trace.push({ kind: "prompt", path, cap, allowed: allowed ? 1 : 0 });
  }

  /** A call refused before reaching its handler (a grant refused at a prompt). */
  refused(path: string, cap: string, args: readonly CapValue[], error: string): void {
    this.trace.push({ kind: "cap_error", path, cap, args: copyArgs(args), error });
  }
}
