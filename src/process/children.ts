// Child instructions (DESIGN §3): a parent spawns, runs, refuels, inspects,
// copies to and from, and kills its children by handle; a process yields to
// its parent and reads its own headroom.

import type { Module } from "../vm/module.js";
import { Op, GAS, SPAWN_EXTRA, StatusCode, WIDTH, byteGas, levelGas, wordGas } from "../vm/opcodes.js";
import { capSet } from "./authority.js";
import { deepest, wake } from "./control.js";
import { NO_WORDS, PROCESS_WORDS, Process, REUSE_SLACK, type RecycleBin, raiseLimits } from "./process.js";
import { Step, charge, fault, type Scheduler, type SlowOp } from "./slow.js";

function saturate(x: number): number {
  return Math.max(-0x80000000, Math.min(0x7fffffff, x));
}

/** GASLEFT, MEMLEFT: push own headroom. */
const left: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  if (!charge(cpu, GAS[op])) return Step.Gas;
  cpu.stack[cpu.sp++] = saturate(m.ownLeft(d, op === Op.GASLEFT));
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** CSIZE h. */
const csize: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const c = d.children.get(s[cpu.sp - 1]);
  if (!c) return fault(cpu, "bad_handle", `handle ${s[cpu.sp - 1]}`);
  cpu.gas -= GAS[op];
  s[cpu.sp - 1] = c.memSize;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** STATUS h. */
const status: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const c = d.children.get(s[cpu.sp - 1]);
  if (!c) return fault(cpu, "bad_handle", `handle ${s[cpu.sp - 1]}`);
  if (!charge(cpu, GAS[op])) return Step.Gas;
  s[cpu.sp - 1] = c.status;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** RESULT h. */
const result: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const c = d.children.get(s[cpu.sp - 1]);
  if (!c) return fault(cpu, "bad_handle", `handle ${s[cpu.sp - 1]}`);
  if (c.status !== StatusCode.DONE && c.status !== StatusCode.YIELDED) return fault(cpu, "no_result", `child ${c.path} is ${c.statusName}`);
  if (!charge(cpu, GAS[op])) return Step.Gas;
  s[cpu.sp - 1] = c.value;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** REFUEL h g m. */
const refuel: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const sp = cpu.sp;
  const c = d.children.get(s[sp - 3]);
  const g = s[sp - 2];
  const mem = s[sp - 1];
  if (!c) return fault(cpu, "bad_handle", `handle ${s[sp - 3]}`);
  if (g < 0 || mem < 0) return fault(cpu, "bad_arg", `refuel by ${g} gas, ${mem} words`);
  if (!charge(cpu, GAS[op])) return Step.Gas;
  raiseLimits(c, g, mem);
  cpu.sp = sp - 3;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** KILL h. */
const kill: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const sp = cpu.sp;
  const c = d.children.get(cpu.stack[sp - 1]);
  if (!c) return fault(cpu, "bad_handle", `handle ${cpu.stack[sp - 1]}`);
  if (!charge(cpu, GAS[op])) return Step.Gas;
  // Releasing the subtree's footprint from d and every ancestor of d.
  cpu.memFree += c.memUsed;
  dropChild(m, d, c);
  cpu.sp = sp - 1;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/**
 * n words from `from` at `at` to `to` at `dst` (distinct arrays). A few words
 * go one by one: a subarray of a small typed array would move it off the V8
 * heap (a GP evaluator reads every child's output area this way).
 */
function copyWords(from: Int32Array, at: number, to: Int32Array, dst: number, n: number): void {
  if (n <= 64) for (let i = 0; i < n; i++) to[dst + i] = from[at + i];
  else to.set(from.subarray(at, at + n), dst);
}

/** CLOAD h src dst n, CSTORE h dst src n. */
const copy: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const sp = cpu.sp;
  const c = d.children.get(s[sp - 4]);
  if (!c) return fault(cpu, "bad_handle", `handle ${s[sp - 4]}`);
  const a = s[sp - 3];
  const b = s[sp - 2];
  const n = s[sp - 1];
  // CLOAD: a = child src, b = own dst. CSTORE: a = child dst, b = own src.
  if (n < 0 || a < 0 || a + n > c.memSize || b < 0 || b + n > cpu.memSize)
    return fault(cpu, "mem_bounds", `copy of ${n} words between child ${c.path} at ${a} and self at ${b}`);
  if (!charge(cpu, GAS[op] + wordGas(n))) return Step.Gas;
  if (op === Op.CLOAD) copyWords(c.mem, a, cpu.mem, b, n);
  else copyWords(cpu.mem, b, c.mem, a, n);
  cpu.sp = sp - 4;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** YIELD v. */
const yieldOp: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  if (!charge(cpu, GAS[op])) return Step.Gas;
  const v = cpu.stack[--cpu.sp];
  cpu.pc += WIDTH[op];
  m.leave(d);
  d.status = StatusCode.YIELDED;
  d.value = v;
  return Step.Stop;
};

/**
 * RESUME h: control goes down to the child's deepest process. The parent's
 * pc stays at RESUME until the child stops; the scheduler then replaces the
 * handle with the status and moves the parent on. The switch there and back
 * walks the chain above that process, paid by levelGas of its depth.
 */
const resume: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const h = cpu.stack[cpu.sp - 1];
  const c = d.children.get(h);
  if (!c) return fault(cpu, "bad_handle", `handle ${h}`);
  const st = c.status;
  const final = st === StatusCode.DONE || st === StatusCode.FAULT;
  const next = final ? null : deepest(c);
  if (!charge(cpu, GAS[op] + (next === null ? 0 : levelGas(next.depth)))) return Step.Gas;
  if (next === null) {
    // Nothing to run: RESUME reports the final status at once.
    cpu.stack[cpu.sp - 1] = st;
    cpu.pc += WIDTH[op];
    return Step.Continue;
  }
  m.leave(d);
  d.waiting = h;
  wake(c, m.spare);
  m.next = next;
  return Step.Switch;
};

/**
 * SPAWN f: args.. ptr len gas mem grant trap; SPAWNC: ptr len gas mem grant
 * trap cptr clen; SPAWNX l f: ptr len gas mem grant trap. The three differ
 * only in where the child's code comes from.
 */
const spawn: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
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
  if (gasLimit < 0 || memLimit < 0) return fault(cpu, "bad_arg", `spawn with gas ${gasLimit}, mem ${memLimit}`);
  if (len < 0 || ptr < 0 || ptr + len > cpu.memSize) return fault(cpu, "mem_bounds", `spawn memory block at ${ptr}, ${len} words`);
  if (d.depth + 1 > m.maxDepth) return fault(cpu, "depth_limit", `depth ${d.depth + 1} > ${m.maxDepth}`);
  const caps = capSet(m.grantSets, d, grant, true);
  if (typeof caps === "string") return fault(cpu, "cap_denied", caps);
  const traps = capSet(m.grantSets, d, trap, false);
  if (typeof traps === "string") return fault(cpu, "bad_arg", traps);
  let module = d.module;
  let entry = 0;
  let nargs = 0;
  let codeWords = 0;
  if (op === Op.SPAWN) {
    entry = module.code[pc + 1];
    nargs = module.nparams[entry];
  } else if (op === Op.SPAWNX) {
    const linked = m.code.linked(module, module.code[pc + 1]);
    if (!linked) return fault(cpu, "bad_code", `linked module ${(module.links ?? [])[module.code[pc + 1]].slice(0, 12)} is not loaded`);
    entry = module.code[pc + 2];
    if (entry < 0 || entry >= linked.functions.length) return fault(cpu, "bad_code", `no function #${entry} in linked module`);
    module = linked;
  } else {
    const clen = s[cpu.sp - 1];
    const cptr = s[cpu.sp - 2];
    if (clen < 0 || cptr < 0 || cptr + clen > cpu.memSize) return fault(cpu, "mem_bounds", `code bytes at ${cptr}, ${clen} long`);
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
    const loaded = m.code.load(cpu.mem.subarray(cptr, cptr + codeWords));
    if (typeof loaded === "string") return fault(cpu, "bad_code", loaded);
    module = loaded;
  }
  if (op !== Op.SPAWN && module.nparams[entry] !== 0)
    return fault(cpu, "bad_code", `entry function ${module.functions[entry].name} must take no parameters`);
  cpu.gas -= gas;
  cpu.memFree -= footprint;
  const argBase = sp - SPAWN_EXTRA - nargs;
  s[argBase] = makeChild(m, d, module, entry, s, argBase, nargs, cpu.mem, ptr, len, gasLimit, memLimit, caps, traps, footprint).handle;
  cpu.sp = argBase + 1;
  cpu.pc = pc + WIDTH[op];
  return Step.Continue;
};

/**
 * A new child of d, with the next handle (SPAWN, SPAWNC, SPAWNX and the
 * host's Machine.spawnChild): running function `entry` of `module` with
 * `nargs` arguments from args[argAt..] and a copy of mem[memAt, memAt +
 * memLen) as memory, charged `footprint` words (d's chain is charged by the
 * caller). A recycled process when the machine keeps one.
 */
export function makeChild(
  m: Scheduler,
  d: Process,
  module: Module,
  entry: number,
  args: Int32Array,
  argAt: number,
  nargs: number,
  mem: Int32Array,
  memAt: number,
  memLen: number,
  gasLimit: number,
  memLimit: number,
  caps: string[],
  traps: string[],
  footprint: number,
): Process {
  const h = d.nextHandle++;
  let child = m.recycled?.take();
  if (child === undefined)
    child = new Process(
      module,
      entry,
      nargs === 0 ? NO_WORDS : args.subarray(argAt, argAt + nargs),
      memLen === 0 ? NO_WORDS : mem.slice(memAt, memAt + memLen),
      gasLimit,
      memLimit,
      caps,
      traps,
      d,
      h,
    );
  else child.reuse(module, entry, args, argAt, nargs, mem, memAt, memLen, gasLimit, memLimit, caps, traps, d, h, (m.recycled as RecycleBin).room(child, memLimit));
  child.memUsed = footprint;
  d.adopt(h, child);
  return child;
}

/**
 * Child c of d, stopped and childless, starts over (the host's
 * Machine.respawnChild): what dropChild and makeChild would make of it with
 * the same module, entry, limits and capabilities and a copy of mem[memAt,
 * memAt + memLen) as memory, without leaving d's table (it keeps its
 * handle). Charged `footprint` words (d's chain is charged by the caller).
 */
export function restartChild(m: Scheduler, d: Process, c: Process, mem: Int32Array, memAt: number, memLen: number, footprint: number): void {
  m.killed(d);
  const keep = m.recycled === null ? REUSE_SLACK : m.recycled.room(c, c.memLimit);
  c.reuse(c.module, c.entryFn, NO_WORDS, 0, 0, mem, memAt, memLen, c.gasLimit, c.memLimit, c.caps, c.traps, d, c.handle, keep);
  c.memUsed = footprint;
}

/**
 * Child c of d is killed (KILL and the host's Machine.killChild): no longer
 * d's, what the machine held of d's subtree let go, and c recycled when the
 * machine keeps killed processes. Its footprint is released by the caller.
 */
export function dropChild(m: Scheduler, d: Process, c: Process): void {
  d.children.delete(c.handle);
  c.parent = null;
  m.killed(d);
  m.recycled?.put(c);
}

/** The slow instructions of this room, by opcode. */
export const CHILD_OPS: Readonly<Record<number, SlowOp>> = {
  [Op.GASLEFT]: left,
  [Op.MEMLEFT]: left,
  [Op.CSIZE]: csize,
  [Op.STATUS]: status,
  [Op.RESULT]: result,
  [Op.REFUEL]: refuel,
  [Op.KILL]: kill,
  [Op.CLOAD]: copy,
  [Op.CSTORE]: copy,
  [Op.YIELD]: yieldOp,
  [Op.RESUME]: resume,
  [Op.SPAWN]: spawn,
  [Op.SPAWNC]: spawn,
  [Op.SPAWNX]: spawn,
};
