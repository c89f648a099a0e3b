// The Ent runtime, emitted as module functions on demand: the scratch arena,
// print formatting, and the deep copy / serialization of arrays that crosses
// process boundaries. Type-directed helpers are generated once per type.
//
// Memory layout of every process running Ent code (spec/language.md):
//   mem[0] = 0          the empty array (len 0): the zero value of array types
//   mem[1], mem[2]      the scratch arena: base address and capacity
//   mem[3..]            the heap: arrays [len, e0, e1, ...], bump-allocated by MGROW
// The arena is reused for transient data (a print line, a block of sandbox
// arguments, a serialized result), so printing in a loop does not leak.

import { Op } from "../../src/vm/opcodes.js";
import { FnEmitter, ModuleEmitter } from "../emit.js";
import type { Pos } from "./errors.js";
import { elemOf, isArray, show, type Type } from "./types.js";

/** Position given to code that has no Ent source (the runtime helpers). */
export const RUNTIME_POS: Pos = { file: "<ent runtime>", line: 0, col: 0 };

/** Words at the bottom of every Ent process's memory (see above). */
export const GLOBAL_WORDS = 3;
export const ARENA_BASE = 1;
export const ARENA_CAP = 2;
/** Smallest arena; it doubles when it grows. */
const ARENA_MIN = 64;

const CH_SPACE = 32;
const CH_COMMA = 44;
const CH_MINUS = 45;
const CH_ZERO = 48;
const CH_OPEN = 91;
const CH_CLOSE = 93;

/** Allocates `n` (on the stack) fresh zeroed words; leaves their address. */
function alloc(f: FnEmitter): void {
  f.emit(Op.MGROW);
}

/** Stack: len -> p, a new array [len, 0...] (len >= 0). */
export function emitNewArray(f: FnEmitter): void {
  f.emit(Op.DUP);
  f.emit(Op.ADDI, 1);
  alloc(f);
  f.emit(Op.SWAP);
  f.emit(Op.OVER);
  f.emit(Op.SWAP);
  f.emit(Op.STORE, 0);
}

/** Stack: len -> p, a new array holding the inbox (its length is len). */
export function emitInboxArray(f: FnEmitter): void {
  emitNewArray(f);
  f.emit(Op.DUP);
  f.emit(Op.ADDI, 1);
  f.emit(Op.INBOX);
}

/** Stack: p -> p+1 len, an array as the two words a capability argument takes. */
export function emitArrayWords(f: FnEmitter): void {
  f.emit(Op.DUP);
  f.emit(Op.ADDI, 1);
  f.emit(Op.SWAP);
  f.emit(Op.LOAD, 0);
}

export class Runtime {
  constructor(
    private readonly mod: ModuleEmitter,
    /** Manifest index of io.print (only asked for when printing). */
    private readonly printCap: () => number,
  ) {}

  private fn(key: string, nparams: number, body: (f: FnEmitter) => void): number {
    return this.mod.request(`$${key}`, `$${key}`, nparams, body, RUNTIME_POS);
  }

  /** $ensure(keep, n) -> base: an arena of at least keep+n words whose first keep words are kept. */
  ensure(): number {
    return this.fn("ensure", 2, (f) => {
      const [keep, n] = [0, 1];
      const need = f.local();
      const cap = f.local();
      const nb = f.local();
      const grow = f.label();
      f.emit(Op.LGET, keep);
      f.emit(Op.LGET, n);
      f.emit(Op.ADD);
      f.emit(Op.LTEE, need);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LOAD, ARENA_CAP);
      f.emit(Op.GT);
      f.jump(Op.JNZ, grow);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LOAD, ARENA_BASE);
      f.emit(Op.RET);
      f.bind(grow);
      // cap = max(2 * cap, need, ARENA_MIN)
      f.emit(Op.PUSH, 0);
      f.emit(Op.LOAD, ARENA_CAP);
      f.emit(Op.DUP);
      f.emit(Op.ADD);
      f.emit(Op.LSET, cap);
      this.raise(f, cap, need);
      f.emit(Op.PUSH, ARENA_MIN);
      f.emit(Op.LSET, nb);
      this.raise(f, cap, nb);
      f.emit(Op.LGET, cap);
      alloc(f);
      f.emit(Op.LSET, nb);
      f.emit(Op.LGET, nb);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LOAD, ARENA_BASE);
      f.emit(Op.LGET, keep);
      f.emit(Op.MCOPY);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LGET, nb);
      f.emit(Op.STORE, ARENA_BASE);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LGET, cap);
      f.emit(Op.STORE, ARENA_CAP);
      f.emit(Op.LGET, nb);
      f.emit(Op.RET);
    });
  }

  /** local[a] = max(local[a], local[b]) */
  private raise(f: FnEmitter, a: number, b: number): void {
    const done = f.label();
    f.emit(Op.LGET, a);
    f.emit(Op.LGET, b);
    f.emit(Op.GE);
    f.jump(Op.JNZ, done);
    f.emit(Op.LGET, b);
    f.emit(Op.LSET, a);
    f.bind(done);
  }

  /** $putc(pos, c) -> pos + 1: appends one code point to the line being printed. */
  putc(): number {
    return this.fn("putc", 2, (f) => {
      f.emit(Op.LGET, 0);
      f.emit(Op.PUSH, 1);
      f.emit(Op.CALL, this.ensure());
      f.emit(Op.LGET, 0);
      f.emit(Op.ADD);
      f.emit(Op.LGET, 1);
      f.emit(Op.STORE, 0);
      f.emit(Op.LGET, 0);
      f.emit(Op.ADDI, 1);
      f.emit(Op.RET);
    });
  }

  /** $flush(pos) -> 0: writes the arena's first pos code points as one line. */
  flush(): number {
    return this.fn("flush", 1, (f) => {
      f.emit(Op.PUSH, 0);
      f.emit(Op.LOAD, ARENA_BASE);
      f.emit(Op.LGET, 0);
      f.emit(Op.CAP, this.printCap(), 2);
      f.emit(Op.RET);
    });
  }

  /** $fmt_int(pos, v) -> pos': appends v in decimal. */
  fmtInt(): number {
    return this.fn("fmt_int", 2, (f) => {
      const [pos, v] = [0, 1];
      const b = f.local();
      const n = f.local();
      const d = f.local();
      const t = f.local();
      const nonneg = f.label();
      const count = f.label();
      const cloop = f.label();
      const ctest = f.label();
      const wloop = f.label();
      f.emit(Op.LGET, pos);
      f.emit(Op.PUSH, 11);
      f.emit(Op.CALL, this.ensure());
      f.emit(Op.LGET, pos);
      f.emit(Op.ADD);
      f.emit(Op.LSET, b);
      // n = -|v| (never overflows), with a minus sign written for v < 0
      f.emit(Op.LGET, v);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LT);
      f.jump(Op.JZ, nonneg);
      f.emit(Op.LGET, b);
      f.emit(Op.PUSH, CH_MINUS);
      f.emit(Op.STORE, 0);
      f.emit(Op.LINC, b, 1);
      f.emit(Op.LINC, pos, 1);
      f.emit(Op.LGET, v);
      f.emit(Op.LSET, n);
      f.jump(Op.JMP, count);
      f.bind(nonneg);
      f.emit(Op.LGET, v);
      f.emit(Op.NEG);
      f.emit(Op.LSET, n);
      // d = number of digits
      f.bind(count);
      f.emit(Op.LGET, n);
      f.emit(Op.LSET, t);
      f.emit(Op.PUSH, 1);
      f.emit(Op.LSET, d);
      f.jump(Op.JMP, ctest);
      f.bind(cloop);
      f.emit(Op.LGET, t);
      f.emit(Op.PUSH, 10);
      f.emit(Op.DIV);
      f.emit(Op.LSET, t);
      f.emit(Op.LINC, d, 1);
      f.bind(ctest);
      f.emit(Op.LGET, t);
      f.emit(Op.PUSH, -10);
      f.emit(Op.LE);
      f.jump(Op.JNZ, cloop);
      // digits from the last: mem[--t] = '0' - n % 10; n /= 10; until n == 0
      f.emit(Op.LGET, b);
      f.emit(Op.LGET, d);
      f.emit(Op.ADD);
      f.emit(Op.LSET, t);
      f.bind(wloop);
      f.emit(Op.LINC, t, -1);
      f.emit(Op.LGET, t);
      f.emit(Op.PUSH, CH_ZERO);
      f.emit(Op.LGET, n);
      f.emit(Op.PUSH, 10);
      f.emit(Op.REM);
      f.emit(Op.SUB);
      f.emit(Op.STORE, 0);
      f.emit(Op.LGET, n);
      f.emit(Op.PUSH, 10);
      f.emit(Op.DIV);
      f.emit(Op.LTEE, n);
      f.jump(Op.JNZ, wloop);
      f.emit(Op.LGET, pos);
      f.emit(Op.LGET, d);
      f.emit(Op.ADD);
      f.emit(Op.RET);
    });
  }

  /** $fmt<T>(pos, v) -> pos': appends v as print writes it (ints decimal, arrays [a, b]). */
  fmt(t: Type): number {
    if (!isArray(t)) return this.fmtInt();
    const elem = elemOf(t);
    return this.fn(`fmt${show(t)}`, 2, (f) => {
      const [pos, p] = [0, 1];
      const i = f.local();
      const n = f.local();
      const loop = f.label();
      const test = f.label();
      const first = f.label();
      const putc = this.putc();
      const put = (c: number): void => {
        f.emit(Op.LGET, pos);
        f.emit(Op.PUSH, c);
        f.emit(Op.CALL, putc);
        f.emit(Op.LSET, pos);
      };
      put(CH_OPEN);
      f.emit(Op.LGET, p);
      f.emit(Op.LOAD, 0);
      f.emit(Op.LSET, n);
      f.jump(Op.JMP, test);
      f.bind(loop);
      f.emit(Op.LGET, i);
      f.jump(Op.JZ, first);
      put(CH_COMMA);
      put(CH_SPACE);
      f.bind(first);
      f.emit(Op.LGET, pos);
      this.element(f, p, i);
      f.emit(Op.CALL, this.fmt(elem));
      f.emit(Op.LSET, pos);
      f.emit(Op.LINC, i, 1);
      f.bind(test);
      f.emit(Op.LGET, i);
      f.emit(Op.LGET, n);
      f.emit(Op.GE);
      f.jump(Op.JZ, loop);
      put(CH_CLOSE);
      f.emit(Op.LGET, pos);
      f.emit(Op.RET);
    });
  }

  /** Emits `for i in 0..mem[p] { body }` with i and the bound in fresh locals. */
  private each(f: FnEmitter, p: number, body: (i: number) => void): void {
    const i = f.local();
    const n = f.local();
    const loop = f.label();
    const test = f.label();
    f.emit(Op.LGET, p);
    f.emit(Op.LOAD, 0);
    f.emit(Op.LSET, n);
    f.jump(Op.JMP, test);
    f.bind(loop);
    body(i);
    f.emit(Op.LINC, i, 1);
    f.bind(test);
    f.emit(Op.LGET, i);
    f.emit(Op.LGET, n);
    f.emit(Op.GE);
    f.jump(Op.JZ, loop);
  }

  /** Stack: -> p[i] (i is in bounds by construction; ALOAD is one dispatch fewer than ADD + LOAD). */
  private element(f: FnEmitter, p: number, i: number): void {
    f.emit(Op.LGET, p);
    f.emit(Op.LGET, i);
    f.emit(Op.ALOAD);
  }

  /** $size<T>(p) -> words a deep copy of the array p takes. */
  size(t: Type): number {
    const elem = elemOf(t);
    return this.fn(`size${show(t)}`, 1, (f) => {
      const p = 0;
      f.emit(Op.LGET, p);
      f.emit(Op.LOAD, 0);
      f.emit(Op.ADDI, 1);
      if (isArray(elem)) {
        const s = f.local();
        f.emit(Op.LSET, s);
        this.each(f, p, (i) => {
          f.emit(Op.LGET, s);
          this.element(f, p, i);
          f.emit(Op.CALL, this.size(elem));
          f.emit(Op.ADD);
          f.emit(Op.LSET, s);
        });
        f.emit(Op.LGET, s);
      }
      f.emit(Op.RET);
    });
  }

  /**
   * $out<T>(p, dst, base) -> end: copies the array p deeply to dst.., in preorder
   * (an array, then each of its elements' trees), storing pointers as address - base.
   */
  out(t: Type): number {
    const elem = elemOf(t);
    return this.fn(`out${show(t)}`, 3, (f) => {
      const [p, dst, base] = [0, 1, 2];
      if (!isArray(elem)) {
        const n = f.local();
        f.emit(Op.LGET, p);
        f.emit(Op.LOAD, 0);
        f.emit(Op.ADDI, 1);
        f.emit(Op.LSET, n);
        f.emit(Op.LGET, dst);
        f.emit(Op.LGET, p);
        f.emit(Op.LGET, n);
        f.emit(Op.MCOPY);
        f.emit(Op.LGET, dst);
        f.emit(Op.LGET, n);
        f.emit(Op.ADD);
        f.emit(Op.RET);
        return;
      }
      const cur = f.local();
      f.emit(Op.LGET, dst);
      f.emit(Op.LGET, p);
      f.emit(Op.LOAD, 0);
      f.emit(Op.STORE, 0);
      f.emit(Op.LGET, dst);
      f.emit(Op.LGET, p);
      f.emit(Op.LOAD, 0);
      f.emit(Op.ADD);
      f.emit(Op.ADDI, 1);
      f.emit(Op.LSET, cur);
      this.each(f, p, (i) => {
        // dst[i] = cur - base; cur = out(p[i], cur, base)
        f.emit(Op.LGET, dst);
        f.emit(Op.LGET, i);
        f.emit(Op.LGET, cur);
        f.emit(Op.LGET, base);
        f.emit(Op.SUB);
        f.emit(Op.ASTORE);
        this.element(f, p, i);
        f.emit(Op.LGET, cur);
        f.emit(Op.LGET, base);
        f.emit(Op.CALL, this.out(elem));
        f.emit(Op.LSET, cur);
      });
      f.emit(Op.LGET, cur);
      f.emit(Op.RET);
    });
  }

  /**
   * $in<T>(cur, r, end) -> next, or -1: checks that [cur, end) holds a tree in
   * exactly the preorder layout $out writes (pointers relative to r), and
   * relocates its pointers to absolute addresses. Untrusted input: whatever
   * the words are, the result is a well-formed, unshared tree or -1.
   */
  in(t: Type): number {
    const elem = elemOf(t);
    return this.fn(`in${show(t)}`, 3, (f) => {
      const [cur, r, end] = [0, 1, 2];
      const len = f.local();
      const next = f.local();
      const bad = f.label();
      // cur < end, 0 <= len <= end - cur - 1
      f.emit(Op.LGET, cur);
      f.emit(Op.LGET, end);
      f.emit(Op.GE);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, cur);
      f.emit(Op.LOAD, 0);
      f.emit(Op.LTEE, len);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LT);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, len);
      f.emit(Op.LGET, end);
      f.emit(Op.LGET, cur);
      f.emit(Op.SUB);
      f.emit(Op.ADDI, -1);
      f.emit(Op.GT);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, cur);
      f.emit(Op.LGET, len);
      f.emit(Op.ADD);
      f.emit(Op.ADDI, 1);
      f.emit(Op.LSET, next);
      if (isArray(elem)) {
        this.each(f, cur, (i) => {
          // slot = cur + 1 + i; require r + mem[slot] == next; mem[slot] = next
          f.emit(Op.LGET, r);
          this.element(f, cur, i);
          f.emit(Op.ADD);
          f.emit(Op.LGET, next);
          f.emit(Op.NE);
          f.jump(Op.JNZ, bad);
          f.emit(Op.LGET, cur);
          f.emit(Op.LGET, i);
          f.emit(Op.LGET, next);
          f.emit(Op.ASTORE);
          f.emit(Op.LGET, next);
          f.emit(Op.LGET, r);
          f.emit(Op.LGET, end);
          f.emit(Op.CALL, this.in(elem));
          f.emit(Op.LTEE, next);
          f.emit(Op.PUSH, 0);
          f.emit(Op.LT);
          f.jump(Op.JNZ, bad);
        });
      }
      f.emit(Op.LGET, next);
      f.emit(Op.RET);
      f.bind(bad);
      f.emit(Op.PUSH, -1);
      f.emit(Op.RET);
    });
  }

  /** $copy<T>(p) -> q: a deep copy of the array p on the heap. */
  copy(t: Type): number {
    return this.fn(`copy${show(t)}`, 1, (f) => {
      const q = f.local();
      f.emit(Op.LGET, 0);
      f.emit(Op.CALL, this.size(t));
      alloc(f);
      f.emit(Op.LSET, q);
      f.emit(Op.LGET, 0);
      f.emit(Op.LGET, q);
      f.emit(Op.PUSH, 0);
      f.emit(Op.CALL, this.out(t));
      f.emit(Op.POP);
      f.emit(Op.LGET, q);
      f.emit(Op.RET);
    });
  }

  /**
   * $send<T>(p) -> b: serializes p into the arena as [S, tree...] with pointers
   * relative to b, for a parent to read with $recv (a return or yield value).
   */
  send(t: Type): number {
    return this.fn(`send${show(t)}`, 1, (f) => {
      const s = f.local();
      const b = f.local();
      f.emit(Op.LGET, 0);
      f.emit(Op.CALL, this.size(t));
      f.emit(Op.LTEE, s);
      f.emit(Op.PUSH, 0);
      f.emit(Op.SWAP);
      f.emit(Op.ADDI, 1);
      f.emit(Op.CALL, this.ensure());
      f.emit(Op.LTEE, b);
      f.emit(Op.LGET, s);
      f.emit(Op.STORE, 0);
      f.emit(Op.LGET, 0);
      f.emit(Op.LGET, b);
      f.emit(Op.ADDI, 1);
      f.emit(Op.LGET, b);
      f.emit(Op.CALL, this.out(t));
      f.emit(Op.POP);
      f.emit(Op.LGET, b);
      f.emit(Op.RET);
    });
  }

  /**
   * $recv<T>(h, b) -> p, or -1: copies the serialized value at address b of
   * child h into fresh memory and checks it ($in); -1 if it is malformed. The
   * child is untrusted: b and the size S it claims are checked against its
   * memory size (CSIZE) before anything is copied, so a claim outside the
   * child's memory is a malformed value, never a fault of the caller.
   */
  recv(t: Type): number {
    return this.fn(`recv${show(t)}`, 2, (f) => {
      const [h, b] = [0, 1];
      const s = f.local();
      const dst = f.local();
      const z = f.local();
      const bad = f.label();
      // 0 <= b < z = the child's memory size (so b + 1 cannot wrap)
      f.emit(Op.LGET, b);
      f.emit(Op.PUSH, 0);
      f.emit(Op.LT);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, h);
      f.emit(Op.CSIZE);
      f.emit(Op.LTEE, z);
      f.emit(Op.LGET, b);
      f.emit(Op.LE);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, h);
      f.emit(Op.LGET, b);
      f.emit(Op.PUSH, 0);
      f.emit(Op.PUSH, 1);
      f.emit(Op.CALL, this.ensure());
      f.emit(Op.LTEE, dst);
      f.emit(Op.PUSH, 1);
      f.emit(Op.CLOAD);
      f.emit(Op.LGET, dst);
      f.emit(Op.LOAD, 0);
      f.emit(Op.LTEE, s);
      f.emit(Op.PUSH, 1);
      f.emit(Op.LT);
      f.jump(Op.JNZ, bad);
      // S <= z - b - 1: the tree lies inside the child's memory
      f.emit(Op.LGET, s);
      f.emit(Op.LGET, z);
      f.emit(Op.LGET, b);
      f.emit(Op.SUB);
      f.emit(Op.ADDI, -1);
      f.emit(Op.GT);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, s);
      f.emit(Op.MEMLEFT);
      f.emit(Op.GT);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, s);
      alloc(f);
      f.emit(Op.LSET, dst);
      f.emit(Op.LGET, h);
      f.emit(Op.LGET, b);
      f.emit(Op.ADDI, 1);
      f.emit(Op.LGET, dst);
      f.emit(Op.LGET, s);
      f.emit(Op.CLOAD);
      f.emit(Op.LGET, dst);
      f.emit(Op.LGET, dst);
      f.emit(Op.ADDI, -1);
      f.emit(Op.LGET, dst);
      f.emit(Op.LGET, s);
      f.emit(Op.ADD);
      f.emit(Op.CALL, this.in(t));
      f.emit(Op.LGET, dst);
      f.emit(Op.LGET, s);
      f.emit(Op.ADD);
      f.emit(Op.NE);
      f.jump(Op.JNZ, bad);
      f.emit(Op.LGET, dst);
      f.emit(Op.RET);
      f.bind(bad);
      f.emit(Op.PUSH, -1);
      f.emit(Op.RET);
    });
  }

  /**
   * $text_args(p, m) -> 0: makes main's [[int]] of the root's argument block
   * p, m words long (spec/language.md "Program arguments"). Text arguments
   * ([n, offsets..., strings...]) get their offsets turned into addresses;
   * integer arguments ([n, a0, ...], m = n + 1) become their decimal texts.
   */
  textArgs(): number {
    return this.fn("text_args", 2, (f) => {
      const [p, m] = [0, 1];
      const len = f.local();
      const q = f.local();
      const ints = f.label();
      const end = f.label();
      f.emit(Op.LGET, m);
      f.emit(Op.LGET, p);
      f.emit(Op.LOAD, 0);
      f.emit(Op.ADDI, 1);
      f.emit(Op.EQ);
      f.jump(Op.JNZ, ints);
      this.each(f, p, (i) => {
        f.emit(Op.LGET, p);
        f.emit(Op.LGET, i);
        this.element(f, p, i);
        f.emit(Op.LGET, p);
        f.emit(Op.ADD);
        f.emit(Op.ASTORE);
      });
      f.jump(Op.JMP, end);
      f.bind(ints);
      this.each(f, p, (i) => {
        f.emit(Op.PUSH, 0);
        this.element(f, p, i);
        f.emit(Op.CALL, this.fmtInt());
        f.emit(Op.LTEE, len);
        emitNewArray(f);
        f.emit(Op.LTEE, q);
        f.emit(Op.ADDI, 1);
        f.emit(Op.PUSH, 0);
        f.emit(Op.LOAD, ARENA_BASE);
        f.emit(Op.LGET, len);
        f.emit(Op.MCOPY);
        f.emit(Op.LGET, p);
        f.emit(Op.LGET, i);
        f.emit(Op.LGET, q);
        f.emit(Op.ASTORE);
      });
      f.bind(end);
      f.emit(Op.PUSH, 0);
      f.emit(Op.RET);
    });
  }

  /** $request_args(h) -> [[int]]: the arguments of child h's trapped call. */
  requestArgs(): number {
    return this.fn("request_args", 1, (f) => {
      const h = 0;
      const outer = f.local();
      f.emit(Op.LGET, h);
      f.emit(Op.PUSH, -2);
      f.emit(Op.REQUEST);
      emitNewArray(f);
      f.emit(Op.LSET, outer);
      this.each(f, outer, (i) => {
        f.emit(Op.LGET, outer);
        f.emit(Op.LGET, i);
        f.emit(Op.ADD);
        f.emit(Op.LGET, h);
        f.emit(Op.LGET, i);
        f.emit(Op.REQUEST);
        emitInboxArray(f);
        f.emit(Op.STORE, 1);
      });
      f.emit(Op.LGET, outer);
      f.emit(Op.RET);
    });
  }
}
