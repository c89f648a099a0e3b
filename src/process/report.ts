// Human descriptions of where a process is: function, source position and the
// chain of calls, read from its frames. Used by fault messages and inspect.

import { FAULTS } from "../vm/errors.js";
import { functionAt, sourceAt } from "../vm/module.js";
import { Frame, Op, WIDTH } from "../vm/opcodes.js";
import type { Process } from "./process.js";

export interface Location {
  function: string;
  pc: number;
  /** "file:line:col" when the module has a source map. */
  source?: string;
}

export function locate(p: Process, pc: number): Location {
  const m = p.module;
  const f = functionAt(m, pc);
  const src = sourceAt(m, pc);
  return {
    function: f >= 0 ? m.functions[f].name : "?",
    pc,
    source: src ? `${src.file}:${src.line}:${src.col}` : undefined,
  };
}

/** The call chain of p, innermost first. Empty for a process that has not started or has finished. */
export function callChain(p: Process): Location[] {
  const chain: Location[] = [];
  if (p.fp === 0) return chain;
  chain.push(locate(p, p.pc));
  // frames[k + Frame.Ret] holds the return pc into the caller of frame k / Frame.Words.
  for (let k = p.fp - Frame.Words; k > 0; k -= Frame.Words) chain.push(locate(p, p.frames[k + Frame.Ret] - WIDTH[Op.CALL]));
  return chain;
}

export function formatLocation(l: Location): string {
  return `${l.function}${l.source ? ` (${l.source})` : ` @${l.pc}`}`;
}

/** Callers named in a fault line at most: a guest recursion 50,000 calls deep is one short line, not a megabyte. */
const CALLERS_SHOWN = 12;
/** Of those, the outermost ones (the rest are the innermost). */
const OUTER_SHOWN = 2;

/** "f (a.ent:3:1) <- g (a.ent:9:5) <- ...", the middle elided when there are more than CALLERS_SHOWN. */
function callersText(callers: readonly Location[]): string {
  if (callers.length <= CALLERS_SHOWN) return callers.map(formatLocation).join(" <- ");
  const inner = callers.slice(0, CALLERS_SHOWN - OUTER_SHOWN).map(formatLocation);
  const outer = callers.slice(callers.length - OUTER_SHOWN).map(formatLocation);
  return [...inner, `… ${callers.length - CALLERS_SHOWN} more …`, ...outer].join(" <- ");
}

/** One line for a fault: kind, detail, process path, function, source line, callers. */
export function describeFault(p: Process): string {
  const kind = p.faultKind ?? "trap";
  const chain = callChain(p);
  const where = chain.length > 0 ? ` in ${formatLocation(chain[0])}` : "";
  const callers = chain.length > 1 ? `; called from ${callersText(chain.slice(1))}` : "";
  const detail = p.faultDetail && p.faultDetail !== FAULTS[kind] ? `: ${p.faultDetail}` : "";
  return `fault ${kind} (${FAULTS[kind]}${detail}) in process ${p.path}${where}${callers}`;
}
