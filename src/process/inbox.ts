// The inbox and what fills it: a process's host-side words outside its
// memory (charged as its own), filled by SNAPSHOT's image bytes, REQUEST's
// view of a child's trapped call and array results (dispatch.ts), read by
// INLEN/INBOX. Also the other ends of those: RESTORE makes a child of image
// bytes, ANSWER/ANSWERA answer a child's trapped capability call.

import { builtinSignature } from "../caps/signatures.js";
import { RarError } from "../vm/errors.js";
import { GAS, Op, StatusCode, WIDTH, byteGas, wordGas } from "../vm/opcodes.js";
import { placeRestored } from "./authority.js";
import type { Process } from "./process.js";
import { Step, charge, fault, type Scheduler, type SlowOp } from "./slow.js";

/** Replaces d's inbox with `data`, charging its words (d is the running process). An empty inbox is null: no host array. */
export function fillInbox(m: Scheduler, d: Process, data: Int32Array): void {
  m.cpu.memFree += (d.inbox?.length ?? 0) - data.length;
  d.inbox = data.length === 0 ? null : data;
}

/** INLEN. */
const inlen: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  if (!charge(cpu, GAS[op])) return Step.Gas;
  cpu.stack[cpu.sp++] = d.inbox?.length ?? 0;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** INBOX dst. */
const inbox: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const held = d.inbox?.length ?? 0;
  const dst = cpu.stack[cpu.sp - 1];
  if (dst < 0 || dst + held > cpu.memSize) return fault(cpu, "mem_bounds", `inbox of ${held} to ${dst}`);
  if (!charge(cpu, GAS[op] + wordGas(held))) return Step.Gas;
  if (d.inbox) cpu.mem.set(d.inbox, dst);
  cpu.memFree += held;
  d.inbox = null;
  cpu.sp -= 1;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** SNAPSHOT h. */
const snapshot: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const sp = cpu.sp;
  const c = d.children.get(s[sp - 1]);
  if (!c) return fault(cpu, "bad_handle", `handle ${s[sp - 1]}`);
  if (!m.images) return fault(cpu, "bad_image", "no image codec in this runtime");
  // Priced on the subtree's footprint (what encoding walks), known before any work is done.
  const gas = GAS[op] + wordGas(c.memUsed);
  if (!charge(cpu, gas)) return Step.Gas;
  const bytes = m.images.encode(c, m);
  const grow = bytes.length - (d.inbox?.length ?? 0);
  if (grow > cpu.memFree) {
    cpu.gas += gas;
    cpu.need = grow;
    return Step.Mem;
  }
  fillInbox(m, d, Int32Array.from(bytes));
  s[sp - 1] = bytes.length;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** RESTORE ptr len. */
const restore: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const sp = cpu.sp;
  const ptr = s[sp - 2];
  const len = s[sp - 1];
  if (len < 0 || ptr < 0 || ptr + len > cpu.memSize) return fault(cpu, "mem_bounds", `image bytes at ${ptr}, ${len} long`);
  if (!m.images) return fault(cpu, "bad_image", "no image codec in this runtime");
  const gas = GAS[op] + byteGas(len);
  if (!charge(cpu, gas)) return Step.Gas;
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const w = cpu.mem[ptr + i];
    if (w < 0 || w > 255) {
      cpu.gas += gas;
      return fault(cpu, "bad_image", `word ${i} is not a byte (${w})`);
    }
    bytes[i] = w;
  }
  let tree: Process;
  try {
    tree = m.images.decode(bytes, m);
  } catch (e) {
    if (!(e instanceof RarError)) throw e;
    cpu.gas += gas;
    return fault(cpu, "bad_image", e.message);
  }
  const depth = placeRestored(tree, d);
  if (depth > m.maxDepth) {
    cpu.gas += gas;
    return fault(cpu, "depth_limit", `restored tree reaches depth ${depth}`);
  }
  if (tree.memUsed > cpu.memFree) {
    cpu.gas += gas;
    cpu.need = tree.memUsed;
    return Step.Mem;
  }
  cpu.memFree -= tree.memUsed;
  const h = d.nextHandle++;
  tree.parent = d;
  tree.handle = h;
  tree.invalidatePaths();
  d.adopt(h, tree);
  s[sp - 2] = h;
  cpu.sp = sp - 1;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** Child h of d stopped in a trapped call whose result has type `type` (when the runtime knows it), or the fault. */
function asking(m: Scheduler, d: Process, h: number, type: "int" | "array"): Process | Step {
  const cpu = m.cpu;
  const c = d.children.get(h);
  if (!c) return fault(cpu, "bad_handle", `handle ${h}`);
  if (c.status !== StatusCode.CAP_CALL) return fault(cpu, "not_resumable", `child ${c.path} is ${c.statusName}, not cap_call`);
  const cap = (c.request as NonNullable<typeof c.request>).cap;
  const result = (m.caps.get(cap)?.sig ?? builtinSignature(cap))?.result;
  if (result !== undefined && result !== type)
    return fault(cpu, "bad_arg", `${cap} returns ${result === "int" ? "an int" : "an array"}; the answer is not one`);
  return c;
}

/** ANSWER h v. */
const answer: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const sp = cpu.sp;
  const c = asking(m, d, cpu.stack[sp - 2], "int");
  if (typeof c === "number") return c;
  if (!charge(cpu, GAS[op])) return Step.Gas;
  c.answer = cpu.stack[sp - 1];
  cpu.sp = sp - 2;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** ANSWERA h ptr len: the answer goes to the child's inbox; its call returns len. */
const answerArray: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const sp = cpu.sp;
  const c = asking(m, d, s[sp - 3], "array");
  if (typeof c === "number") return c;
  const ptr = s[sp - 2];
  const len = s[sp - 1];
  if (len < 0 || ptr < 0 || ptr + len > cpu.memSize) return fault(cpu, "mem_bounds", `answer of ${len} at ${ptr}`);
  const grow = len - (c.inbox?.length ?? 0);
  if (grow > c.memLimit - c.memUsed) return fault(cpu, "bad_arg", `answer of ${len} words exceeds child ${c.path}'s memory`);
  const gas = GAS[op] + wordGas(len);
  if (!charge(cpu, gas)) return Step.Gas;
  if (grow > cpu.memFree) {
    cpu.gas += gas;
    cpu.need = grow;
    return Step.Mem;
  }
  // The child's footprint grows; so do d's and its ancestors' (through memFree).
  cpu.memFree -= grow;
  c.memUsed += grow;
  c.inbox = cpu.mem.slice(ptr, ptr + len);
  c.answer = len;
  cpu.sp = sp - 3;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** REQUEST h k. */
const request: SlowOp = (m, d, op) => {
  const cpu = m.cpu;
  const s = cpu.stack;
  const sp = cpu.sp;
  const c = d.children.get(s[sp - 2]);
  const k = s[sp - 1];
  if (!c) return fault(cpu, "bad_handle", `handle ${s[sp - 2]}`);
  const req = c.request;
  if (!req) return fault(cpu, "no_result", `child ${c.path} is ${c.statusName}, not cap_call`);
  if (k < -2 || k >= req.args.length) return fault(cpu, "bad_arg", `request argument ${k} of ${req.args.length}`);
  if (k === -2) {
    if (!charge(cpu, GAS[op])) return Step.Gas;
    s[sp - 2] = req.args.length;
  } else {
    const data = k === -1 ? Int32Array.from([...req.cap].map((ch) => ch.codePointAt(0) as number)) : req.args[k].slice();
    const gas = GAS[op] + wordGas(data.length);
    if (!charge(cpu, gas)) return Step.Gas;
    const grow = data.length - (d.inbox?.length ?? 0);
    if (grow > cpu.memFree) {
      cpu.gas += gas;
      cpu.need = grow;
      return Step.Mem;
    }
    fillInbox(m, d, data);
    s[sp - 2] = data.length;
  }
  cpu.sp = sp - 1;
  cpu.pc += WIDTH[op];
  return Step.Continue;
};

/** The slow instructions of this room, by opcode. */
export const INBOX_OPS: Readonly<Record<number, SlowOp>> = {
  [Op.INLEN]: inlen,
  [Op.INBOX]: inbox,
  [Op.SNAPSHOT]: snapshot,
  [Op.RESTORE]: restore,
  [Op.ANSWER]: answer,
  [Op.ANSWERA]: answerArray,
  [Op.REQUEST]: request,
};
