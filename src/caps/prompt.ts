// The "prompt" verdict (DESIGN §4): a policy may name capabilities the host
// asks about at their first use instead of granting or denying them upfront
// (`"prompt": ["net.fetch:http://127.0.0.1:8080", "env.get:HOME"]`, or
// `--prompt CAP`). The root holds a prompted grant, so negotiation passes;
// its first call is held until the host answers (SessionOptions.onPrompt; the
// CLI asks on the terminal). The answer holds for the rest of the session:
// an allowed grant is not asked about again, a refused one is refused again
// without asking. A refusal faults the caller cap_failed, like any refused
// call. Each answer is a `prompt` event in the trace, before the call it
// decided, so a replay reproduces it without asking anyone.
//
// What a call is asked about is the grant it exercises: the family for an
// unscoped one, `family:real` for a real clock or generator, `family:KEY`
// for an environment variable, `family:ORIGIN` for the origin of a URL.
// Directory and prefix scopes are not prompted for (a policy naming one is
// refused): they cover many paths, and asking once would grant them all.

import type { CapContext, CapHandler, CapValue } from "./registry.js";
import { codePointsToText } from "./registry.js";
import type { ScopeKind } from "./signatures.js";

/** Scope kinds a prompt may name. */
export const PROMPTABLE: ReadonlySet<ScopeKind> = new Set(["none", "real", "key", "origin"]);

/** Asks the host whether `cap` may be used by the process at `path`. */
export type AskHost = (cap: string, path: string) => boolean | Promise<boolean>;

/** Where a gate records what the host decided. */
export interface PromptRecord {
  /** The host's answer for `cap`, asked for the process at `path`. */
  verdict(path: string, cap: string, allowed: boolean): void;
  /** A call refused because its grant was refused at a prompt. */
  refused(path: string, cap: string, args: readonly CapValue[], error: string): void;
}

/** The grant a call of `family` exercises, as a prompt names it. */
export function promptSubject(family: string, kind: ScopeKind, args: readonly CapValue[], ctx: CapContext): string {
  switch (kind) {
    case "real":
      return ctx.scopes.includes("real") ? `${family}:real` : family;
    case "key":
      return `${family}:${codePointsToText(args[0] as Int32Array)}`;
    case "origin":
      try {
        return `${family}:${new URL(codePointsToText(args[0] as Int32Array)).origin}`;
      } catch {
        return family; // not a URL: the handler refuses it, nothing to ask
      }
    default:
      return family;
  }
}

/** The message of a call refused at a prompt. */
export const refusedText = (cap: string): string => `the host refused ${cap} at the prompt`;

/**
 * `inner` behind a prompt: calls whose subject is in `prompted` wait for the
 * host's answer the first time, then keep it (`decided` is shared by the
 * session's gates). Other calls go straight through.
 */
export function promptGate(
  family: string,
  kind: ScopeKind,
  inner: CapHandler,
  prompted: ReadonlySet<string>,
  decided: Map<string, boolean>,
  ask: AskHost,
  record: PromptRecord | null,
): CapHandler {
  return {
    sig: inner.sig,
    call(args: CapValue[], ctx: CapContext): CapValue | Promise<CapValue> {
      const cap = promptSubject(family, kind, args, ctx);
      if (!prompted.has(cap)) return inner.call(args, ctx);
      const go = (allowed: boolean): CapValue | Promise<CapValue> => {
        if (allowed) return inner.call(args, ctx);
        const error = refusedText(cap);
        record?.refused(ctx.path, family, args, error);
        throw new Error(error);
      };
      const known = decided.get(cap);
      if (known !== undefined) return go(known);
      const settle = (answer: unknown): CapValue | Promise<CapValue> => {
        const allowed = answer === true;
        decided.set(cap, allowed);
        record?.verdict(ctx.path, cap, allowed);
        return go(allowed);
      };
      let answer: boolean | Promise<boolean>;
      try {
        answer = ask(cap, ctx.path);
      } catch {
        answer = false; // a host that cannot answer refuses
      }
      return answer instanceof Promise ? answer.then(settle, () => settle(false)) : settle(answer);
    },
  };
}
