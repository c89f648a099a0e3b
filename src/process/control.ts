// Control transfer along the active chain, apart from the run loop and its
// counters (scheduler.ts). Control is always in the deepest process D of the
// chain root..D, every ancestor waiting in a RESUME: finding D, finding who
// on the chain lacks a budget, waking a stopped process, completing a
// parent's RESUME, entering a fresh process.

import { RarError } from "../vm/errors.js";
import type { Cpu } from "../vm/interpreter.js";
import { FRAME_WORDS, Frame, Op, StatusCode, WIDTH } from "../vm/opcodes.js";
import { FIRST_FRAMES, requestWords, type Process, type SpareBuffers } from "./process.js";

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

/** Makes a stopped, resumable process ready again (its parent or the host is resuming it); buffers it needs come from `spare`. */
export function wake(c: Process, spare: SpareBuffers | null = null): void {
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
      c.own(spare);
      c.stack[c.sp++] = c.answer;
      c.request = null;
      c.status = StatusCode.READY;
      return;
    }
    default:
      throw new RarError("usage.not_resumable", `process ${c.path} is ${c.statusName}`);
  }
}

/** Completes the RESUME `stopped`'s parent waits in (its handle operand becomes the status); returns the parent. */
export function completeResume(stopped: Process, spare: SpareBuffers | null = null): Process {
  const parent = stopped.parent as Process;
  parent.own(spare);
  parent.stack[parent.sp - 1] = stopped.status;
  parent.pc += WIDTH[Op.RESUME];
  parent.waiting = 0;
  return parent;
}

/**
 * First entry of a fresh process, loaded into `cpu`: push the bottom frame
 * (charged like a call, less the arguments it holds already: they become its
 * first locals). False, with cpu.need set, when the memory counter lacks it.
 */
export function enterFresh(cpu: Cpu, p: Process): boolean {
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
    // The arguments word by word: a subarray of the small array holding them would move it off the V8 heap.
    const s = new Int32Array(top);
    const old = cpu.stack;
    for (let i = 0; i < cpu.sp; i++) s[i] = old[i];
    cpu.stack = s;
  }
  // Room for a few frames before the interpreter first grows it.
  if (cpu.frames.length < FRAME_WORDS) cpu.frames = new Int32Array(FIRST_FRAMES);
  // Locals past the arguments start at zero (a loop: fill() is a slow call for a few words).
  const stack = cpu.stack;
  for (let i = cpu.sp, n = m.nlocals[f]; i < n; i++) stack[i] = 0;
  cpu.frames[Frame.Ret] = -1;
  cpu.frames[Frame.Bp] = 0;
  cpu.frames[Frame.Fn] = f;
  cpu.fp = FRAME_WORDS;
  cpu.bp = 0;
  cpu.sp = m.nlocals[f];
  cpu.pc = m.entries[f];
  return true;
}
