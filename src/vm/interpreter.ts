// The hot loop. It runs one process's code against two local counters: `gas`
// and `memFree`, the smallest remaining gas and memory headroom over the whole
// ancestor chain (computed by the scheduler when control enters a process).
// Checking one counter per instruction keeps the cost independent of tree
// depth; the scheduler settles what was used into every ancestor when control
// leaves. An instruction that does not fit exits *before* it has any effect,
// with pc unchanged, so it can be retried after a refuel.
//
// Instructions that touch the process tree or the host (spawn, resume,
// capability calls, ...) are not run here: the loop exits with Exit.Slow and
// the scheduler executes them.

import { Detail, type FaultKind } from "./errors.js";
import type { Module } from "./module.js";
import { GAS, OPS, Op, wordGas } from "./opcodes.js";
import { DISPATCH_GAS, Fused } from "./quicken.js";


export const enum Exit {
  /** `need` gas did not fit; nothing happened. */
  Gas,
  /** `need` words did not fit; nothing happened. */
  Mem,
  /** The bottom frame returned `value`. */
  Done,
  /** A fault; pc is at the faulting instruction. */
  Fault,
  /** The instruction at pc must be executed by the scheduler. */
  Slow,
}

/** Registers of the running process. One Cpu is reused for every process. */
export class Cpu {
  module: Module | null = null;
  pc = 0;
  sp = 0;
  /** Base of the current frame's locals in `stack`. */
  bp = 0;
  /** Words used in `frames` (3 per frame: return pc, saved bp, function). */
  fp = 0;
  stack: Int32Array = new Int32Array(0);
  frames: Int32Array = new Int32Array(0);
  mem: Int32Array = new Int32Array(0);
  memSize = 0;
  /** Gas headroom over the chain; decremented per instruction. */
  gas = 0;
  /** Memory headroom over the chain, in words. */
  memFree = 0;
  /** Largest memory a process may have, in words (host protection). */
  memMax = 1 << 28;
  // exit details
  need = 0;
  value = 0;
  fault: FaultKind = "trap";
  /** The fault's detail: text, or a format and numbers made into text only when read (errors.ts). */
  detail = "";
  detailFormat: Detail = Detail.Text;
  detailA = 0;
  detailB = 0;
  detailC = 0;

  /** Sets the detail as a format and numbers. */
  describe(f: Detail, a: number, b: number, c: number): void {
    this.detailFormat = f;
    this.detailA = a;
    this.detailB = b;
    this.detailC = c;
  }

  /** Sets the detail as text. */
  say(text: string): void {
    this.detailFormat = Detail.Text;
    this.detail = text;
  }
}

/**
 * Grows a typed array to at least `min` entries, doubling; the cold path of
 * calls and MGROW. Starts small (16): what the host holds beyond what a
 * process is charged stays within the doubling.
 */
export function growInt32(a: Int32Array, min: number, used: number): Int32Array {
  let size = Math.max(16, a.length * 2);
  while (size < min) size *= 2;
  const b = new Int32Array(size);
  b.set(a.subarray(0, used));
  return b;
}

export function interpret(cpu: Cpu): Exit {
  const m = cpu.module as Module;
  const code = m.fast;
  const frameCost = m.frameCost;
  const callInfo = m.callInfo;
  const memMax = cpu.memMax;
  let pc = cpu.pc;
  let sp = cpu.sp;
  let bp = cpu.bp;
  let fp = cpu.fp;
  let stack = cpu.stack;
  let frames = cpu.frames;
  let mem = cpu.mem;
  let memSize = cpu.memSize;
  let gas = cpu.gas;
  let memFree = cpu.memFree;
  let exit: Exit;

  loop: for (;;) {
    let op = code[pc];
    let c = DISPATCH_GAS[op];
    if (c > gas) {
      // A fused pair that does not fit runs its first instruction alone.
      op = m.code[pc];
      c = GAS[op];
      if (c > gas) {
        cpu.need = c;
        exit = Exit.Gas;
        break;
      }
    }
    gas -= c;
    switch (op) {
      case Op.NOP:
        pc += 1;
        continue;
      case Op.PUSH:
        stack[sp++] = code[pc + 1];
        pc += 2;
        continue;
      case Op.POP:
        sp--;
        pc += 1;
        continue;
      case Op.DUP:
        stack[sp] = stack[sp - 1];
        sp++;
        pc += 1;
        continue;
      case Op.SWAP: {
        const t = stack[sp - 1];
        stack[sp - 1] = stack[sp - 2];
        stack[sp - 2] = t;
        pc += 1;
        continue;
      }
      case Op.OVER:
        stack[sp] = stack[sp - 2];
        sp++;
        pc += 1;
        continue;
      case Op.LGET:
        stack[sp++] = stack[bp + code[pc + 1]];
        pc += 2;
        continue;
      case Op.LSET:
        stack[bp + code[pc + 1]] = stack[--sp];
        pc += 2;
        continue;
      case Op.LTEE:
        stack[bp + code[pc + 1]] = stack[sp - 1];
        pc += 2;
        continue;
      case Op.LINC:
        // Int32Array stores wrap (ToInt32), which is exactly i32 arithmetic.
        stack[bp + code[pc + 1]] += code[pc + 2];
        pc += 3;
        continue;
      case Op.ADD:
        sp--;
        stack[sp - 1] += stack[sp];
        pc += 1;
        continue;
      case Op.SUB:
        sp--;
        stack[sp - 1] -= stack[sp];
        pc += 1;
        continue;
      case Op.MUL:
        sp--;
        stack[sp - 1] = Math.imul(stack[sp - 1], stack[sp]);
        pc += 1;
        continue;
      case Op.DIV:
      case Op.REM: {
        const b = stack[sp - 1];
        const a = stack[sp - 2];
        if (b === 0) {
          cpu.fault = "div_by_zero";
          cpu.describe(op === Op.DIV ? Detail.DivZero : Detail.RemZero, a, 0, 0);
          gas += c;
          exit = Exit.Fault;
          break loop;
        }
        if (op === Op.DIV) {
          if (a === -2147483648 && b === -1) {
            cpu.fault = "overflow";
            cpu.say("-2147483648 / -1");
            gas += c;
            exit = Exit.Fault;
            break loop;
          }
          stack[sp - 2] = (a / b) | 0;
        } else {
          stack[sp - 2] = b === -1 ? 0 : a % b;
        }
        sp--;
        pc += 1;
        continue;
      }
      case Op.ADDI:
        stack[sp - 1] += code[pc + 1];
        pc += 2;
        continue;
      case Op.NEG:
        stack[sp - 1] = -stack[sp - 1];
        pc += 1;
        continue;
      case Op.AND:
        sp--;
        stack[sp - 1] &= stack[sp];
        pc += 1;
        continue;
      case Op.OR:
        sp--;
        stack[sp - 1] |= stack[sp];
        pc += 1;
        continue;
      case Op.XOR:
        sp--;
        stack[sp - 1] ^= stack[sp];
        pc += 1;
        continue;
      case Op.SHL:
        sp--;
        stack[sp - 1] <<= stack[sp];
        pc += 1;
        continue;
      case Op.SHR:
        sp--;
        stack[sp - 1] >>= stack[sp];
        pc += 1;
        continue;
      case Op.SHRU:
        sp--;
        stack[sp - 1] = stack[sp - 1] >>> stack[sp];
        pc += 1;
        continue;
      case Op.NOT:
        stack[sp - 1] = ~stack[sp - 1];
        pc += 1;
        continue;
      case Op.EQ:
        sp--;
        stack[sp - 1] = stack[sp - 1] === stack[sp] ? 1 : 0;
        pc += 1;
        continue;
      case Op.NE:
        sp--;
        stack[sp - 1] = stack[sp - 1] !== stack[sp] ? 1 : 0;
        pc += 1;
        continue;
      case Op.LT:
        sp--;
        stack[sp - 1] = stack[sp - 1] < stack[sp] ? 1 : 0;
        pc += 1;
        continue;
      case Op.LE:
        sp--;
        stack[sp - 1] = stack[sp - 1] <= stack[sp] ? 1 : 0;
        pc += 1;
        continue;
      case Op.GT:
        sp--;
        stack[sp - 1] = stack[sp - 1] > stack[sp] ? 1 : 0;
        pc += 1;
        continue;
      case Op.GE:
        sp--;
        stack[sp - 1] = stack[sp - 1] >= stack[sp] ? 1 : 0;
        pc += 1;
        continue;
      case Op.EQZ:
        stack[sp - 1] = stack[sp - 1] === 0 ? 1 : 0;
        pc += 1;
        continue;
      case Op.JMP:
        pc = code[pc + 1];
        continue;
      case Op.JZ:
        pc = stack[--sp] === 0 ? code[pc + 1] : pc + 2;
        continue;
      case Op.JNZ:
        pc = stack[--sp] !== 0 ? code[pc + 1] : pc + 2;
        continue;
      case Op.CALL: {
        const f = code[pc + 1];
        const fi = f << 2; // callInfo: entry, nparams, nlocals, frameCost
        const cost = callInfo[fi + 3];
        if (cost > memFree) {
          gas += c;
          cpu.need = cost;
          exit = Exit.Mem;
          break loop;
        }
        memFree -= cost;
        const nb = sp - callInfo[fi + 1];
        const top = nb + callInfo[fi + 2];
        // frameCost >= nlocals + maxStack: enough room for the callee's whole frame.
        if (nb + cost > stack.length) stack = cpu.stack = growInt32(stack, nb + cost, sp);
        if (fp + 3 > frames.length) frames = cpu.frames = growInt32(frames, fp + 3, fp);
        for (let i = sp; i < top; i++) stack[i] = 0;
        frames[fp] = pc + 2;
        frames[fp + 1] = bp;
        frames[fp + 2] = f;
        fp += 3;
        bp = nb;
        sp = top;
        pc = callInfo[fi];
        continue;
      }
      case Op.RET: {
        const v = stack[sp - 1];
        fp -= 3;
        memFree += frameCost[frames[fp + 2]];
        sp = bp;
        bp = frames[fp + 1];
        if (fp === 0) {
          cpu.value = v;
          exit = Exit.Done;
          break loop;
        }
        pc = frames[fp];
        stack[sp++] = v;
        continue;
      }
      case Op.TRAP:
        gas += c;
        cpu.fault = "trap";
        cpu.describe(Detail.Trap, code[pc + 1], 0, 0);
        exit = Exit.Fault;
        break loop;
      case Op.MSIZE:
        stack[sp++] = memSize;
        pc += 1;
        continue;
      case Op.LOAD: {
        const a = stack[sp - 1] + code[pc + 1];
        if (a < 0 || a >= memSize) {
          cpu.fault = "mem_bounds";
          cpu.describe(Detail.Load, a, memSize, 0);
          gas += c;
          exit = Exit.Fault;
          break loop;
        }
        stack[sp - 1] = mem[a];
        pc += 2;
        continue;
      }
      case Op.STORE: {
        const a = stack[sp - 2] + code[pc + 1];
        if (a < 0 || a >= memSize) {
          cpu.fault = "mem_bounds";
          cpu.describe(Detail.Store, a, memSize, 0);
          gas += c;
          exit = Exit.Fault;
          break loop;
        }
        mem[a] = stack[sp - 1];
        sp -= 2;
        pc += 2;
        continue;
      }
      case Op.ALOAD:
      case Op.ASTORE: {
        // An array is [len, e0, e1, ...]; the index is checked against len, the address against memory.
        const w = op === Op.ASTORE ? 1 : 0;
        const a = stack[sp - 2 - w];
        const i = stack[sp - 1 - w];
        if (a < 0 || a >= memSize || i < 0 || i >= mem[a] || a + 1 + i >= memSize) {
          gas += c;
          const len = a >= 0 && a < memSize ? mem[a] : -1;
          cpu.fault = len >= 0 && (i < 0 || i >= len) ? "index_bounds" : "mem_bounds";
          if (len >= 0) cpu.describe(Detail.Index, i, len, 0);
          else cpu.describe(Detail.Array, a, memSize, 0);
          exit = Exit.Fault;
          break loop;
        }
        if (w === 1) {
          mem[a + 1 + i] = stack[sp - 1];
          sp -= 3;
        } else {
          stack[sp - 2] = mem[a + 1 + i];
          sp--;
        }
        pc += 1;
        continue;
      }
      case Op.MGROW: {
        const n = stack[sp - 1];
        if (n < 0) {
          cpu.fault = "bad_arg";
          cpu.describe(Detail.Grow, n, 0, 0);
          gas += c;
          exit = Exit.Fault;
          break loop;
        }
        const extra = wordGas(n);
        if (extra > gas) {
          gas += c;
          cpu.need = c + extra;
          exit = Exit.Gas;
          break loop;
        }
        if (n > memFree) {
          gas += c;
          cpu.need = n;
          exit = Exit.Mem;
          break loop;
        }
        if (memSize + n > memMax) {
          cpu.fault = "mem_limit";
          cpu.describe(Detail.MemLimit, memSize + n, memMax, 0);
          gas += c;
          exit = Exit.Fault;
          break loop;
        }
        gas -= extra;
        memFree -= n;
        if (memSize + n > mem.length) mem = cpu.mem = growInt32(mem, memSize + n, memSize);
        stack[sp - 1] = memSize;
        memSize += n;
        pc += 1;
        continue;
      }
      case Op.MCOPY:
      case Op.MFILL: {
        const d = stack[sp - 3];
        const s = stack[sp - 2];
        const n = stack[sp - 1];
        if (n < 0 || d < 0 || d + n > memSize || (op === Op.MCOPY && (s < 0 || s + n > memSize))) {
          cpu.fault = "mem_bounds";
          cpu.describe(op === Op.MCOPY ? Detail.Copy : Detail.Fill, n, d, memSize);
          gas += c;
          exit = Exit.Fault;
          break loop;
        }
        const extra = wordGas(n);
        if (extra > gas) {
          gas += c;
          cpu.need = c + extra;
          exit = Exit.Gas;
          break loop;
        }
        gas -= extra;
        if (op === Op.MCOPY) mem.copyWithin(d, s, s + n);
        else mem.fill(s, d, d + n);
        sp -= 3;
        pc += 1;
        continue;
      }
      // --- fused pairs (quicken.ts): operands sit where the plain pair has them
      case Fused.LGET_LGET:
        stack[sp] = stack[bp + code[pc + 1]];
        stack[sp + 1] = stack[bp + code[pc + 3]];
        sp += 2;
        pc += 4;
        continue;
      case Fused.LGET_PUSH:
        stack[sp] = stack[bp + code[pc + 1]];
        stack[sp + 1] = code[pc + 3];
        sp += 2;
        pc += 4;
        continue;
      case Fused.LGET_ADDI:
        stack[sp++] = stack[bp + code[pc + 1]] + code[pc + 3];
        pc += 4;
        continue;
      case Fused.LT_JZ:
        sp -= 2;
        pc = stack[sp] < stack[sp + 1] ? pc + 3 : code[pc + 2];
        continue;
      case Fused.LE_JZ:
        sp -= 2;
        pc = stack[sp] <= stack[sp + 1] ? pc + 3 : code[pc + 2];
        continue;
      case Fused.GT_JZ:
        sp -= 2;
        pc = stack[sp] > stack[sp + 1] ? pc + 3 : code[pc + 2];
        continue;
      case Fused.GE_JZ:
        sp -= 2;
        pc = stack[sp] >= stack[sp + 1] ? pc + 3 : code[pc + 2];
        continue;
      case Fused.EQ_JZ:
        sp -= 2;
        pc = stack[sp] === stack[sp + 1] ? pc + 3 : code[pc + 2];
        continue;
      case Fused.NE_JZ:
        sp -= 2;
        pc = stack[sp] !== stack[sp + 1] ? pc + 3 : code[pc + 2];
        continue;
      // LGET a; PUSH k | LGET b; CMP; JZ t: operands at pc+1, pc+3, target at pc+6
      case Fused.LPJ_LT:
        pc = stack[bp + code[pc + 1]] < code[pc + 3] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LPJ_LE:
        pc = stack[bp + code[pc + 1]] <= code[pc + 3] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LPJ_GT:
        pc = stack[bp + code[pc + 1]] > code[pc + 3] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LPJ_GE:
        pc = stack[bp + code[pc + 1]] >= code[pc + 3] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LPJ_EQ:
        pc = stack[bp + code[pc + 1]] === code[pc + 3] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LPJ_NE:
        pc = stack[bp + code[pc + 1]] !== code[pc + 3] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LLJ_LT:
        pc = stack[bp + code[pc + 1]] < stack[bp + code[pc + 3]] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LLJ_LE:
        pc = stack[bp + code[pc + 1]] <= stack[bp + code[pc + 3]] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LLJ_GT:
        pc = stack[bp + code[pc + 1]] > stack[bp + code[pc + 3]] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LLJ_GE:
        pc = stack[bp + code[pc + 1]] >= stack[bp + code[pc + 3]] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LLJ_EQ:
        pc = stack[bp + code[pc + 1]] === stack[bp + code[pc + 3]] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LLJ_NE:
        pc = stack[bp + code[pc + 1]] !== stack[bp + code[pc + 3]] ? pc + 7 : code[pc + 6];
        continue;
      case Fused.LGET_ADDI_CALL: {
        // LGET a; ADDI k (pc..pc+3) then CALL f at pc+4.
        const v = stack[bp + code[pc + 1]] + code[pc + 3];
        const f = code[pc + 5];
        const fi = f << 2;
        const cost = callInfo[fi + 3];
        if (cost > memFree) {
          // As the plain sequence: the LGET and ADDI happened, the CALL did not (not charged).
          stack[sp++] = v;
          pc += 4;
          gas += GAS[Op.CALL];
          cpu.need = cost;
          exit = Exit.Mem;
          break loop;
        }
        memFree -= cost;
        stack[sp++] = v;
        const nb = sp - callInfo[fi + 1];
        const top = nb + callInfo[fi + 2];
        if (nb + cost > stack.length) stack = cpu.stack = growInt32(stack, nb + cost, sp);
        if (fp + 3 > frames.length) frames = cpu.frames = growInt32(frames, fp + 3, fp);
        for (let i = sp; i < top; i++) stack[i] = 0;
        frames[fp] = pc + 6;
        frames[fp + 1] = bp;
        frames[fp + 2] = f;
        fp += 3;
        bp = nb;
        sp = top;
        pc = callInfo[fi];
        continue;
      }
      case Fused.ADD_RET: {
        sp--;
        stack[sp - 1] += stack[sp];
        const v = stack[sp - 1];
        fp -= 3;
        memFree += frameCost[frames[fp + 2]];
        sp = bp;
        bp = frames[fp + 1];
        if (fp === 0) {
          pc += 1; // rests at its RET, as after the plain pair
          cpu.value = v;
          exit = Exit.Done;
          break loop;
        }
        pc = frames[fp];
        stack[sp++] = v;
        continue;
      }
      case Fused.LGET_RET: {
        const v = stack[bp + code[pc + 1]];
        fp -= 3;
        memFree += frameCost[frames[fp + 2]];
        sp = bp;
        bp = frames[fp + 1];
        if (fp === 0) {
          // A finished process rests at its RET, exactly as after the plain pair.
          pc += 2;
          cpu.value = v;
          exit = Exit.Done;
          break loop;
        }
        pc = frames[fp];
        stack[sp++] = v;
        continue;
      }
      case Fused.LGET_LOAD: {
        const a = stack[bp + code[pc + 1]] + code[pc + 3];
        if (a < 0 || a >= memSize) {
          // Fault as the plain pair would: the LGET happened, the LOAD did not (pc at it, not charged).
          stack[sp++] = stack[bp + code[pc + 1]];
          pc += 2;
          cpu.fault = "mem_bounds";
          cpu.describe(Detail.Load, a, memSize, 0);
          gas += c - GAS[Op.LGET];
          exit = Exit.Fault;
          break loop;
        }
        stack[sp++] = mem[a];
        pc += 4;
        continue;
      }
      default:
        // Process, capability and headroom instructions: the scheduler runs them.
        gas += c;
        exit = Exit.Slow;
        break loop;
    }
  }
  cpu.pc = pc;
  cpu.sp = sp;
  cpu.bp = bp;
  cpu.fp = fp;
  cpu.memSize = memSize;
  cpu.gas = gas;
  cpu.memFree = memFree;
  return exit;
}
