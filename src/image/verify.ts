// Image verification: a decoded tree is untrusted until every process is one
// that verified code could have reached under the scheduler's rules. Checked
// here, iteratively (no recursion, whatever the depth):
//
// - registers: pc at a reachable instruction of the top frame's function;
//   frames chained by return pcs that follow a CALL of the callee and by saved
//   bases; sp exactly the verified stack height for the status (after YIELD,
//   after CAP for cap_call, at RESUME when waiting on a child);
// - statuses: fault kind and request present exactly when the status says so;
//   a finished process has no frames; a process that has not started holds
//   only its arguments; a started, ready process is on a waiting chain (its
//   parent waits on it), and a waiting process waits at a RESUME of an
//   existing, ready child; the image's root is stopped or has not started;
// - budgets: memUsed is exactly the process's own footprint plus its
//   children's; used never exceeds the limit (memory: once started);
// - authority: a child's capabilities are covered by its parent's (same
//   family, a scope within one the parent holds).
//
// Every failure is a RarError("image", kind, message, "image: process P field").

import { capCovers } from "../caps/registry.js";
import { PROCESS_WORDS, STATUS_NAMES, type Process } from "../process/process.js";
import { RarError, isFaultKind, type ErrorKey } from "../vm/errors.js";
import type { Module } from "../vm/module.js";
import { Frame, Op, StatusCode, WIDTH } from "../vm/opcodes.js";

const S = StatusCode;

function fail(where: string, p: Process, field: string, kind: ErrorKey<"image">, message: string): never {
  throw new RarError(kind, message, `${where}: process ${p.path} ${field}`);
}

/** A process that has not been entered yet: no frames, never ran. */
export function notStarted(p: Process): boolean {
  return p.fp === 0 && (p.status === S.READY || p.status === S.OUT_OF_MEM);
}

function fnName(p: Process, f: number): string {
  return `${p.module.functions[f].name} (#${f})`;
}

/** Whether pc stands right after a reachable `op` of function f (which starts before it). */
function after(m: Module, f: { entry: number }, pc: number, op: number): boolean {
  const at = pc - WIDTH[op];
  return at >= f.entry && m.heights[at] >= 0 && m.code[at] === op;
}

/** Registers, frames and status fields of one process (no closures: it runs for every process of a tree). */
function checkProcess(p: Process, where: string): void {
  const m = p.module;
  const code = m.code;
  const H = m.heights;
  const st = p.status;

  if (st === S.FAULT) {
    if (p.faultKind === null || !isFaultKind(p.faultKind)) fail(where, p, "faultKind", "image.status", `'${String(p.faultKind)}' is not a fault kind`);
  } else if (p.faultKind !== null || p.faultDetail !== "") {
    fail(where, p, "faultKind", "image.status", `a fault kind or detail on a process that is ${STATUS_NAMES[st]}`);
  }
  if ((st === S.CAP_CALL) !== (p.request !== null))
    fail(where, p, "request", "image.status", st === S.CAP_CALL ? "cap_call without its request" : `a request on a process that is ${STATUS_NAMES[st]}`);

  if (p.fp === 0) {
    if (st === S.DONE) {
      const f = m.functions[p.entryFn];
      if (p.pc < f.entry || p.pc >= f.end || H[p.pc] < 0 || code[p.pc] !== Op.RET)
        fail(where, p, "pc", "image.pc", `a finished process stops at a RET of its entry function ${fnName(p, p.entryFn)}, not at pc ${p.pc}`);
      if (p.sp !== 0 || p.bp !== 0) fail(where, p, "stack", "image.stack", "a finished process has an empty stack");
    } else if (st === S.READY || st === S.OUT_OF_MEM) {
      if (p.pc !== 0 || p.bp !== 0) fail(where, p, "pc", "image.pc", "a process that has not started has pc 0 and base 0");
      const n = m.nparams[p.entryFn];
      if (p.sp !== n) fail(where, p, "stack", "image.stack", `a process that has not started holds its ${n} argument(s), not ${p.sp} words`);
      if (p.children.size > 0 || p.nextHandle !== 1) fail(where, p, "children", "image.tree", "a process that has not started has no children");
      if (p.gasUsed !== 0) fail(where, p, "gasUsed", "image.budget", "a process that has not started has used no gas");
      if (p.inbox !== null) fail(where, p, "inbox", "image.status", "a process that has not started has an empty inbox");
    } else {
      fail(where, p, "frames", "image.frames", `a process that is ${STATUS_NAMES[st]} has frames`);
    }
    if (p.waiting !== 0) fail(where, p, "waiting", "image.status", "only a started process can wait on a child");
    return;
  }

  if (st === S.DONE) fail(where, p, "frames", "image.frames", "a finished process has no frames");
  const fr = p.frames;
  if (fr[Frame.Ret] !== -1 || fr[Frame.Bp] !== 0 || fr[Frame.Fn] !== p.entryFn)
    fail(where, p, "frames", "image.frames", `the bottom frame must be [-1, 0, ${p.entryFn}], not [${fr[Frame.Ret]}, ${fr[Frame.Bp]}, ${fr[Frame.Fn]}]`);
  let bp = 0;
  let fn = p.entryFn;
  for (let k = Frame.Words; k < p.fp; k += Frame.Words) {
    const ret = fr[k + Frame.Ret];
    const saved = fr[k + Frame.Bp];
    const callee = fr[k + Frame.Fn];
    const call = ret - WIDTH[Op.CALL];
    const f = m.functions[fn];
    if (callee < 0 || callee >= m.functions.length) fail(where, p, "frames", "image.frames", `frame ${k / Frame.Words}: no function #${callee}`);
    if (call < f.entry || call >= f.end || H[call] < 0 || code[call] !== Op.CALL)
      fail(where, p, "frames", "image.frames", `frame ${k / Frame.Words}: return pc ${ret} does not follow a CALL in ${fnName(p, fn)}`);
    if (code[call + 1] !== callee) fail(where, p, "frames", "image.frames", `frame ${k / Frame.Words}: the CALL at pc ${call} calls #${code[call + 1]}, not #${callee}`);
    if (saved !== bp) fail(where, p, "frames", "image.frames", `frame ${k / Frame.Words}: saved base ${saved}, expected ${bp}`);
    bp += m.nlocals[fn] + H[call] - m.nparams[callee];
    fn = callee;
  }
  if (p.bp !== bp) fail(where, p, "bp", "image.stack", `base ${p.bp}, expected ${bp} from the frames`);
  const f = m.functions[fn];
  const pc = p.pc;
  if (pc < f.entry || pc >= f.end || H[pc] < 0) fail(where, p, "pc", "image.pc", `pc ${pc} is not a reachable instruction of ${fnName(p, fn)}`);
  let h = H[pc];
  const base = bp + m.nlocals[fn];
  if (st === S.YIELDED) {
    if (!after(m, f, pc, Op.YIELD)) fail(where, p, "pc", "image.pc", `a yielded process stands right after a YIELD, not at pc ${pc}`);
  } else if (st === S.CAP_CALL) {
    if (!after(m, f, pc, Op.CAP)) fail(where, p, "pc", "image.pc", `a process in cap_call stands right after a CAP, not at pc ${pc}`);
    h -= 1;
  } else if (st === S.FAULT) {
    // A capability call that failed after its arguments were taken faults after the CAP.
    if (p.sp === base + h - 1 && after(m, f, pc, Op.CAP)) h -= 1;
  }
  if (p.sp !== base + h) fail(where, p, "stack", "image.stack", `${p.sp} words, expected ${base + h} at pc ${pc} in ${fnName(p, fn)}`);
  if (p.waiting !== 0) {
    if (st !== S.READY && st !== S.OUT_OF_GAS && st !== S.OUT_OF_MEM)
      fail(where, p, "waiting", "image.status", `a process that is ${STATUS_NAMES[st]} cannot wait on a child`);
    if (code[pc] !== Op.RESUME || p.stack[p.sp - 1] !== p.waiting)
      fail(where, p, "waiting", "image.status", `waiting on child ${p.waiting} requires standing at a RESUME of it`);
    if (!p.children.has(p.waiting)) fail(where, p, "waiting", "image.tree", `waits on child ${p.waiting}, which does not exist`);
  }
}

const memUsedOf = (p: Process): number => p.memUsed;

/** No runs of copies. */
const NO_RUNS: readonly number[] = [];

/** The first grant of `child` that `parent` does not cover (same family, scope within one it holds), or null. */
function uncovered(child: readonly string[], parent: readonly string[]): string | null {
  for (let i = 0; i < child.length; i++) if (!capCovers(parent, child[i])) return child[i];
  return null;
}

/**
 * Verifies a decoded tree given in preorder (procs[0] is its root, which has
 * no parent). Module references, typed-array sizes and handles were checked
 * while decoding. `running`: a checkpoint's tree, whose root may stand
 * mid-run (ready, started: the run was stopped between two instructions).
 *
 * `copies` lists runs of processes decoded from records that repeat, byte
 * for byte after the handle, that of their previous sibling, a childless
 * process earlier in preorder (image/decode.ts copyOf): each run as the
 * index of its first process and the index after its last, runs in
 * increasing order. A copy's fields are that sibling's but for the handle.
 * Every check below but one reads only those fields, the parent's (the
 * same) and its children (none, as the sibling's), so its outcome is the
 * sibling's, reached first: for a copy only the check that reads its handle
 * (whether its parent waits on it) is made again.
 */
export function verifyTree(procs: readonly Process[], where: string, running = false, copies: readonly number[] | null = null): void {
  const n = procs.length;
  const runs = copies ?? NO_RUNS;
  // Each process on its own first, so an error names the process that is wrong, not a relative.
  for (let i = 0, r = 0; i < n; i++) {
    if (r < runs.length && i === runs[r]) {
      i = runs[r + 1] - 1;
      r += 2;
      continue;
    }
    checkProcess(procs[i], where);
  }
  for (let i = 0, r = 0; i < n; i++) {
    if (r < runs.length && i === runs[r]) {
      // A run of copies (siblings: a copy has no children), each checked as below, the parent's waiting read once.
      const end = runs[r + 1];
      r += 2;
      const w = (procs[i].parent as Process).waiting;
      for (; i < end; i++) {
        const p = procs[i];
        const waited = w === p.handle;
        if (waited && p.status !== S.READY) fail(where, p, "status", "image.status", `its parent waits on it, so it is ready, not ${p.statusName}`);
        if (!waited && p.status === S.READY && p.fp !== 0) fail(where, p, "status", "image.status", "a started, ready process is one its parent waits on");
      }
      i--;
      continue;
    }
    const p = procs[i];
    if (p.waiting !== 0) {
      const c = p.children.get(p.waiting) as Process;
      if (c.status !== S.READY) fail(where, p, "waiting", "image.status", `waits on child ${p.waiting}, which is ${c.statusName}, not ready`);
    }
    const parent = p.parent;
    if (parent === null) {
      if (p.status === S.READY && p.fp !== 0 && !running)
        fail(where, p, "status", "image.status", "the root of an image is stopped or has not started; it cannot be ready mid-run");
      continue;
    }
    const waited = parent.waiting === p.handle;
    if (waited && p.status !== S.READY)
      fail(where, p, "status", "image.status", `its parent waits on it, so it is ready, not ${p.statusName}`);
    if (!waited && p.status === S.READY && p.fp !== 0)
      fail(where, p, "status", "image.status", "a started, ready process is one its parent waits on");
    const extra = uncovered(p.caps, parent.caps);
    if (extra !== null) fail(where, p, "caps", "image.caps", `holds ${extra}, which its parent does not`);
  }
  // Footprints bottom-up: reversed preorder visits children before parents.
  for (let i = n - 1, r = runs.length - 2; i >= 0; i--) {
    if (r >= 0 && i === runs[r + 1] - 1) {
      i = runs[r];
      r -= 2;
      continue;
    }
    const p = procs[i];
    let words = p.ownFootprint();
    if (p.children.size > 0) words += p.children.sum(memUsedOf);
    if (p.memUsed !== words)
      fail(where, p, "memUsed", "image.budget", `footprint is ${words} words (own ${p.ownFootprint()}, ${PROCESS_WORDS} of them bookkeeping), the image says ${p.memUsed}`);
    if (p.gasUsed > p.gasLimit) fail(where, p, "gasUsed", "image.budget", `used ${p.gasUsed} gas of a limit of ${p.gasLimit}`);
    if (p.memUsed > p.memLimit && !notStarted(p))
      fail(where, p, "memUsed", "image.budget", `uses ${p.memUsed} words of a limit of ${p.memLimit}`);
  }
}
