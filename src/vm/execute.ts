// Tiering: every module starts in the interpreter; once it has used enough
// gas (the machine's TieringOptions.warmGas) it is compiled (jit.ts) and its
// hot code runs as JavaScript. Both tiers have the same observable behaviour
// to the instruction: their cases and blocks are translated from the same
// instruction rows (semantics.ts), and tests run programs both ways and
// compare every state. Where compiled code stops for an instruction it does
// not run, the interpreter runs instructions one at a time until the next
// block start, then the compiled code takes over again.
//
// Tiering state is host-side only: gas, memory, faults and images are the
// same whichever tier ran, so a guest cannot observe it. The options belong
// to the machine (passed to execute); what a module has run and its compiled
// code are kept here, in a WeakMap keyed by the module, beside the verified
// Module, which stays plain immutable data that knows nothing of the tiers.
// Compiled code is the same whichever machine compiled it, so machines share it.

import { type Cpu, Exit, interpret } from "./interpreter.js";
import { STOP, compileModule, type Compiled } from "./jit.js";
import type { Module } from "./module.js";
import { GAS } from "./opcodes.js";
import type { TieringOptions } from "./tiering.js";

/** Gas of each stint (one entry into the module's code) that does not count towards warming it up. */
const STINT_FREE = 10_000;

/**
 * Warm-up gas per code word: compiling takes 2-5 µs of host time per word
 * (the most for code cut into many small blocks) that no gas pays for, so a
 * large module must first have run about as long interpreted (gas costs 3-7
 * ns) as compiling it will take.
 */
const WARM_GAS_PER_WORD = 1024;

/** Per-module tiering state, created when the module first runs (tierOf). */
export class Tier {
  /** Gas run interpreted so far in long stints (beyond STINT_FREE each). */
  warmed = 0;
  /** The compiled module once hot; null while warming or when nothing compiles. */
  compiled: Compiled | null = null;
  /** True once compiling was tried (successfully or not). */
  tried = false;
}

const tiers = new WeakMap<Module, Tier>();

/**
 * Whether this host lets code be generated from strings: false once compiling
 * threw an EvalError (node --disallow-code-generation-from-strings), a fact
 * of the host process that no option changes; then nothing is compiled again.
 */
let codegen = true;

/** A module's tiering state: how warm it is, its compiled code once hot. */
export function tierOf(m: Module): Tier {
  let t = tiers.get(m);
  if (t === undefined) {
    t = new Tier();
    tiers.set(m, t);
  }
  return t;
}

/** Gas module m must run interpreted, in long stints, before it is compiled under `opts`. */
function warmGasOf(opts: TieringOptions, m: Module): number {
  return opts.warmGas <= 0 ? 0 : Math.max(opts.warmGas, m.code.length * WARM_GAS_PER_WORD);
}

/** Runs the loaded process like interpret(), in whichever tier its module is, as `opts` allow. */
export function execute(cpu: Cpu, opts: TieringOptions): Exit {
  if (!opts.enabled || !codegen) return interpret(cpu);
  const m = cpu.module as Module;
  const t = tierOf(m);
  if (t.compiled !== null) return runCompiled(cpu, t.compiled);
  if (t.tried) return interpret(cpu);
  const left = warmGasOf(opts, m) - t.warmed;
  if (left > 0) {
    // Only long stints warm a module up: compiled code pays off in loops, not
    // in many short runs (a GP candidate runs a few hundred gas per case).
    const g = cpu.gas;
    const window = left + STINT_FREE;
    if (g <= window) {
      const exit = interpret(cpu);
      const used = g - cpu.gas;
      if (used > STINT_FREE) t.warmed += used - STINT_FREE;
      return exit;
    }
    // More gas than the window: run at most the window, then compile if it ran out.
    cpu.gas = window;
    const exit = interpret(cpu);
    const used = window - cpu.gas;
    cpu.gas = g - used;
    if (used > STINT_FREE) t.warmed += used - STINT_FREE;
    // Refused only by the window (the real counter has what it needs): compile and go on.
    if (exit !== Exit.Gas || cpu.need > cpu.gas) return exit;
  }
  t.tried = true;
  t.compiled = compileOrNull(m);
  if (t.compiled === null) return interpret(cpu);
  // Just compiled: no block has run yet, so there is none to step to.
  return runCompiled(cpu, t.compiled, false);
}

/** Compiles, or gives null where the host forbids generating code from strings. */
function compileOrNull(m: Module): Compiled | null {
  try {
    return compileModule(m);
  } catch (e) {
    if (!(e instanceof EvalError)) throw e;
    codegen = false;
    return null;
  }
}

/** Instructions interpreted at most, on entering compiled code, to reach a block it has run before. */
const STEP_TO_SEEN = 512;

function runCompiled(cpu: Cpu, c: Compiled, stepToSeen = true): Exit {
  // Entered at a block its chunk has never dispatched to (a run resumed where gas stopped it, say):
  // a few instructions interpreted first usually reach one it has, so V8 need not deoptimize the chunk.
  if (stepToSeen && c.seen[c.leader[cpu.pc] + 1] === 0 && c.chunkOf[cpu.pc] >= 0) {
    for (let n = 0; n < STEP_TO_SEEN && c.seen[c.leader[cpu.pc] + 1] === 0; n++) {
      const e = stepToBlock(cpu, c);
      if (e !== STOP) return e;
      if (c.chunkOf[cpu.pc] < 0) break;
    }
  }
  for (;;) {
    const k = c.chunkOf[cpu.pc];
    if (k < 0) return interpret(cpu); // a function too large to compile
    const exit = c.warmed[k] >= CHUNK_WARM_GAS ? c.chunks[k](cpu) : warmCall(cpu, c, k);
    if (exit !== STOP) return exit;
    // Stopped in another chunk's code (or a function left uncompiled): go there.
    // Otherwise the interpreter runs what the chunk would not.
    if (c.chunkOf[cpu.pc] !== k) continue;
    const e = stepToBlock(cpu, c);
    if (e !== STOP) return e;
  }
}

/**
 * Gas a chunk runs in short calls before it is called without limit. V8
 * collects type feedback for a function only once it has run a while (about
 * 8 times its bytecode), and optimizes a long-running one while that call
 * still runs: the code then compiled for entering the chunk would have no
 * feedback for its first lines, deoptimize on the next call and leave every
 * later call to start unoptimized (a run of fannkuch or n-body 30-45 %
 * slower, as chance has it). Short calls first, then one that enters again,
 * give those lines their feedback before V8 compiles them.
 */
export const CHUNK_WARM_GAS = 200_000;
/** Warm-up counted for a short call at least, so there are at most 64 (a block too costly for what is left cannot hold it up). */
const WARM_CALL_MIN = CHUNK_WARM_GAS / 64;

/**
 * Calls chunk k with at most the gas it has left to warm up: where that runs
 * out, the chunk stops before a block as anywhere else (nothing of that block
 * charged), and runCompiled goes on with the whole counter.
 */
function warmCall(cpu: Cpu, c: Compiled, k: number): number {
  const g = cpu.gas;
  const window = Math.min(g, CHUNK_WARM_GAS - c.warmed[k]);
  cpu.gas = window;
  const exit = c.chunks[k](cpu);
  const used = window - cpu.gas;
  cpu.gas = g - used;
  c.warmed[k] += Math.max(used, WARM_CALL_MIN);
  return exit;
}

/**
 * Interprets one instruction at a time (shrinking the gas counter to its cost,
 * as step mode does) until the pc is at a block start or in a function left
 * uncompiled, or something stops.
 */
function stepToBlock(cpu: Cpu, compiled: Compiled): number {
  const m = cpu.module as Module;
  do {
    const g = cpu.gas;
    const c = GAS[m.code[cpu.pc]];
    if (c > g) return interpret(cpu); // refused, exactly as the interpreter refuses it
    let w = c;
    cpu.gas = w;
    let exit = interpret(cpu);
    if (exit === Exit.Gas && cpu.gas === w && cpu.need > w) {
      // Nothing ran: a bulk instruction needs more than its base gas. Give it that, if there is that much.
      if (cpu.need > g) {
        cpu.gas = g;
        return Exit.Gas;
      }
      w = cpu.need;
      cpu.gas = w;
      exit = interpret(cpu);
    }
    cpu.gas = g - (w - cpu.gas);
    if (exit !== Exit.Gas) return exit;
    if (cpu.need > cpu.gas) return Exit.Gas; // the next instruction is refused for real
    // At a block start the compiled code goes on; in a function left uncompiled, the interpreter.
  } while (compiled.leader[cpu.pc] < 0 && compiled.chunkOf[cpu.pc] >= 0);
  return STOP;
}
